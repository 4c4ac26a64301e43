"""Display versions of rendered passes: tone-mapped radiance, colour-coded geometry.

Used by ``render-scene.py --png`` and by the contact sheets of ``preview-scenes.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np

from ..passes import SHADING_PASSES
from .png import linear_to_srgb, tonemap, write_png

#: passes shown as radiance (tone-mapped)
_RADIANCE = set(SHADING_PASSES)
#: passes holding unit vectors
_DIRECTIONS = {"normal", "mirror", "mirror_normal"}
#: passes holding world positions
_POSITIONS = {"position", "mirror_hit"}


def visualize_pass(name: str, image: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Map one rendered pass ``(H, W, C)`` to a displayable RGB float32 ``(H, W, 3)`` in [0, 1]:
    radiance is tone-mapped; directions map [-1, 1] -> [0, 1]; positions and depth are
    normalised per image (near = bright); ids get distinct colours; others are grey."""
    img = np.nan_to_num(np.asarray(image, dtype=np.float64))
    if img.ndim == 2:
        img = img[..., None]
    if name in _RADIANCE:
        out = tonemap(img, exposure)
    elif name in _DIRECTIONS:
        out = 0.5 * img + 0.5
    elif name in _POSITIONS:
        lo, hi = img.min(axis=(0, 1)), img.max(axis=(0, 1))
        out = (img - lo) / np.maximum(hi - lo, 1e-6)
    elif name == "depth":
        d = img[..., 0]
        valid = d > 0
        far = d[valid].max() if valid.any() else 1.0
        out = np.where(valid, 1.0 - 0.85 * d / far, 0.0)[..., None]
    elif name == "id":
        # golden-ratio hues: neighbouring ids get very different colours
        v = img[..., 0]
        hue = (v * 97.0 * 0.618034) % 1.0
        k = (np.array([5.0, 3.0, 1.0]) + hue[..., None] * 6.0) % 6.0
        rgb = 1.0 - 0.8 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
        out = np.where((v > 0)[..., None], rgb, 0.0)
    elif name == "albedo":
        out = linear_to_srgb(img)
    else:
        out = img
    out = np.asarray(out, dtype=np.float64)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def write_pass_previews(prefix: str, passes: Dict[str, np.ndarray]) -> List[Path]:
    """Write ``<prefix>.<pass>.png`` for every pass; returns the paths."""
    return [Path(write_png(f"{prefix}.{name}.png", visualize_pass(name, img))) for name, img in passes.items()]

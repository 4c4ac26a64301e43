"""Contact sheets of random scenes: rows are scenes, columns are passes, ready to view as PNG."""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence

import numpy as np

from ..io.png import linear_to_srgb, tonemap
from ..passes import check_passes
from . import make_randomizer

#: passes shown as radiance (tone-mapped)
_RADIANCE = {"beauty", "direct", "indirect", "diffuse", "specular"}
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


def tile(rows: Sequence[Sequence[np.ndarray]], gap: int = 2, background: float = 0.12) -> np.ndarray:
    """Arrange equally sized RGB images ``rows[r][c]`` ``(h, w, 3)`` in a grid with ``gap`` pixels
    of ``background`` between and around them -> float32 ``(H, W, 3)``."""
    h, w = rows[0][0].shape[:2]
    ncols = max(len(r) for r in rows)
    sheet = np.full((gap + len(rows) * (h + gap), gap + ncols * (w + gap), 3), background, np.float32)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = gap + i * (h + gap), gap + j * (w + gap)
            sheet[y:y + h, x:x + w] = img
    return sheet


def contact_sheet(dataset: str, count: int = 6, size: int = 96, spp: int = 16, seed: int = 0,
                  passes: Iterable[str] = ("beauty", "normal", "albedo", "depth"), exposure: float = 1.0,
                  threads: int = 0, progress: bool = False, renderer=None,
                  options: Optional[Dict] = None) -> np.ndarray:
    """Render ``count`` random scenes of ``dataset`` and return a contact sheet float32
    ``(H, W, 3)`` in [0, 1]: one row per scene, one column per pass of ``passes``."""
    passes = check_passes(passes, "passes")
    if renderer is None:
        from ..render import Renderer
        renderer = Renderer(threads=threads)
    rz = make_randomizer(dataset, seed, **(options or {}))
    rows = []
    it = range(int(count))
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"rendering {dataset}", unit="scene")
    for i in it:
        if i:
            rz.random_scene()
        renderer.load_scene(rz.to_json())
        out = renderer.render(size=int(size), spp=int(spp), seed=int(seed) * 1000 + i, passes=passes)
        rows.append([visualize_pass(p, out[p], exposure) for p in passes])
    return tile(rows)

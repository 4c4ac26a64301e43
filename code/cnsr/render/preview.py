"""Display versions of passes for quick looks (PNG previews of ``render-scene.py``)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np

from ..passes import SHADING_PASSES

#: Passes holding unit vectors, shown as (v + 1) / 2.
DIRECTION_PASSES = ("normal", "mirror", "mirror_normal")
#: Passes holding world positions or distances, shown normalised to their range.
RANGE_PASSES = ("position", "mirror_hit", "depth")


def pass_preview(name: str, img: np.ndarray) -> np.ndarray:
    """(H, W, C) pass -> displayable (H, W, 3) float in [0, 1]."""
    from ..io.png import tonemap

    a = np.nan_to_num(np.asarray(img, dtype=np.float32))
    if a.ndim == 2:
        a = a[:, :, None]
    if name in SHADING_PASSES:
        out = tonemap(np.abs(a) if name in ("indirect", "specular") else a)
    elif name in DIRECTION_PASSES:
        out = np.clip(0.5 * (a + 1.0), 0.0, 1.0)
    elif name in RANGE_PASSES:
        lo, hi = float(a.min()), float(a.max())
        out = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    else:  # albedo, roughness, id, shadows, ao: already in [0, 1]
        out = np.clip(a, 0.0, 1.0)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out[:, :, :3]


def write_pass_previews(prefix: str, passes: Dict[str, np.ndarray]) -> List[Path]:
    """Write ``<prefix>.<pass>.png`` for every pass; returns the paths."""
    from ..io.png import write_png

    paths = []
    for name, img in passes.items():
        paths.append(Path(write_png(f"{prefix}.{name}.png", pass_preview(name, img))))
    return paths

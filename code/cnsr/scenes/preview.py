"""Contact sheets of random scenes: rows are scenes, columns are passes, ready to view as PNG."""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..io.preview import visualize_pass
from ..passes import check_passes
from ..render import Renderer
from . import make_randomizer


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
        renderer = Renderer(threads=threads)
    rz = make_randomizer(dataset, seed, **(options or {}))
    rows = []
    it = range(int(count))
    if progress:
        it = tqdm(it, desc=f"rendering {dataset}", unit="scene")
    for i in it:
        if i:
            rz.random_scene()
        renderer.load_scene(rz.to_json())
        out = renderer.render(size=int(size), spp=int(spp), seed=int(seed) * 1000 + i, passes=passes)
        rows.append([visualize_pass(p, out[p], exposure) for p in passes])
    return tile(rows)

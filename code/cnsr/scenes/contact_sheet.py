"""Contact sheets of random scenes: rows are scenes, columns are passes, ready to view as PNG."""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import numpy as np
from tqdm import tqdm

from ..io.preview import display, grid
from ..passes import check_passes
from ..render import Renderer
from . import make_randomizer

#: pixels between and around the tiles of a sheet
GAP = 2


def contact_sheet(dataset: str, count: int = 6, size: int = 96, spp: int = 16, seed: int = 0,
                  passes: Iterable[str] = ("beauty", "normal", "albedo", "depth"), exposure: float = 1.0,
                  threads: int = 0, progress: bool = False, renderer=None,
                  options: Optional[Dict] = None, labels: bool = False) -> np.ndarray:
    """Render ``count`` random scenes of ``dataset`` and return a contact sheet float32
    ``(H, W, 3)`` in [0, 1]: one row per scene, one column per pass of ``passes``, each pass
    shown by :func:`cnsr.io.preview.display`, ``GAP`` pixels between and around the tiles.
    ``labels``: pass names above the columns and scene numbers left of the rows."""
    passes = check_passes(passes, "passes")
    if renderer is None:
        renderer = Renderer(threads=threads)
    rz = make_randomizer(dataset, seed, **(options or {}))
    rows = []
    for i in tqdm(range(int(count)), desc=f"rendering {dataset}", unit="scene", disable=not progress):
        if i:
            rz.random_scene()
        renderer.load_scene(rz.to_json())
        out = renderer.render(size=int(size), spp=int(spp), seed=int(seed) * 1000 + i, passes=passes)
        rows.append([display(p, out[p], exposure) for p in passes])
    return grid(rows, gap=GAP, col_labels=passes if labels else None,
                row_labels=[str(i) for i in range(len(rows))] if labels else None)

"""Interactive viewers: GL-free state and tile layout, shared by the viewer scripts.

Nothing here imports OpenGL, moderngl or ImGui at module level, so the state classes can be
unit-tested without a display; the ``WindowConfig`` classes of the scripts only upload the
composed canvas as a texture and draw the ImGui options window. Tiles are shown by
:func:`cnsr.io.preview.display` and drawn by :func:`cnsr.io.preview.paste`, as in every other
image of the project.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..io.preview import BACKGROUND, paste

Tile = Tuple[str, int, int, int, int]   # name, x, y, width, height (pixels, y down)


class TileCanvas:
    """Places images on one RGB canvas: named rectangles, filled by :meth:`compose`."""

    def __init__(self, width: int, height: int, tiles: Sequence[Tile]):
        self.width, self.height = int(width), int(height)
        self.tiles: List[Tile] = list(tiles)

    def compose(self, images: Dict[str, np.ndarray]) -> np.ndarray:
        """``(height, width, 3)`` float32 in [0, 1]; tiles without an image stay background."""
        out = np.full((self.height, self.width, 3), BACKGROUND, np.float32)
        for name, x, y, w, h in self.tiles:
            img = images.get(name)
            if img is not None:
                paste(out, img, (x, y, w, h))
        return out

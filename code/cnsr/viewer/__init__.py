"""Interactive viewers: GL-free state and tile layout, shared by the viewer scripts.

Nothing here imports OpenGL, moderngl or ImGui at module level, so the state classes can be
unit-tested without a display; the ``WindowConfig`` classes of the scripts only upload the
composed canvas as a texture and draw the ImGui options window.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

#: background of the canvas between tiles (linear display value)
BACKGROUND = 0.12


def resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W, C)`` image to ``(height, width, C)``."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    rows = np.minimum((np.arange(height) * h) // max(height, 1), h - 1)
    cols = np.minimum((np.arange(width) * w) // max(width, 1), w - 1)
    return image[rows][:, cols]


def tensor_image(t) -> np.ndarray:
    """``[C, H, W]`` (or ``[1, C, H, W]``) tensor or array -> ``(H, W, C)`` float32 NumPy."""
    a = t.detach().float().cpu().numpy() if hasattr(t, "detach") else np.asarray(t, np.float32)
    if a.ndim == 4:
        a = a[0]
    return np.moveaxis(a, 0, -1).astype(np.float32)


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
            if img is None or w <= 0 or h <= 0:
                continue
            img = np.asarray(img, np.float32)
            if img.ndim == 2:
                img = img[..., None]
            if img.shape[-1] == 1:
                img = np.repeat(img, 3, axis=-1)
            out[y:y + h, x:x + w] = np.clip(resize_nearest(img[..., :3], h, w), 0.0, 1.0)
        return out


def to_rgb8(canvas: np.ndarray) -> np.ndarray:
    """Float [0, 1] ``(H, W, 3)`` -> uint8."""
    return (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

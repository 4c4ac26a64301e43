"""Finding the tiles of a figure: where an expected image sits, exactly, inside a figure."""
from typing import List, Tuple

import numpy as np

from cnsr.io.png import to_uint8
from cnsr.io.preview import resize_nearest, to_hwc


def as_uint8(image) -> np.ndarray:
    """A float figure or tile in [0, 1] (or a uint8 one; a torch tensor is channels-first) as uint8
    ``(H, W, 3)``, as a PNG stores it."""
    a = to_hwc(image) if hasattr(image, "detach") else np.asarray(image)
    return a if a.dtype == np.uint8 else to_uint8(a)


def find_tile(figure, tile, size: int = 0) -> List[Tuple[int, int]]:
    """Top-left corners ``(y, x)`` where ``tile`` (upscaled nearest to ``size`` x ``size`` when
    given) appears exactly in ``figure``, both compared as 8-bit images."""
    fig = as_uint8(figure).astype(np.int16)
    t = to_hwc(tile) if hasattr(tile, "detach") else np.asarray(tile)
    if size:
        t = resize_nearest(t, size, size)
    t = as_uint8(t).astype(np.int16)
    h, w = t.shape[:2]
    ny, nx = fig.shape[0] - h + 1, fig.shape[1] - w + 1
    if ny <= 0 or nx <= 0:
        return []
    # a fingerprint of every row segment of width w (random weights), compared for a few rows of the
    # tile, leaves few candidates for the exact comparison
    weights = np.random.default_rng(0).uniform(0.5, 1.5, (w, 3))
    rows = np.einsum("yxcw,wc->yx", np.lib.stride_tricks.sliding_window_view(fig.astype(np.float64), w, axis=1),
                     weights)
    ok = np.ones((ny, nx), bool)
    for r in sorted({0, h // 3, h // 2, 2 * h // 3, h - 1}):
        ok &= np.abs(rows[r:r + ny] - (t[r].astype(np.float64) * weights).sum()) < 1e-3
    ys, xs = np.nonzero(ok)
    return [(int(y), int(x)) for y, x in zip(ys, xs) if np.array_equal(fig[y:y + h, x:x + w], t)]

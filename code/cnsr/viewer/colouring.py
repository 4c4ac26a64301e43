"""How the attribution viewer colours what it shows: signed attribution maps (red positive, blue
negative over a half-bright image, or grey magnitudes) and the representation plot (values and
|gradient x value| per dimension, coloured by partition)."""
from __future__ import annotations

from typing import Optional

import numpy as np

#: colours of the partitions (lighting, geometry, material, null) in the representation plot
PARTITION_COLOURS = np.array([[0.9, 0.25, 0.2], [0.25, 0.8, 0.3], [0.3, 0.5, 1.0], [0.5, 0.5, 0.5]], np.float32)
#: heatmap colours of positive and negative attributions
POSITIVE = np.array([1.0, 0.15, 0.1], np.float32)
NEGATIVE = np.array([0.1, 0.45, 1.0], np.float32)


def colorize(attr: np.ndarray, lo: float, hi: float, heatmap: bool, base: Optional[np.ndarray] = None) -> np.ndarray:
    """A signed 2-D attribution map -> RGB in [0, 1]. The magnitude is scaled so that ``lo``
    is 0 and ``hi`` is 1. ``heatmap``: red for positive, blue for negative, over a half-bright
    ``base`` image; otherwise the magnitude in grey."""
    a = np.asarray(attr, np.float32)
    m = np.clip((np.abs(a) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)[..., None]
    if not heatmap:
        return np.repeat(m, 3, axis=-1)
    col = np.where(a[..., None] >= 0, POSITIVE, NEGATIVE)
    under = 0.5 * (base if base is not None else np.zeros(a.shape + (3,), np.float32))
    return np.clip((1.0 - m) * under + m * col, 0.0, 1.0).astype(np.float32)


def representation_plot(rep: np.ndarray, contribution: np.ndarray, owner: np.ndarray, width: int,
                        height: int) -> np.ndarray:
    """Bars per dimension: the representation's values (top half, around a middle line,
    scaled by the largest |value|) and its |gradient x value| (bottom half, scaled by the
    largest), coloured by partition."""
    out = np.full((height, width, 3), 0.08, np.float32)
    r = len(rep)
    if r == 0:
        return out
    half = height // 2
    cols = np.minimum((np.arange(width) * r) // width, r - 1)
    colour = PARTITION_COLOURS[np.clip(owner[cols], 0, 3)]
    v = rep[cols] / max(float(np.abs(rep).max()), 1e-12)
    c = contribution[cols] / max(float(contribution.max()), 1e-12)
    mid = half // 2
    ys = np.arange(height)[:, None]
    top = (ys < half) & (((ys >= mid - v * (mid - 1)) & (ys <= mid)) | ((ys <= mid - v * (mid - 1)) & (ys >= mid)))
    bottom = (ys >= half) & (ys >= height - 1 - c * (height - half - 2))
    mask = top | bottom
    out[mask] = np.broadcast_to(colour[None], out.shape)[mask]
    out[half - 1:half] = 0.3
    return out

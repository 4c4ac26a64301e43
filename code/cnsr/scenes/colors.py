"""Colour helpers for the randomizers: HSV hues and cosine palettes.

A cosine palette (Inigo Quilez's form) maps ``t`` in [0, 1] to ``a + b*cos(2*pi*(c*t + d))``
per channel; ArchViz draws its light, wood, fabric and rug colours from such palettes.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np


def hsv(h: float, s: float = 1.0, v: float = 1.0) -> List[float]:
    """RGB (list of 3 floats in [0, 1]) of hue ``h`` in [0, 1), saturation ``s``, value ``v``."""
    return [float(c) for c in colorsys.hsv_to_rgb(float(h) % 1.0, float(s), float(v))]


@dataclass(frozen=True)
class CosinePalette:
    """``colour(t) = a + b*cos(2*pi*(c*t + d))``, clipped to [0, 1]; a, b, c, d are RGB triples."""

    a: Sequence[float]
    b: Sequence[float]
    c: Sequence[float]
    d: Sequence[float]

    def __call__(self, t: float) -> List[float]:
        a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (self.a, self.b, self.c, self.d))
        rgb = np.clip(a + b * np.cos(2.0 * np.pi * (c * float(t) + d)), 0.0, 1.0)
        return [float(x) for x in rgb]


#: Palettes used by ArchViz. ``light`` spans warm to cool daylight tints; ``wood`` browns from
#: pale oak to walnut; ``fabric`` and ``rug`` cover muted and saturated upholstery colours.
PALETTES = {
    "light": CosinePalette((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), (0.0, 0.10, 0.20)),
    "wood": CosinePalette((0.45, 0.30, 0.18), (0.22, 0.16, 0.10), (0.8, 0.8, 0.8), (0.0, 0.03, 0.06)),
    "fabric": CosinePalette((0.45, 0.42, 0.40), (0.35, 0.30, 0.32), (1.0, 1.0, 1.0), (0.0, 0.33, 0.67)),
    "rug": CosinePalette((0.5, 0.4, 0.35), (0.4, 0.3, 0.3), (1.0, 0.7, 0.4), (0.0, 0.15, 0.20)),
    "floor": CosinePalette((0.55, 0.42, 0.30), (0.25, 0.18, 0.12), (0.6, 0.6, 0.6), (0.0, 0.04, 0.08)),
}

"""Oriented bounding boxes for placing furniture without intersections.

A piece's box is its mesh's local axis-aligned bounds moved by its row-vector transform
(rotation about Y, uniform scale, translation), i.e. a rectangle in the xz plane plus a
height interval. Two boxes intersect when their rectangles overlap (separating-axis test)
and their height intervals overlap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base import apply_transform


@dataclass
class Box:
    """Oriented box: ``corners`` (4, 2) xz rectangle (in order), heights ``y0 <= y1``."""

    corners: np.ndarray
    y0: float
    y1: float

    @classmethod
    def from_bounds(cls, lo: Sequence[float], hi: Sequence[float], matrix) -> "Box":
        """Box of local bounds ``lo``/``hi`` (3,) under a row-vector 4x4 ``matrix``."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        rect = np.array([[lo[0], lo[1], lo[2]], [hi[0], lo[1], lo[2]], [hi[0], lo[1], hi[2]], [lo[0], lo[1], hi[2]]])
        world = apply_transform(matrix, rect)
        ys = apply_transform(matrix, np.array([lo, hi]))[:, 1]
        return cls(world[:, [0, 2]], float(ys.min()), float(ys.max()))

    def extent(self):
        """xz axis-aligned extent ``(min (2,), max (2,))``."""
        return self.corners.min(axis=0), self.corners.max(axis=0)

    def overlaps(self, other: "Box", tol: float = 1e-6) -> bool:
        """Whether the boxes share volume (touching within ``tol`` does not count)."""
        if self.y1 <= other.y0 + tol or other.y1 <= self.y0 + tol:
            return False
        return rectangles_overlap(self.corners, other.corners, tol)

    def inside(self, xmin: float, xmax: float, zmin: float, zmax: float, margin: float = 0.0) -> bool:
        """Whether the rectangle lies within ``[xmin, xmax] x [zmin, zmax]`` shrunk by ``margin``."""
        lo, hi = self.extent()
        return bool(lo[0] >= xmin + margin and hi[0] <= xmax - margin and lo[1] >= zmin + margin
                    and hi[1] <= zmax - margin)


def rectangles_overlap(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    """Separating-axis test of two convex quads ``(4, 2)``; overlap deeper than ``tol``."""
    for poly in (a, b):
        for i in range(len(poly)):
            edge = poly[(i + 1) % len(poly)] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            norm = np.linalg.norm(axis)
            if norm < 1e-12:
                continue
            axis /= norm
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() + tol or pb.max() <= pa.min() + tol:
                return False
    return True

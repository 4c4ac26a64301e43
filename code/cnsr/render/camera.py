"""Camera helpers: the pose encoding fed to the networks, computed in NumPy.

The pose is the world-to-camera lookAt matrix in the OpenGL convention (camera looks down -Z,
+Y up, right-handed), flattened column-major: the translation sits at indices 12, 13, 14.
The C++ renderer computes the same matrix (``Renderer.pose()``); the tests check they agree.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

UP = np.array([0.0, 1.0, 0.0])


def camera_basis(position: Sequence[float], lookat: Sequence[float]):
    """(right, up, forward) unit vectors of a camera at ``position`` looking at ``lookat``, +Y up."""
    p = np.asarray(position, dtype=np.float64)
    f = np.asarray(lookat, dtype=np.float64) - p
    n = np.linalg.norm(f)
    if not np.isfinite(n) or n == 0.0:
        raise ValueError("camera position and lookat must be distinct finite points")
    f = f / n
    r = np.cross(f, UP)
    if np.linalg.norm(r) < 1e-6:  # looking straight up or down
        r = np.cross(f, np.array([0.0, 0.0, -1.0]))
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    return r, u, f


def look_at_matrix(position: Sequence[float], lookat: Sequence[float]) -> np.ndarray:
    """4x4 world-to-camera matrix (column-vector convention: x_cam = M @ [x_world, 1])."""
    r, u, f = camera_basis(position, lookat)
    p = np.asarray(position, dtype=np.float64)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = r, u, -f
    m[:3, 3] = -m[:3, :3] @ p
    return m


def look_at_pose(position: Sequence[float], lookat: Sequence[float]) -> np.ndarray:
    """The 16-float pose: ``look_at_matrix`` flattened column-major (translation at 12, 13, 14)."""
    return look_at_matrix(position, lookat).reshape(-1, order="F").astype(np.float32)


def ray_directions(position: Sequence[float], lookat: Sequence[float], fov: float, size: int) -> np.ndarray:
    """(size, size, 3) unit directions of the rays through the pixel centres (row 0 = top)."""
    r, u, f = camera_basis(position, lookat)
    t = np.tan(0.5 * np.radians(fov))
    c = (np.arange(size) + 0.5) / size
    sx = (2 * c - 1) * t
    sy = (1 - 2 * c) * t
    d = sx[None, :, None] * r + sy[:, None, None] * u + f
    return d / np.linalg.norm(d, axis=-1, keepdims=True)

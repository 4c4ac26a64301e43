"""Procedural meshes of the PrimitiveRoom objects, placed like the reference system's OBJ files:
each rests on y = 0 and is about one unit in size."""
from __future__ import annotations

import numpy as np

from .mesh import Mesh


def _flat_polygons(polys, positions) -> Mesh:
    """Mesh of convex polygons (lists of indices into positions, counter-clockwise seen from
    outside) with flat normals: every polygon gets its own vertices."""
    verts, norms, faces = [], [], []
    for poly in polys:
        p = positions[list(poly)]
        n = np.cross(p[1] - p[0], p[2] - p[0])
        n /= np.linalg.norm(n)
        base = len(verts)
        verts.extend(p)
        norms.extend([n] * len(p))
        for i in range(1, len(p) - 1):
            faces.append((base, base + i, base + i + 1))
    return Mesh(np.array(verts), np.array(faces), np.array(norms))


def cube_mesh() -> Mesh:
    """Unit cube [-0.5, 0.5] x [0, 1] x [-0.5, 0.5] (like ``cube_bigger.obj``), flat faces."""
    p = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (0.0, 1.0) for z in (-0.5, 0.5)])

    def i(x, y, z):
        return (x > 0) * 4 + (y > 0) * 2 + (z > 0)

    polys = [
        [i(1, 0, 0), i(1, 1, 0), i(1, 1, 1), i(1, 0, 1)],  # +x
        [i(0, 0, 0), i(0, 0, 1), i(0, 1, 1), i(0, 1, 0)],  # -x
        [i(0, 1, 0), i(0, 1, 1), i(1, 1, 1), i(1, 1, 0)],  # +y
        [i(0, 0, 0), i(1, 0, 0), i(1, 0, 1), i(0, 0, 1)],  # -y
        [i(0, 0, 1), i(1, 0, 1), i(1, 1, 1), i(0, 1, 1)],  # +z
        [i(0, 0, 0), i(0, 1, 0), i(1, 1, 0), i(1, 0, 0)],  # -z
    ]
    return _flat_polygons(polys, p)


def dodecahedron_mesh() -> Mesh:
    """Regular dodecahedron with two faces perpendicular to z, standing on a vertex, spanning
    y [0, 1] (like ``dodecahedron.obj``: x [-0.476, 0.476], z [-0.405, 0.405]), flat faces."""
    phi = (1 + 5 ** 0.5) / 2
    pts = [[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    for a in (-1, 1):
        for b in (-1, 1):
            pts += [[0, a / phi, b * phi], [a / phi, b * phi, 0], [a * phi, 0, b / phi]]
    p = np.array(pts, dtype=np.float64)
    # rotate a face normal (0, phi, 1) onto +z
    fn = np.array([0.0, phi, 1.0]) / np.linalg.norm([0.0, phi, 1.0])
    p = p @ _rotation_onto(fn, np.array([0.0, 0.0, 1.0])).T
    # spin about z so that the dodecahedron stands on a vertex of the z < 0 half, straight below
    # its centre (as in the reference OBJ)
    best = None
    for a0 in np.arctan2(p[:, 1], p[:, 0])[p[:, 2] < 0]:
        q = p @ _rot_z(-np.pi / 2 - a0).T
        if best is None or q[:, 1].min() < best[0] - 1e-9:
            best = (q[:, 1].min(), q)
    p = best[1]
    # faces: the 12 vertex groups of maximal dot with each face normal
    c = np.zeros(3)
    normals = []
    for i in range(len(p)):
        for j in range(i + 1, len(p)):
            for k in range(j + 1, len(p)):
                n = np.cross(p[j] - p[i], p[k] - p[i])
                if np.linalg.norm(n) < 1e-9:
                    continue
                n /= np.linalg.norm(n)
                if np.dot(n, p[i] - c) < 0:
                    n = -n
                d = p @ n
                if np.isclose(d.max(), np.dot(p[i], n), atol=1e-6) and (np.isclose(d, d.max(), atol=1e-6).sum() == 5):
                    if not any(np.allclose(n, m, atol=1e-6) for m in normals):
                        normals.append(n)
    polys = []
    for n in normals:
        ids = np.where(np.isclose(p @ n, (p @ n).max(), atol=1e-6))[0]
        centre = p[ids].mean(axis=0)
        u = p[ids[0]] - centre
        u /= np.linalg.norm(u)
        w = np.cross(n, u)
        order = np.argsort(np.arctan2((p[ids] - centre) @ w, (p[ids] - centre) @ u))
        polys.append(list(ids[order]))  # counter-clockwise about n
    assert len(polys) == 12
    lo, hi = p.min(axis=0), p.max(axis=0)
    s = 1.0 / (hi[1] - lo[1])
    p = (p - np.array([0.0, lo[1], 0.0])) * s
    p[:, 0] -= (p[:, 0].max() + p[:, 0].min()) / 2
    p[:, 2] -= (p[:, 2].max() + p[:, 2].min()) / 2
    return _flat_polygons(polys, p)


def cylinder_mesh(segments: int = 12, radius: float = 0.36, height: float = 1.0) -> Mesh:
    """Cylinder of radius 0.36 on y [0, 1] with 12 segments (like ``cylinder.obj``): smooth
    sides, flat caps."""
    ang = -2 * np.pi * np.arange(segments) / segments  # from +x towards -z, like the reference
    ring = np.stack([radius * np.cos(ang), np.zeros(segments), radius * np.sin(ang)], axis=1)
    radial = np.stack([np.cos(ang), np.zeros(segments), np.sin(ang)], axis=1)
    verts, norms, faces = [], [], []
    # sides: 2 rings with radial normals
    verts += list(ring) + list(ring + [0, height, 0])
    norms += list(radial) + list(radial)
    for i in range(segments):
        j = (i + 1) % segments
        b0, b1, t0, t1 = i, j, segments + i, segments + j
        # counter-clockwise seen from outside
        faces += [(b0, t1, t0), (b0, b1, t1)]
    # caps
    for y, ny in ((height, 1.0), (0.0, -1.0)):
        base = len(verts)
        verts += list(ring + [0, y, 0])
        norms += [[0.0, ny, 0.0]] * segments
        for i in range(1, segments - 1):
            tri = (base, base + i, base + i + 1)
            faces.append(tri if ny > 0 else (tri[0], tri[2], tri[1]))
    return Mesh(np.array(verts), np.array(faces), np.array(norms))


def _rotation_onto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix R with R a = b (unit vectors, not opposite)."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _rot_z(t: float) -> np.ndarray:
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

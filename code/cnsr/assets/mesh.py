"""Triangle meshes and the Wavefront OBJ loader."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass
class Mesh:
    """A triangle mesh: vertices (N, 3) float32, faces (M, 3) int32, optional per-vertex
    normals (N, 3) and uvs (N, 2). Faces are counter-clockwise seen from the front side."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: Optional[np.ndarray] = None
    uvs: Optional[np.ndarray] = None

    def __post_init__(self):
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32).reshape(-1, 3)
        if self.normals is not None:
            self.normals = np.ascontiguousarray(self.normals, dtype=np.float32).reshape(-1, 3)
        if self.uvs is not None:
            self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32).reshape(-1, 2)

    def validate(self, name: str = "mesh") -> "Mesh":
        """Raise ValueError naming ``name`` if the arrays are inconsistent or not finite."""
        n = len(self.vertices)
        if len(self.faces) == 0:
            raise ValueError(f"{name}: mesh has no faces")
        if self.faces.min() < 0 or self.faces.max() >= n:
            raise ValueError(f"{name}: face index out of range (mesh has {n} vertices)")
        if not np.isfinite(self.vertices).all():
            raise ValueError(f"{name}: mesh vertices are not finite")
        for what, arr in (("normals", self.normals), ("uvs", self.uvs)):
            if arr is not None and len(arr) != n:
                raise ValueError(f"{name}: {what} must be given per vertex ({len(arr)} for {n} vertices)")
        return self

    @property
    def bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def vertex_normals(self) -> np.ndarray:
        """Area-weighted vertex normals from the faces (for meshes without normals)."""
        v = self.vertices.astype(np.float64)
        f = self.faces
        fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        n = np.zeros_like(v)
        for k in range(3):
            np.add.at(n, f[:, k], fn)
        ln = np.linalg.norm(n, axis=1, keepdims=True)
        return (n / np.where(ln > 0, ln, 1.0)).astype(np.float32)


_obj_cache: Dict[Tuple[str, float, int], Mesh] = {}


def load_obj(path: str) -> Mesh:
    """Load a Wavefront OBJ: polygons are fan-triangulated; normals and uvs are used when every
    face provides them. Raises OSError if unreadable, ValueError (with file and line) if malformed."""
    path = os.fspath(path)
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime, st.st_size)
    if key in _obj_cache:
        return _obj_cache[key]
    pos: List[List[float]] = []
    tex: List[List[float]] = []
    nrm: List[List[float]] = []
    corners: List[Tuple[int, int, int]] = []  # (v, vt, vn), -1 if absent
    tris: List[Tuple[int, int, int]] = []
    corner_ids: Dict[Tuple[int, int, int], int] = {}
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            tag = parts[0]
            try:
                if tag == "v":
                    pos.append([float(x) for x in parts[1:4]])
                    if len(pos[-1]) != 3:
                        raise ValueError("vertex needs 3 coordinates")
                elif tag == "vt":
                    uv = [float(x) for x in parts[1:3]]
                    tex.append(uv + [0.0] * (2 - len(uv)))
                elif tag == "vn":
                    nrm.append([float(x) for x in parts[1:4]])
                    if len(nrm[-1]) != 3:
                        raise ValueError("normal needs 3 coordinates")
                elif tag == "f":
                    ids = []
                    for c in parts[1:]:
                        fields = c.split("/")
                        vi = _obj_index(fields[0], len(pos))
                        ti = _obj_index(fields[1], len(tex)) if len(fields) > 1 and fields[1] else -1
                        ni = _obj_index(fields[2], len(nrm)) if len(fields) > 2 and fields[2] else -1
                        k = (vi, ti, ni)
                        if k not in corner_ids:
                            corner_ids[k] = len(corners)
                            corners.append(k)
                        ids.append(corner_ids[k])
                    if len(ids) < 3:
                        raise ValueError("face needs at least 3 vertices")
                    for i in range(1, len(ids) - 1):
                        tris.append((ids[0], ids[i], ids[i + 1]))
            except (ValueError, IndexError) as e:
                raise ValueError(f"{path}:{lineno}: malformed OBJ line {line.strip()!r}: {e}") from None
    if not tris:
        raise ValueError(f"{path}: OBJ file has no faces")
    c = np.asarray(corners, dtype=np.int64)
    vertices = np.asarray(pos, dtype=np.float32)[c[:, 0]]
    normals = np.asarray(nrm, dtype=np.float32)[c[:, 2]] if nrm and (c[:, 2] >= 0).all() else None
    uvs = np.asarray(tex, dtype=np.float32)[c[:, 1]] if tex and (c[:, 1] >= 0).all() else None
    mesh = Mesh(vertices, np.asarray(tris, dtype=np.int32), normals, uvs).validate(path)
    _obj_cache[key] = mesh
    return mesh


def _obj_index(s: str, n: int) -> int:
    i = int(s)
    i = i - 1 if i > 0 else n + i  # OBJ indices are 1-based; negative ones count from the end
    if not 0 <= i < n:
        raise IndexError(f"index {s} out of range ({n} defined so far)")
    return i

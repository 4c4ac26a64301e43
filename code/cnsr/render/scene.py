"""Scene descriptions: load the reference system's scene JSON (string, file or dict), validate
every field, and build the C++ scene.

Geometry is transformed here (row-vector convention of pyrr: ``p' = [p, 1] . M``, translation
in the last row) and handed to C++ in world space: meshes as triangle arrays, spheres as
centre + radius, grids as parallelograms. Every problem raises :class:`SceneError` naming the
scene, the entry and the field, before anything reaches C++.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from ..io.jsonfile import parse_json_text, read_json_file
from .. import assets

SceneSource = Union[str, os.PathLike, Dict[str, Any]]

DEFAULT_BOUNCES = 4
DEFAULT_CAMERA = {"fov": 75.0, "near": 0.01, "far": 100.0}
GEOMETRY_TYPES = ("grid", "sphere", "file", "mesh")
LIGHT_TYPES = ("grid", "sphere")

#: Largest magnitude of any number in a scene (coordinates, sizes, radii, transform entries,
#: camera settings, colours, emissions), checked before world space and again after it: the
#: renderer works in float32 and Embree aborts the process on rays or boxes beyond ~1.8e18, so
#: everything is kept far inside that (float32 still resolves 8 units at 1e8).
VALUE_LIMIT = 1e8
#: Largest integer setting of a scene (bounces, material ids): the C++ side stores them in an int.
INT_LIMIT = 2 ** 31 - 1


class SceneError(ValueError):
    """A scene description is malformed; the message names the scene, entry and field."""


@dataclass
class CameraSettings:
    position: Tuple[float, float, float]
    lookat: Tuple[float, float, float]
    fov: float = 75.0
    near: float = 0.01
    far: float = 100.0


@dataclass
class CompiledScene:
    """A validated scene: the C++ scene plus the settings the renderer needs."""

    native: Any  # cnsr._renderer.Scene (committed)
    name: str  # file path or '<dict>' / '<json string>'
    base_dir: Optional[Path]
    bounces: int = DEFAULT_BOUNCES
    hide_lights: bool = False
    seed: int = 0
    background: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera: Optional[CameraSettings] = None
    max_id: int = 1
    material_index: Dict[str, int] = field(default_factory=dict)
    num_lights: int = 0
    description: Dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# reading


def read_scene(source: SceneSource) -> Tuple[Dict[str, Any], str, Optional[Path]]:
    """(description dict, display name, folder relative files resolve against)."""
    if isinstance(source, dict):
        return source, "<dict>", None
    if isinstance(source, (bytes, bytearray)):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise SceneError("<bytes>: a scene must be UTF-8 JSON text") from None
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return parse_json_text(source, SceneError, "<json string>", "scene"), "<json string>", None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        data = read_json_file(path, SceneError, "scene file")
        if not isinstance(data, dict):
            raise SceneError(f"{path}: a scene must be a JSON object")
        return data, str(path), path.resolve().parent
    raise SceneError(f"a scene must be a JSON string, a path or a dict, not {type(source).__name__}")


# ---------------------------------------------------------------------------------------------
# field validation


class _Fields:
    """Typed access to one JSON object with errors that name where it is."""

    def __init__(self, obj: Any, where: str):
        if not isinstance(obj, dict):
            raise SceneError(f"{where}: must be a JSON object, got {type(obj).__name__}")
        self.obj, self.where = obj, where

    def has(self, key: str) -> bool:
        return key in self.obj and self.obj[key] is not None

    def error(self, key: str, msg: str) -> SceneError:
        return SceneError(f"{self.where}: field '{key}': {msg}")

    def number(self, key: str, default: Optional[float] = None, lo: Optional[float] = None,
               hi: Optional[float] = None, lo_open: bool = False) -> float:
        if not self.has(key):
            if default is None:
                raise self.error(key, "missing")
            return float(default)
        v = self.obj[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise self.error(key, f"must be a number, got {v!r}")
        try:
            v = float(v)
        except OverflowError:
            raise self.error(key, f"must be at most {VALUE_LIMIT:g} in magnitude, got {v}") from None
        if not math.isfinite(v):
            raise self.error(key, f"must be finite, got {v}")
        if abs(v) > VALUE_LIMIT:
            raise self.error(key, f"must be at most {VALUE_LIMIT:g} in magnitude, got {v:g}")
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise self.error(key, f"must be {'>' if lo_open else '>='} {lo}, got {v}")
        if hi is not None and v > hi:
            raise self.error(key, f"must be <= {hi}, got {v}")
        return v

    def integer(self, key: str, default: Optional[int] = None, lo: Optional[int] = None,
                hi: Optional[int] = None) -> int:
        if not self.has(key):
            if default is None:
                raise self.error(key, "missing")
            return int(default)
        v = self.obj[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or (
                isinstance(v, (float, np.floating)) and not (math.isfinite(v) and float(v) == int(v))):
            raise self.error(key, f"must be an integer, got {v!r}")
        v = int(v)
        if lo is not None and v < lo:
            raise self.error(key, f"must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise self.error(key, f"must be <= {hi}, got {v}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        v = self.obj[key]
        if isinstance(v, (bool, np.bool_)) or v in (0, 1):
            return bool(v)
        raise self.error(key, f"must be true or false, got {v!r}")

    def vector(self, key: str, n: int = 3, default: Optional[Sequence[float]] = None) -> np.ndarray:
        if not self.has(key):
            if default is None:
                raise self.error(key, "missing")
            return np.asarray(default, dtype=np.float64)
        try:
            a = np.asarray(self.obj[key], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise self.error(key, f"must be a list of {n} numbers, got {self.obj[key]!r}") from None
        if a.shape != (n,):
            raise self.error(key, f"must be a list of {n} numbers, got {self.obj[key]!r}")
        if not np.isfinite(a).all():
            raise self.error(key, f"must be finite, got {self.obj[key]!r}")
        check_range(a, self.error, key)
        return a

    def string(self, key: str, default: Optional[str] = None) -> str:
        if not self.has(key):
            if default is None:
                raise self.error(key, "missing")
            return default
        v = self.obj[key]
        if not isinstance(v, (str, os.PathLike)):
            raise self.error(key, f"must be a string, got {v!r}")
        return os.fspath(v)

    def transform(self, key: str = "transform") -> np.ndarray:
        """4x4 affine matrix in row-vector convention (identity if absent)."""
        if not self.has(key):
            return np.eye(4)
        try:
            m = np.asarray(self.obj[key], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise self.error(key, "must be a 4x4 matrix (4 rows of 4 numbers)") from None
        if m.shape == (16,):
            m = m.reshape(4, 4)
        if m.shape != (4, 4):
            raise self.error(key, f"must be a 4x4 matrix (4 rows of 4 numbers), got shape {m.shape}")
        if not np.isfinite(m).all():
            raise self.error(key, "holds NaN or Inf")
        check_range(m, self.error, key)
        if not (np.abs(m[:, 3] - _AFFINE_COLUMN) <= 1e-6 + 1e-5 * _AFFINE_COLUMN).all():  # np.allclose's test
            raise self.error(key, "must be affine in row-vector convention (last column 0, 0, 0, 1; "
                                  f"translation in the last row), got last column {m[:, 3].tolist()}")
        det = np.linalg.det(m[:3, :3])
        if not abs(det) > 1e-12:
            raise self.error(key, "is singular (zero scale)")
        return m


_AFFINE_COLUMN = np.array([0.0, 0.0, 0.0, 1.0])


def check_range(a: np.ndarray, error, key: str, what: str = "") -> None:
    """Raise ``error(key, message)`` unless every value of ``a`` is finite and at most
    :data:`VALUE_LIMIT` in magnitude (``what``: e.g. ' in world space')."""
    a = np.asarray(a, dtype=np.float64)
    if a.size and not (np.abs(a) <= VALUE_LIMIT).all():
        worst = float(np.nanmax(np.where(np.isfinite(a), np.abs(a), np.inf)))
        raise error(key, f"values must be finite and at most {VALUE_LIMIT:g} in magnitude{what}, got {worst:g}")


def _transform_points(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    return p @ m[:3, :3] + m[3, :3]


def _transform_normals(n: np.ndarray, m: np.ndarray) -> np.ndarray:
    # row vectors: normals transform with the inverse transpose of the linear part
    t = n @ np.linalg.inv(m[:3, :3]).T
    ln = np.linalg.norm(t, axis=-1, keepdims=True)
    return t / np.where(ln > 0, ln, 1.0)


# ---------------------------------------------------------------------------------------------
# shapes


def grid_frame(normal: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """In-plane unit axes (u, v) of a grid with ``normal``: v points 'up' in the plane (+y, or
    -z for floors/ceilings) and u = v x n, so that textures read upright and unmirrored from the
    front side. (Read-only arrays, computed once per normal.)"""
    return _grid_frame(tuple(float(x) for x in np.asarray(normal, dtype=np.float64).reshape(3)))


@functools.lru_cache(maxsize=256)
def _grid_frame(normal: Tuple[float, float, float]) -> Tuple[np.ndarray, np.ndarray]:
    n = np.asarray(normal, dtype=np.float64)
    n = n / np.linalg.norm(n)
    up = np.array([0.0, 0.0, -1.0]) if abs(n[1]) >= max(abs(n[0]), abs(n[2])) else np.array([0.0, 1.0, 0.0])
    v = up - np.dot(up, n) * n
    v /= np.linalg.norm(v)
    u = np.cross(v, n)
    u.flags.writeable = False
    v.flags.writeable = False
    return u, v


def grid_quad(position: np.ndarray, normal: np.ndarray, size: np.ndarray, m: np.ndarray,
              square_half: Optional[float] = None):
    """World-space (corner, e1, e2, normal) of a grid. Geometry grids span ``size`` along the two
    axes perpendicular to the normal; light grids are squares of half-size ``square_half``."""
    n = normal / np.linalg.norm(normal)
    u, v = grid_frame(n)
    if square_half is not None:
        su = sv = 2.0 * square_half
    else:
        su = float(np.abs(size)[int(np.argmax(np.abs(u)))])
        sv = float(np.abs(size)[int(np.argmax(np.abs(v)))])
    corner = position - 0.5 * su * u - 0.5 * sv * v
    c = _transform_points(corner[None], m)[0]
    e1 = (su * u) @ m[:3, :3]
    e2 = (sv * v) @ m[:3, :3]
    nw = _transform_normals(n[None], m)[0]
    return c, e1, e2, nw


def _resolve_file(name: str, base_dir: Optional[Path]) -> Optional[Path]:
    p = Path(name).expanduser()
    if p.is_absolute():
        return p if p.is_file() else None
    candidates = ([base_dir / p] if base_dir is not None else []) + [Path.cwd() / p]
    for c in candidates:
        if c.is_file():
            return c
    return None


# ---------------------------------------------------------------------------------------------
# compilation


def compile_scene(source: SceneSource, sphere_bvh_min: Optional[int] = None) -> CompiledScene:
    """Read, validate and build a scene. Raises SceneError naming the problem. ``sphere_bvh_min``:
    scenes with at least this many non-emitting spheres put them into the BVH (None: the
    renderer's default; the images are the same either way)."""
    from .. import _renderer  # the C++ extension; imported late so that errors above need no build

    data, name, base_dir = read_scene(source)
    top = _Fields(data, name)
    for key in ("geometry", "lights"):
        if top.has(key) and not isinstance(data[key], list):
            raise top.error(key, "must be a list")
    geometry = list(data.get("geometry") or [])
    lights = list(data.get("lights") or [])
    if not geometry and not lights:
        raise SceneError(f"{name}: the scene is empty (no 'geometry' and no 'lights')")
    if not top.has("materials"):
        raise top.error("materials", "missing")
    if not isinstance(data["materials"], dict):
        raise top.error("materials", "must be an object mapping names to materials")

    cs = CompiledScene(native=_renderer.Scene(), name=name, base_dir=base_dir, description=data)
    cs.bounces = top.integer("bounces", DEFAULT_BOUNCES, lo=0, hi=INT_LIMIT)
    cs.hide_lights = top.boolean("hide_lights", False)
    cs.seed = top.integer("seed", 0)
    cs.background = tuple(top.vector("background", 3, (0.0, 0.0, 0.0)).tolist())
    if top.has("camera"):
        cam = _Fields(data["camera"], f"{name}: camera")
        fov = cam.number("fov", DEFAULT_CAMERA["fov"], lo=0.0, hi=179.0, lo_open=True)
        near = cam.number("near", DEFAULT_CAMERA["near"], lo=0.0, lo_open=True)
        far = cam.number("far", DEFAULT_CAMERA["far"], lo=near, lo_open=True)
        pos, look = cam.vector("position"), cam.vector("lookat")
        if np.allclose(pos, look):
            raise cam.error("lookat", "must differ from 'position'")
        cs.camera = CameraSettings(tuple(pos.tolist()), tuple(look.tolist()), fov, near, far)

    # materials; id normalisation of the reference: id / maxId, maxId = max(material ids) + 1
    mats: Dict[str, _Fields] = {}
    for mname, m in data["materials"].items():
        mats[mname] = _Fields(m, f"{name}: materials['{mname}']")
    ids = {k: f.integer("id", 0, lo=-INT_LIMIT, hi=INT_LIMIT - 1) for k, f in mats.items()}
    cs.max_id = (max(ids.values()) + 1) if ids else 1
    if cs.max_id <= 0:
        cs.max_id = 1
    texture_index: Dict[str, int] = {}
    for mname, f in mats.items():
        color = f.vector("color", 3, (0.8, 0.8, 0.8))
        emission = f.vector("emission", 3, (0.0, 0.0, 0.0))
        if (color < 0).any():
            raise f.error("color", f"must be >= 0, got {color.tolist()}")
        if (emission < 0).any():
            raise f.error("emission", f"must be >= 0, got {emission.tolist()}")
        rough = f.number("roughness", 1.0, lo=0.0, hi=1.0)
        rough = max(rough, 0.05)  # the model's range is [0.05, 1]
        ior = f.number("ior", 15.0, lo=0.0, lo_open=True)
        freq = f.vector("texture_frequency", 2, (1.0, 1.0))
        tex = -1
        texval = f.obj.get("texture")
        if isinstance(texval, np.ndarray):
            tex = cs.native.add_texture(_texture_channel_max(texval, f, "texture"))
        elif texval:
            tname = f.string("texture")
            if tname not in texture_index:
                img = _load_texture(tname, base_dir, f)
                texture_index[tname] = cs.native.add_texture(_texture_channel_max(img, f, "texture"))
            tex = texture_index[tname]
        cs.material_index[mname] = cs.native.add_material(
            color.tolist(), emission.tolist(), rough, ior, tex, float(freq[0]), float(freq[1]),
            float(ids[mname]) / float(cs.max_id))

    for group, entries, allowed in (("geometry", geometry, GEOMETRY_TYPES), ("lights", lights, LIGHT_TYPES)):
        for i, entry in enumerate(entries):
            f = _Fields(entry, f"{name}: {group}[{i}]")
            if not f.boolean("visible", True):
                continue
            kind = f.string("type")
            if kind not in allowed:
                raise f.error("type", f"unknown object type {kind!r}; expected one of {', '.join(allowed)}")
            f.where = f"{name}: {group}[{i}] (type '{kind}')"
            mname = f.string("material")
            if mname not in cs.material_index:
                raise f.error("material", f"unknown material {mname!r}; the scene defines "
                                          f"{', '.join(sorted(cs.material_index)) or 'none'}")
            _add_shape(cs, f, kind, cs.material_index[mname], emitter=(group == "lights"))
    try:
        cs.native.commit() if sphere_bvh_min is None else cs.native.commit(int(sphere_bvh_min))
    except Exception as e:  # Embree errors
        raise SceneError(f"{name}: building the scene failed: {e}") from None
    cs.num_lights = cs.native.num_lights
    return cs


def _add_shape(cs: CompiledScene, f: _Fields, kind: str, material: int, emitter: bool) -> None:
    m = f.transform()
    try:
        if kind == "sphere":
            position = f.vector("position", 3, (0.0, 0.0, 0.0))
            radius = f.number("radius", lo=0.0, lo_open=True)
            center = _transform_points(position[None], m)[0]
            scale = abs(np.linalg.det(m[:3, :3])) ** (1.0 / 3.0)
            check_range(center, f.error, "position", " in world space (after 'transform')")
            check_range(radius * scale, f.error, "radius", " in world space (after 'transform')")
            cs.native.add_sphere(center.tolist(), radius * scale, material, emitter)
        elif kind == "grid":
            position = f.vector("position", 3, (0.0, 0.0, 0.0))
            normal = f.vector("normal", 3)
            if not np.linalg.norm(normal) > 0:
                raise f.error("normal", "must be non-zero")
            size = f.vector("size", 3)
            half = None
            if emitter:  # grid lights are squares of half-size max(size)
                half = float(np.abs(size).max())
                if not half > 0:
                    raise f.error("size", "must be non-zero")
            else:
                u, v = grid_frame(normal / np.linalg.norm(normal))
                if not (abs(size[int(np.argmax(np.abs(u)))]) > 0 and abs(size[int(np.argmax(np.abs(v)))]) > 0):
                    raise f.error("size", f"spans no area perpendicular to the normal: {size.tolist()}")
            c, e1, e2, n = grid_quad(position, normal, size, m, half)
            check_range(np.stack([c, c + e1, c + e2, c + e1 + e2]), f.error, "position",
                        " for the corners in world space (after 'transform' and 'size')")
            cs.native.add_quad(c.tolist(), e1.tolist(), e2.tolist(), n.tolist(), material, emitter)
        else:
            mesh = _load_mesh(cs, f, kind)
            def check(world):
                check_range(world, f.error, "vertices" if kind == "mesh" else "filename",
                            " for the vertices in world space (after 'transform')")
            v, faces, normals = _world_mesh(mesh, m, kind == "file" and len(mesh.vertices) <= 65536, check)
            cs.native.add_mesh(v, faces, normals, mesh.uvs, material, emitter)
    except SceneError:
        raise
    except (ValueError, IndexError, RuntimeError, TypeError) as e:
        raise SceneError(f"{f.where}: {e}") from None


#: World-space arrays of recently placed meshes, by (mesh, transform): the scenes of a dataset
#: batch place the same meshes again (e.g. every scene of a lighting batch), so each is
#: transformed once. Holds the mesh itself, so that its id is not reused while cached.
_WORLD_MESHES: "Dict[Tuple[int, bytes], Tuple[Any, np.ndarray, np.ndarray, Optional[np.ndarray]]]" = {}
_WORLD_MESHES_MAX = 64


def _world_mesh(mesh: "assets.Mesh", m: np.ndarray, cache: bool, check):
    """(vertices float32, faces, normals float32 or None) of ``mesh`` placed by the row-vector
    transform ``m``; a mirroring transform flips the winding. ``check(vertices)`` validates the
    world-space vertices (float64) when they are computed. ``cache``: the mesh is a shared
    asset (not a scene's inline arrays) of modest size, worth keeping."""
    key = (id(mesh), m.tobytes())
    hit = _WORLD_MESHES.get(key) if cache else None
    if hit is not None and hit[0] is mesh:
        return hit[1:]
    world = _transform_points(mesh.vertices.astype(np.float64), m)
    check(world)
    v = world.astype(np.float32)
    faces = mesh.faces
    normals = None if mesh.normals is None else _transform_normals(mesh.normals.astype(np.float64), m)
    if np.linalg.det(m[:3, :3]) < 0:  # a mirroring transform flips the winding
        faces = faces[:, [0, 2, 1]]
    out = (v, faces, None if normals is None else normals.astype(np.float32))
    if cache:
        if len(_WORLD_MESHES) >= _WORLD_MESHES_MAX:
            _WORLD_MESHES.pop(next(iter(_WORLD_MESHES)))
        for a in out:
            if a is not None:
                a.flags.writeable = False
        _WORLD_MESHES[key] = (mesh,) + out
    return out


def _load_mesh(cs: CompiledScene, f: _Fields, kind: str) -> "assets.Mesh":
    if kind == "mesh":  # inline arrays (not in the reference format; handy for programs and tests)
        vertices = _float_rows(f, "vertices", 3)
        faces = _index_rows(f, "faces", len(vertices))
        normals = _float_rows(f, "normals", 3, len(vertices)) if f.has("normals") else None
        uvs = _float_rows(f, "uvs", 2, len(vertices)) if f.has("uvs") else None
        try:
            return assets.Mesh(vertices, faces, normals, uvs).validate(f.where)
        except ValueError as e:
            raise SceneError(f"{f.where}: {e}") from None
    fname = f.string("filename")
    path = _resolve_file(fname, cs.base_dir)
    if path is not None:
        try:
            return assets.load_obj(str(path))
        except (OSError, ValueError, UnicodeError) as e:
            raise f.error("filename", f"cannot read OBJ {str(path)!r}: {e}") from None
    if assets.has_mesh(fname):
        return assets.get_mesh(fname)
    where = f"next to the scene ({cs.base_dir})" if cs.base_dir else "in the working directory"
    raise f.error("filename", f"OBJ file {fname!r} not found {where}, and no built-in mesh named "
                              f"{assets.asset_key(fname)!r}")


def _float_rows(f: _Fields, key: str, width: int, count: Optional[int] = None) -> np.ndarray:
    """An inline (N, width) array of finite numbers within :data:`VALUE_LIMIT` (N = ``count`` if given)."""
    if not f.has(key):
        raise f.error(key, "missing")
    try:
        a = np.asarray(f.obj[key], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise f.error(key, f"must be a list of rows of {width} numbers") from None
    if a.ndim != 2 or a.shape[1] != width or len(a) == 0:
        raise f.error(key, f"must be a non-empty list of rows of {width} numbers, got shape {a.shape}")
    if count is not None and len(a) != count:
        raise f.error(key, f"must have one row per vertex ({len(a)} rows for {count} vertices)")
    if not np.isfinite(a).all():
        raise f.error(key, "holds NaN or Inf")
    check_range(a, f.error, key)
    return a


def _index_rows(f: _Fields, key: str, num_vertices: int) -> np.ndarray:
    """Inline triangle indices, validated like the OBJ loader's: integers (no fractions, no
    booleans) within [0, num_vertices); nothing is wrapped or truncated."""
    if not f.has(key):
        raise f.error(key, "missing")
    try:
        a = np.asarray(f.obj[key])
    except (TypeError, ValueError, OverflowError):
        raise f.error(key, "must be a list of rows of 3 integer vertex indices") from None
    if a.dtype.kind in "iuf" and not isinstance(f.obj[key], np.ndarray) and _holds_bool(f.obj[key]):
        raise f.error(key, "must be rows of 3 integer vertex indices, got true/false")
    if a.dtype.kind not in "iuf":
        # huge (beyond int64), boolean or non-numeric entries: look at them one by one
        for x in a.reshape(-1):
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                raise f.error(key, f"must be rows of 3 integer vertex indices, got {x!r}")
            if not 0 <= int(x) < num_vertices:
                raise f.error(key, f"vertex index {int(x)} out of range (the mesh has {num_vertices} vertices)")
        raise f.error(key, "must be a list of rows of 3 integer vertex indices")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            raise f.error(key, f"vertex indices must be integers, got {a[bad].reshape(-1)[0]!r}")
    if a.ndim != 2 or a.shape[1] != 3 or len(a) == 0:
        raise f.error(key, f"must be a non-empty list of rows of 3 vertex indices, got shape {a.shape}")
    out_of_range = (a < 0) | (a >= num_vertices)
    if out_of_range.any():
        raise f.error(key, f"vertex index {a[out_of_range].reshape(-1)[0]:g} out of range "
                           f"(the mesh has {num_vertices} vertices)")
    return a.astype(np.int64)


def _holds_bool(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return any(_holds_bool(y) for y in x)
    return isinstance(x, (bool, np.bool_))


def _load_texture(tname: str, base_dir: Optional[Path], f: _Fields) -> np.ndarray:
    path = _resolve_file(tname, base_dir)
    if path is not None:
        try:
            return assets.load_texture(str(path))
        except (OSError, ValueError) as e:
            raise f.error("texture", f"cannot read texture {str(path)!r}: {e}") from None
    if assets.has_texture(tname):
        return assets.get_texture(tname)
    raise f.error("texture", f"texture file {tname!r} not found and no built-in texture named "
                             f"{assets.asset_key(tname)!r}")


def _texture_channel_max(img: np.ndarray, f: _Fields, key: str) -> np.ndarray:
    """The reference modulates the diffuse colour by max(r, g, b) of the texel: only that goes to C++."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3:
        a = a[:, :, :3].max(axis=2)
    if a.ndim != 2 or a.size == 0:
        raise f.error(key, f"texture must be an (H, W) or (H, W, C) image, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise f.error(key, "texture holds NaN or Inf")
    return np.ascontiguousarray(a)

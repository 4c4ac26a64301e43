"""Built-in meshes and textures, resolved by name from scene files.

``get_mesh(name) -> Mesh`` and ``get_texture(name) -> (H, W, 3) float32`` look names up in a
registry. Names may be given with a folder or an extension (``/abs/teapot2.obj`` ->
``teapot2``). The built-in meshes (Utah teapot, cube, dodecahedron, cylinder) are registered
under our names and under the basenames of the reference system's OBJ files. Further providers
(furniture meshes, wallpaper textures) live in modules listed in ``PROVIDER_MODULES``; they are
imported lazily on the first lookup and register themselves with ``register_mesh`` /
``register_texture``.
"""
from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path
from typing import Callable, Dict, List, Union

import numpy as np

from .mesh import Mesh, load_obj
from .textures import load_texture

__all__ = [
    "Mesh", "load_obj", "load_texture", "get_mesh", "get_texture", "register_mesh", "register_texture",
    "has_mesh", "has_texture", "mesh_names", "texture_names", "asset_key", "PROVIDER_MODULES",
]

#: Modules imported on the first registry lookup (missing ones are skipped); each registers assets.
PROVIDER_MODULES: List[str] = ["cnsr.assets.builtin", "cnsr.assets.furniture", "cnsr.assets.wallpapers"]

MeshBuilder = Callable[[], Mesh]
TextureBuilder = Callable[[], np.ndarray]

_mesh_builders: Dict[str, MeshBuilder] = {}
_texture_builders: Dict[str, TextureBuilder] = {}
_mesh_cache: Dict[str, Mesh] = {}
_texture_cache: Dict[str, np.ndarray] = {}
_lock = threading.RLock()
_providers_loaded = False


def asset_key(name: Union[str, os.PathLike]) -> str:
    """Registry key of a name or path: its file stem (``dir/teapot2.obj`` -> ``teapot2``)."""
    s = os.fspath(name).replace("\\", "/").rstrip("/")
    base = s.rsplit("/", 1)[-1]
    stem = base.split(".", 1)[0] if "." in base else base
    return stem


def _load_providers() -> None:
    global _providers_loaded
    if _providers_loaded:
        return
    with _lock:
        if _providers_loaded:
            return
        _providers_loaded = True
        for mod in PROVIDER_MODULES:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as e:
                if e.name != mod:  # the provider exists but one of its imports is missing
                    raise


def register_mesh(name: str, builder: MeshBuilder, *, overwrite: bool = True) -> None:
    """Register a mesh under ``name``; ``builder()`` is called once, on first use, and must return a Mesh."""
    key = asset_key(name)
    with _lock:
        if not overwrite and key in _mesh_builders:
            return
        _mesh_builders[key] = builder
        _mesh_cache.pop(key, None)


def register_texture(name: str, builder: TextureBuilder, *, overwrite: bool = True) -> None:
    """Register a texture under ``name``; ``builder()`` returns an (H, W, 3) float array in [0, 1]."""
    key = asset_key(name)
    with _lock:
        if not overwrite and key in _texture_builders:
            return
        _texture_builders[key] = builder
        _texture_cache.pop(key, None)


def has_mesh(name: str) -> bool:
    _load_providers()
    return asset_key(name) in _mesh_builders


def has_texture(name: str) -> bool:
    _load_providers()
    return asset_key(name) in _texture_builders


def mesh_names() -> List[str]:
    _load_providers()
    return sorted(_mesh_builders)


def texture_names() -> List[str]:
    _load_providers()
    return sorted(_texture_builders)


def get_mesh(name: str) -> Mesh:
    """The registered mesh ``name`` (built once and cached). Raises KeyError listing the known names."""
    _load_providers()
    key = asset_key(name)
    with _lock:
        if key in _mesh_cache:
            return _mesh_cache[key]
        if key not in _mesh_builders:
            raise KeyError(f"unknown mesh {name!r}; registered meshes: {', '.join(sorted(_mesh_builders))}")
        mesh = _mesh_builders[key]()
        if not isinstance(mesh, Mesh):
            mesh = Mesh(*mesh)
        mesh.validate(key)
        _mesh_cache[key] = mesh
        return mesh


def get_texture(name: str) -> np.ndarray:
    """The registered texture ``name`` as (H, W, 3) float32 (built once and cached)."""
    _load_providers()
    key = asset_key(name)
    with _lock:
        if key in _texture_cache:
            return _texture_cache[key]
        if key not in _texture_builders:
            raise KeyError(f"unknown texture {name!r}; registered textures: {', '.join(sorted(_texture_builders))}")
        tex = np.asarray(_texture_builders[key](), dtype=np.float32)
        if tex.ndim == 2:
            tex = np.repeat(tex[:, :, None], 3, axis=2)
        if tex.ndim != 3 or tex.shape[2] not in (1, 3, 4):
            raise ValueError(f"texture {name!r} must be (H, W, 3), got shape {tex.shape}")
        tex = np.ascontiguousarray(tex[:, :, :3] if tex.shape[2] >= 3 else np.repeat(tex, 3, axis=2))
        _texture_cache[key] = tex
        return tex

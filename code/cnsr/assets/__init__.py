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
from typing import Any, Callable, Dict, List, Union

import numpy as np

from .mesh import Mesh, load_obj
from .textures import as_rgb, load_texture

__all__ = [
    "Mesh", "load_obj", "load_texture", "get_mesh", "get_texture", "register_mesh", "register_texture",
    "has_mesh", "has_texture", "mesh_names", "texture_names", "asset_key", "PROVIDER_MODULES",
]

#: Modules imported on the first registry lookup (missing ones are skipped); each registers assets.
PROVIDER_MODULES: List[str] = ["cnsr.assets.builtin", "cnsr.assets.furniture", "cnsr.assets.wallpapers"]

MeshBuilder = Callable[[], Mesh]
TextureBuilder = Callable[[], np.ndarray]

_lock = threading.RLock()
_providers_loaded = False


def asset_key(name: Union[str, os.PathLike]) -> str:
    """Registry key of a name or path: its file stem (``dir/teapot2.obj`` -> ``teapot2``)."""
    base = os.fspath(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return base.split(".", 1)[0]


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


class _Registry:
    """One kind of asset: builders by key, each called once on first use; ``finish(key, name,
    built)`` checks and normalizes what a builder returns before it is cached."""

    def __init__(self, kind: str, plural: str, finish: Callable[[str, str, Any], Any]):
        self.kind, self.plural, self.finish = kind, plural, finish
        self.builders: Dict[str, Callable[[], Any]] = {}
        self.cache: Dict[str, Any] = {}

    def register(self, name: str, builder: Callable[[], Any], overwrite: bool) -> None:
        key = asset_key(name)
        with _lock:
            if not overwrite and key in self.builders:
                return
            self.builders[key] = builder
            self.cache.pop(key, None)

    def has(self, name: str) -> bool:
        _load_providers()
        return asset_key(name) in self.builders

    def names(self) -> List[str]:
        _load_providers()
        return sorted(self.builders)

    def get(self, name: str) -> Any:
        _load_providers()
        key = asset_key(name)
        with _lock:
            if key in self.cache:
                return self.cache[key]
            if key not in self.builders:
                raise KeyError(f"unknown {self.kind} {name!r}; registered {self.plural}: "
                               f"{', '.join(sorted(self.builders))}")
            asset = self.finish(key, name, self.builders[key]())
            self.cache[key] = asset
            return asset


def _finish_mesh(key: str, name: str, mesh: Any) -> Mesh:
    if not isinstance(mesh, Mesh):
        mesh = Mesh(*mesh)
    mesh.validate(key)
    return mesh


def _finish_texture(key: str, name: str, tex: Any) -> np.ndarray:
    try:
        return as_rgb(tex)
    except ValueError:
        raise ValueError(f"texture {name!r} must be (H, W, 3), got shape {np.shape(tex)}") from None


_meshes = _Registry("mesh", "meshes", _finish_mesh)
_textures = _Registry("texture", "textures", _finish_texture)


def register_mesh(name: str, builder: MeshBuilder, *, overwrite: bool = True) -> None:
    """Register a mesh under ``name``; ``builder()`` is called once, on first use, and must return a Mesh."""
    _meshes.register(name, builder, overwrite)


def register_texture(name: str, builder: TextureBuilder, *, overwrite: bool = True) -> None:
    """Register a texture under ``name``; ``builder()`` returns an (H, W, 3) float array in [0, 1]."""
    _textures.register(name, builder, overwrite)


def has_mesh(name: str) -> bool:
    return _meshes.has(name)


def has_texture(name: str) -> bool:
    return _textures.has(name)


def mesh_names() -> List[str]:
    return _meshes.names()


def texture_names() -> List[str]:
    return _textures.names()


def get_mesh(name: str) -> Mesh:
    """The registered mesh ``name`` (built once and cached). Raises KeyError listing the known names."""
    return _meshes.get(name)


def get_texture(name: str) -> np.ndarray:
    """The registered texture ``name`` as (H, W, 3) float32 (built once and cached)."""
    return _textures.get(name)

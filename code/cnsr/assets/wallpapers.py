"""Procedural wallpaper and floor textures for ArchViz (float32 ``(H, W, 3)`` arrays in [0, 1]).

The renderer multiplies a material's colour by ``max(r, g, b)`` of the texel, so a wallpaper
is an intensity pattern that the randomizer tints with a hue; the patterns are grey and
tile seamlessly (texture coordinates wrap). Each builder takes the image size and returns
a new array. Importing the module registers them with :mod:`cnsr.assets` by name (the
registry imports it lazily on the first lookup).
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np

SIZE = 256


def _grid(size: int):
    """Texel-centre coordinates ``(u, v)`` in [0, 1), each ``(size, size)``; v grows downwards."""
    t = (np.arange(size) + 0.5) / size
    return np.meshgrid(t, t)


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rgb(intensity: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(intensity, 0.0, 1.0)[..., None], 3, axis=2).astype(np.float32)


def _hash_noise(size: int, cells: int, seed: int) -> np.ndarray:
    """Smooth periodic value noise in [0, 1] with ``cells`` cells per tile (deterministic)."""
    rng = np.random.default_rng(seed)
    lattice = rng.random((cells, cells))
    u, v = _grid(size)
    x, y = u * cells, v * cells
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = _smoothstep(0, 1, x - x0), _smoothstep(0, 1, y - y0)
    x1, y1 = (x0 + 1) % cells, (y0 + 1) % cells
    x0, y0 = x0 % cells, y0 % cells
    top = lattice[y0, x0] * (1 - fx) + lattice[y0, x1] * fx
    bottom = lattice[y1, x0] * (1 - fx) + lattice[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def stripes(size: int = SIZE) -> np.ndarray:
    """Regency stripes: two broad bands per tile with fine pinstripes between them."""
    u, _ = _grid(size)
    x = (u * 2.0) % 1.0
    broad = _smoothstep(0.0, 0.02, x - 0.1) * (1 - _smoothstep(0.0, 0.02, x - 0.45))
    pin = np.exp(-((x - 0.72) / 0.012) ** 2) + np.exp(-((x - 0.83) / 0.012) ** 2)
    return _rgb(0.95 - 0.3 * broad - 0.25 * pin)


def damask(size: int = SIZE) -> np.ndarray:
    """Damask-like ornament: a mirrored floral medallion on a diamond lattice over a fine ground."""
    u, v = _grid(size)
    out = np.zeros_like(u)
    for ou, ov in ((0.0, 0.0), (0.5, 0.5)):  # two medallions per tile: a diamond lattice
        dx = np.abs(((u - ou + 0.5) % 1.0 - 0.5) * 2.0)     # mirror symmetry about the vertical axis
        dv = ((v - ov + 0.5) % 1.0 - 0.5) * 2.0
        r = np.hypot(dx * 1.25, dv)
        a = np.arctan2(dv, dx)
        petals = 0.42 + 0.16 * np.cos(3 * a) + 0.06 * np.cos(9 * a)
        flower = 1 - _smoothstep(0.0, 0.03, r - petals)
        inner = 1 - _smoothstep(0.0, 0.03, np.abs(r - 0.5 * petals) - 0.035)   # engraved inner line
        leaves = (1 - _smoothstep(0.0, 0.03, np.hypot(dx - 0.32, (dv - 0.62) * 1.8) - 0.13)) \
            + (1 - _smoothstep(0.0, 0.03, np.hypot(dx - 0.32, (dv + 0.62) * 1.8) - 0.13))
        out = np.maximum(out, np.clip(flower - 0.7 * inner + leaves, 0, 1))
    ground = 0.03 * np.sin(2 * np.pi * 32 * (u + v))
    return _rgb(0.92 - 0.3 * out + ground)


def checks(size: int = SIZE) -> np.ndarray:
    """Gingham checks: overlapping translucent horizontal and vertical bands with a fine weave."""
    u, v = _grid(size)
    bu = ((u * 4) % 1.0) < 0.5
    bv = ((v * 4) % 1.0) < 0.5
    weave = 0.03 * np.sin(2 * np.pi * 64 * u) * np.sin(2 * np.pi * 64 * v)
    return _rgb(0.95 - 0.2 * bu - 0.2 * bv + weave)


def herringbone(size: int = SIZE) -> np.ndarray:
    """Herringbone: zigzag columns of slanted blocks with thin joints."""
    u, v = _grid(size)
    cols = 4
    x = u * cols
    col = np.floor(x).astype(int)
    fx = x - col
    sign = np.where(col % 2 == 0, 1.0, -1.0)
    y = v * 8 + sign * fx                     # slant alternates column to column
    fy = y - np.floor(y)
    joint = np.minimum(np.minimum(fx, 1 - fx) * 4, np.minimum(fy, 1 - fy) * 8)
    block_shade = 0.04 * ((np.floor(y).astype(int) + col) % 4)  # period divides the 8 rows: seamless
    return _rgb(0.55 + 0.4 * _smoothstep(0.0, 0.12, joint) - block_shade)


def brick(size: int = SIZE) -> np.ndarray:
    """Running-bond brick: offset rows with mortar lines and a little per-brick variation."""
    u, v = _grid(size)
    rows, per_row = 8, 4
    y = v * rows
    row = np.floor(y).astype(int)
    x = u * per_row + 0.5 * (row % 2)
    fx, fy = x - np.floor(x), y - row
    mortar = np.minimum(np.minimum(fx, 1 - fx) * 6, np.minimum(fy, 1 - fy) * 3)
    rng = np.random.default_rng(7)
    shade = rng.uniform(0.0, 0.12, size=(rows, per_row))
    brick_shade = shade[row % rows, np.floor(x).astype(int) % per_row]
    noise = 0.06 * _hash_noise(size, 32, 3)
    return _rgb(0.55 + 0.35 * _smoothstep(0.0, 0.25, mortar) * (1 - brick_shade) - noise)


def floor_planks(size: int = SIZE) -> np.ndarray:
    """Wooden floor boards: staggered planks with joints and a stretched grain."""
    u, v = _grid(size)
    rows = 4
    y = v * rows
    row = np.floor(y).astype(int)
    x = u + 0.37 * row
    fx = (x * 1.0) % 1.0
    fy = y - row
    joint = np.minimum(np.minimum(fx, 1 - fx) * 40, np.minimum(fy, 1 - fy) * 10)
    grain = _hash_noise(size, 64, 11)
    streak = 0.5 + 0.5 * np.sin(2 * np.pi * (v * 48 + 2.0 * grain))
    rng = np.random.default_rng(5)
    plank = rng.uniform(-0.08, 0.08, size=rows)[row % rows]
    return _rgb((0.78 + plank - 0.12 * streak) * (0.45 + 0.55 * _smoothstep(0.0, 1.0, joint)))


#: wallpaper names usable for ArchViz walls (textures resolved by these names)
WALLPAPERS = ("wallpaper_stripes", "wallpaper_damask", "wallpaper_checks", "wallpaper_herringbone",
              "wallpaper_brick")

BUILDERS: Dict[str, Callable[..., np.ndarray]] = {
    "wallpaper_stripes": stripes,
    "wallpaper_damask": damask,
    "wallpaper_checks": checks,
    "wallpaper_herringbone": herringbone,
    "wallpaper_brick": brick,
    "floor_planks": floor_planks,
}


def build(name: str, size: int = SIZE) -> np.ndarray:
    """Build texture ``name`` at ``size`` x ``size`` -> float32 ``(size, size, 3)``."""
    if name not in BUILDERS:   # looked up first: a KeyError inside a builder is a bug to see as such
        raise KeyError(f"unknown procedural texture {name!r}; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](size)


def _register_with_assets() -> None:
    from . import register_texture
    for name, builder in BUILDERS.items():
        register_texture(name, builder)


_register_with_assets()

"""Procedural furniture for the ArchViz scenes, built from boxes, cylinders and bevelled slabs.

Every builder returns a :class:`cnsr.assets.Mesh` in metres, y up, standing on y=0 (the ceiling lamp
hangs below y=0, the mirror frame faces +z), centred on its footprint, with its front towards
+z (a chair's seat front, a sofa's seat). Vertex normals point outwards; uvs are in metres
so a texture with frequency 1 repeats every metre. Hard edges have split vertices.

``DESIGNS`` lists the designs of each furniture kind; ``BUILDERS`` maps every asset name
(e.g. ``table_a``) to its builder. Importing the module registers them with :mod:`cnsr.assets`
(the registry imports it lazily on the first lookup), so scenes reference them by name.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .mesh import Mesh


class MeshBuilder:
    """Accumulates parts; ``build()`` orients every triangle to agree with its vertex normals."""

    def __init__(self):
        self._v: List[np.ndarray] = []
        self._f: List[np.ndarray] = []
        self._n: List[np.ndarray] = []
        self._uv: List[np.ndarray] = []
        self._count = 0

    def add(self, vertices, faces, normals, uvs) -> None:
        v = np.asarray(vertices, np.float64).reshape(-1, 3)
        n = np.asarray(normals, np.float64).reshape(-1, 3)
        n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        self._v.append(v)
        self._n.append(n)
        self._uv.append(np.asarray(uvs, np.float64).reshape(-1, 2))
        self._f.append(np.asarray(faces, np.int64).reshape(-1, 3) + self._count)
        self._count += len(v)

    # ---- primitives ----------------------------------------------------------------------
    def box(self, lo: Sequence[float], hi: Sequence[float]) -> None:
        """Axis-aligned box between corners ``lo`` and ``hi`` (flat faces, 24 vertices)."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        for axis in range(3):
            a, b = [k for k in range(3) if k != axis]
            for side in (0, 1):
                quad = np.zeros((4, 3))
                quad[:, axis] = hi[axis] if side else lo[axis]
                for i, (sa, sb) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
                    quad[i, a] = hi[a] if sa else lo[a]
                    quad[i, b] = hi[b] if sb else lo[b]
                normal = np.zeros(3)
                normal[axis] = 1.0 if side else -1.0
                uv = quad[:, [a, b]] - lo[[a, b]]
                self.add(quad, [[0, 1, 2], [0, 2, 3]], np.tile(normal, (4, 1)), uv)

    def cylinder(self, center: Sequence[float], radius: float, height: float, radius_top: Optional[float] = None,
                 axis: int = 1, segments: int = 24, caps: Tuple[bool, bool] = (True, True)) -> None:
        """Cylinder (or cone frustum with ``radius_top``) whose base centre is ``center`` and which
        extends ``height`` along +``axis`` (0 x, 1 y, 2 z); smooth sides, flat caps."""
        r0, r1 = float(radius), float(radius if radius_top is None else radius_top)
        h = float(height)
        ang = np.linspace(0.0, 2.0 * np.pi, segments + 1)
        c, s = np.cos(ang), np.sin(ang)
        # Local frame: y along the axis; side normal tilts by the taper.
        slope = (r0 - r1) / h
        ring0 = np.stack([r0 * c, np.zeros_like(c), r0 * s], 1)
        ring1 = np.stack([r1 * c, np.full_like(c, h), r1 * s], 1)
        side_n = np.stack([c, np.full_like(c, slope), s], 1)
        verts = np.concatenate([ring0, ring1])
        norms = np.concatenate([side_n, side_n])
        u = ang / (2.0 * np.pi) * 2.0 * np.pi * max(r0, r1)
        uvs = np.concatenate([np.stack([u, np.zeros_like(u)], 1), np.stack([u, np.full_like(u, h)], 1)])
        m = segments + 1
        faces = [[i, i + 1, m + i + 1] for i in range(segments)] + [[i, m + i + 1, m + i] for i in range(segments)]
        parts = [(verts, faces, norms, uvs)]
        for k, (on, ring, y, sign) in enumerate(((caps[0], ring0, 0.0, -1.0), (caps[1], ring1, h, 1.0))):
            if not on:
                continue
            cv = np.concatenate([[[0.0, y, 0.0]], ring[:-1]])
            cf = [[0, 1 + i, 1 + (i + 1) % segments] for i in range(segments)]
            parts.append((cv, cf, np.tile([0.0, sign, 0.0], (len(cv), 1)), cv[:, [0, 2]]))
        perm = {1: [0, 1, 2], 0: [1, 0, 2], 2: [0, 2, 1]}[axis]
        for v, f, n, uv in parts:
            self.add(np.asarray(v)[:, perm] + np.asarray(center, float), f, np.asarray(n)[:, perm], uv)

    def slab(self, center_xz: Sequence[float], y0: float, y1: float, size_xz: Sequence[float], bevel: float = 0.0,
             corner: float = 0.0, corner_segments: int = 4) -> None:
        """Bevelled slab: a rounded rectangle ``size_xz`` (corner radius ``corner``) extruded from
        ``y0`` to ``y1`` with 45-degree chamfers of width ``bevel`` on its top and bottom edges."""
        hx, hz = 0.5 * float(size_xz[0]), 0.5 * float(size_xz[1])
        b = min(float(bevel), 0.5 * (y1 - y0), hx, hz)
        r = min(max(float(corner), b), hx, hz)
        # Ring parameterisation: per corner an arc of ``corner_segments`` steps around its centre.
        dirs, centres = [], []
        for k, (sx, sz) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
            start = 0.5 * np.pi * k
            for t in np.linspace(start, start + 0.5 * np.pi, corner_segments + 1 if r > 0 else 1):
                dirs.append((np.cos(t), np.sin(t)) if r > 0 else (sx / np.sqrt(2), sz / np.sqrt(2)))
                centres.append((sx * (hx - r), sz * (hz - r)))
        dirs, centres = np.array(dirs), np.array(centres)
        cx, cz = float(center_xz[0]), float(center_xz[1])

        def ring(inset: float, y: float) -> np.ndarray:
            if r > 0:
                p = centres + (r - inset) * dirs
            else:  # sharp corners: move the corner point along both axes
                p = centres - inset * np.sign(centres)
            return np.stack([p[:, 0] + cx, np.full(len(p), y), p[:, 1] + cz], 1)

        levels = [(b, y0), (0.0, y0 + b), (0.0, y1 - b), (b, y1)] if b > 0 else [(0.0, y0), (0.0, y1)]
        n2 = np.stack([dirs[:, 0], np.zeros(len(dirs)), dirs[:, 1]], 1)
        for (ia, ya), (ib, yb) in zip(levels[:-1], levels[1:]):
            if yb - ya <= 1e-9:
                continue
            ra, rb = ring(ia, ya), ring(ib, yb)
            # normal of a band: outward, tilted down where the ring grows with height (bottom chamfer)
            tilt = (ia - ib) / (yb - ya)
            nb = n2 - np.array([0.0, 1.0, 0.0]) * tilt
            k = len(ra)
            verts = np.concatenate([ra, rb])
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ra, axis=0), axis=1))])
            uvs = np.concatenate([np.stack([arc, np.full(k, ya)], 1), np.stack([arc, np.full(k, yb)], 1)])
            faces = []
            for i in range(k):
                j = (i + 1) % k
                faces += [[i, j, k + j], [i, k + j, k + i]]
            self.add(verts, faces, np.concatenate([nb, nb]), uvs)
        for (inset, y), sign in ((levels[0], -1.0), (levels[-1], 1.0)):
            rv = ring(inset, y)
            cv = np.concatenate([[[cx, y, cz]], rv])
            k = len(rv)
            cf = [[0, 1 + i, 1 + (i + 1) % k] for i in range(k)]
            self.add(cv, cf, np.tile([0.0, sign, 0.0], (len(cv), 1)), cv[:, [0, 2]])

    # ---- result --------------------------------------------------------------------------
    def build(self) -> Mesh:
        # decide orientation and degeneracy on the float32 positions the renderer will see
        v = np.concatenate(self._v).astype(np.float32).astype(np.float64)
        f = np.concatenate(self._f)
        n = np.concatenate(self._n)
        uv = np.concatenate(self._uv)
        # Orient each triangle counter-clockwise around its outward (vertex) normal.
        e = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        flip = np.einsum("ij,ij->i", e, n[f].sum(axis=1)) < 0
        f[flip] = f[flip][:, [0, 2, 1]]
        # Drop degenerate triangles (collapsed chamfer corners).
        area = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
        f = f[area > 1e-9]
        return Mesh(v.astype(np.float32), f.astype(np.int32), n.astype(np.float32), uv.astype(np.float32))


# ==== designs ==============================================================================
# Dining tables: 1.6 x 0.9 m, 0.75 m high.

def _legs_square(b: MeshBuilder, hx: float, hz: float, inset: float, width: float, y1: float) -> None:
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (hx - inset), sz * (hz - inset)
            b.box((x - width / 2, 0.0, z - width / 2), (x + width / 2, y1, z + width / 2))


def table_a() -> Mesh:
    """Four square legs, aprons and a bevelled top."""
    b = MeshBuilder()
    b.slab((0, 0), 0.71, 0.75, (1.6, 0.9), bevel=0.012, corner=0.02)
    _legs_square(b, 0.8, 0.45, 0.08, 0.065, 0.71)
    b.box((-0.68, 0.6, -0.4), (0.68, 0.71, -0.38))
    b.box((-0.68, 0.6, 0.38), (0.68, 0.71, 0.4))
    return b.build()


def table_b() -> Mesh:
    """Oval top on two turned pedestals with round feet."""
    b = MeshBuilder()
    b.slab((0, 0), 0.715, 0.75, (1.6, 0.9), bevel=0.01, corner=0.42, corner_segments=8)
    for x in (-0.45, 0.45):
        b.cylinder((x, 0.0, 0.0), 0.2, 0.03, radius_top=0.18)
        b.cylinder((x, 0.03, 0.0), 0.06, 0.64, radius_top=0.045)
        b.cylinder((x, 0.67, 0.0), 0.1, 0.045)
    b.box((-0.45, 0.55, -0.03), (0.45, 0.6, 0.03))
    return b.build()


def table_c() -> Mesh:
    """Trestle table: two panel legs on feet, joined by a stretcher."""
    b = MeshBuilder()
    b.slab((0, 0), 0.7, 0.75, (1.6, 0.9), bevel=0.015, corner=0.01)
    for x in (-0.6, 0.6):
        b.box((x - 0.03, 0.05, -0.28), (x + 0.03, 0.7, 0.28))
        b.slab((x, 0.0), 0.0, 0.05, (0.09, 0.8), bevel=0.01)
    b.box((-0.57, 0.3, -0.03), (0.57, 0.38, 0.03))
    return b.build()


# Chairs: 0.46 wide (x), 0.5 deep (z), seat at 0.45, back up to 0.92 at -z.

def chair_a() -> Mesh:
    """Classic: square legs, bevelled seat, rear legs rising into a two-rail back."""
    b = MeshBuilder()
    b.slab((0, 0.01), 0.42, 0.46, (0.46, 0.46), bevel=0.008, corner=0.02)
    w = 0.04
    for sx in (-1, 1):
        x = sx * 0.2
        b.box((x - w / 2, 0.0, 0.17), (x + w / 2, 0.42, 0.21))          # front legs
        b.box((x - w / 2, 0.0, -0.23), (x + w / 2, 0.92, -0.19))        # rear legs + back posts
    b.box((-0.18, 0.78, -0.225), (0.18, 0.9, -0.195))
    b.box((-0.18, 0.6, -0.225), (0.18, 0.66, -0.195))
    return b.build()


def chair_b() -> Mesh:
    """Modern: tapered round legs, thick rounded seat, solid bevelled back panel."""
    b = MeshBuilder()
    b.slab((0, 0.0), 0.4, 0.46, (0.46, 0.48), bevel=0.015, corner=0.06)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.cylinder((sx * 0.18, 0.0, sz * 0.19), 0.014, 0.4, radius_top=0.022, segments=12)
    b.slab((0, -0.225), 0.5, 0.9, (0.44, 0.03), bevel=0.008, corner=0.014)
    b.box((-0.15, 0.46, -0.235), (-0.12, 0.5, -0.215))
    b.box((0.12, 0.46, -0.235), (0.15, 0.5, -0.215))
    return b.build()


def chair_c() -> Mesh:
    """Ladder-back: square legs with stretchers and four horizontal back rungs."""
    b = MeshBuilder()
    b.slab((0, 0.0), 0.43, 0.46, (0.46, 0.48), bevel=0.006, corner=0.01)
    w = 0.036
    for sx in (-1, 1):
        x = sx * 0.205
        b.box((x - w / 2, 0.0, 0.185), (x + w / 2, 0.43, 0.221))
        b.box((x - w / 2, 0.0, -0.24), (x + w / 2, 0.92, -0.204))
        b.box((x - 0.012, 0.12, -0.2), (x + 0.012, 0.15, 0.19))         # side stretchers
    b.box((-0.19, 0.12, 0.19), (0.19, 0.15, 0.21))
    for y in (0.55, 0.64, 0.73, 0.82):
        b.box((-0.19, y, -0.232), (0.19, y + 0.04, -0.212))
    return b.build()


# Sofas (2.0 x 0.9 x 0.8) and armchairs (0.9 x 0.85): three styles, parameterised by width.

def _sofa(style: str, width: float, depth: float, cushions: int) -> Mesh:
    b = MeshBuilder()
    hx, hz = width / 2, depth / 2
    if style == "a":  # boxy: plinth feet, deep base, square arms
        arm, back = 0.18, 0.2
        for sx in (-1, 1):
            for sz in (-1, 1):
                b.box((sx * (hx - 0.08) - 0.03, 0.0, sz * (hz - 0.08) - 0.03),
                      (sx * (hx - 0.08) + 0.03, 0.06, sz * (hz - 0.08) + 0.03))
        b.slab((0, 0), 0.06, 0.4, (width, depth), bevel=0.02, corner=0.03)
        b.slab((0, -hz + back / 2), 0.4, 0.8, (width, back), bevel=0.03, corner=0.04)
        for sx in (-1, 1):
            b.slab((sx * (hx - arm / 2), 0.0), 0.4, 0.62, (arm, depth), bevel=0.03, corner=0.04)
        seat_w = (width - 2 * arm) / cushions
        for i in range(cushions):
            x = -hx + arm + seat_w * (i + 0.5)
            b.slab((x, back / 2), 0.4, 0.52, (seat_w - 0.01, depth - back - 0.01), bevel=0.03, corner=0.05)
    elif style == "b":  # rolled arms on round legs, separate back cushions
        arm, back = 0.16, 0.18
        for sx in (-1, 1):
            for sz in (-1, 1):
                b.cylinder((sx * (hx - 0.1), 0.0, sz * (hz - 0.1)), 0.025, 0.14, radius_top=0.032, segments=12)
        b.slab((0, 0), 0.14, 0.42, (width, depth), bevel=0.015, corner=0.02)
        b.slab((0, -hz + back / 2), 0.42, 0.62, (width, back), bevel=0.02, corner=0.02)
        for sx in (-1, 1):
            b.slab((sx * (hx - arm / 2), 0.0), 0.42, 0.56, (arm, depth), bevel=0.01, corner=0.01)
            b.cylinder((sx * (hx - arm / 2), 0.6, -hz), 0.085, depth, axis=2, segments=16)
        seat_w = (width - 2 * arm) / cushions
        for i in range(cushions):
            x = -hx + arm + seat_w * (i + 0.5)
            b.slab((x, back / 2), 0.42, 0.53, (seat_w - 0.01, depth - back - 0.01), bevel=0.035, corner=0.06)
            b.slab((x, -hz + back + 0.08), 0.53, 0.8, (seat_w - 0.02, 0.16), bevel=0.05, corner=0.07)
    else:  # low modern: slim frame on tapered legs, thin arms, one long seat cushion
        arm, back = 0.08, 0.14
        for sx in (-1, 1):
            for sz in (-1, 1):
                b.cylinder((sx * (hx - 0.06), 0.0, sz * (hz - 0.08)), 0.012, 0.16, radius_top=0.02, segments=12)
        b.slab((0, 0), 0.16, 0.34, (width, depth), bevel=0.01, corner=0.01)
        b.slab((0, -hz + back / 2), 0.34, 0.72, (width, back), bevel=0.02, corner=0.02)
        for sx in (-1, 1):
            b.slab((sx * (hx - arm / 2), 0.0), 0.34, 0.55, (arm, depth), bevel=0.015, corner=0.02)
        b.slab((0, back / 2), 0.34, 0.46, (width - 2 * arm - 0.01, depth - back - 0.01), bevel=0.03, corner=0.04)
    return b.build()


def sofa_a() -> Mesh:
    """Boxy three-seat sofa on plinth feet."""
    return _sofa("a", 2.0, 0.9, 3)


def sofa_b() -> Mesh:
    """Two-seat sofa with rolled arms, round legs and back cushions."""
    return _sofa("b", 2.0, 0.9, 2)


def sofa_c() -> Mesh:
    """Low modern sofa on slim legs with one long cushion."""
    return _sofa("c", 2.0, 0.88, 1)


def armchair_a() -> Mesh:
    """Boxy armchair matching ``sofa_a``."""
    return _sofa("a", 0.9, 0.85, 1)


def armchair_b() -> Mesh:
    """Rolled-arm armchair matching ``sofa_b``."""
    return _sofa("b", 0.9, 0.85, 1)


def armchair_c() -> Mesh:
    """Low modern armchair matching ``sofa_c``."""
    return _sofa("c", 0.82, 0.82, 1)


# Coffee tables: about 1.1 x 0.6 x 0.42.

def coffee_table_a() -> Mesh:
    """Bevelled slab top on four square legs."""
    b = MeshBuilder()
    b.slab((0, 0), 0.38, 0.42, (1.1, 0.6), bevel=0.01, corner=0.03)
    _legs_square(b, 0.55, 0.3, 0.06, 0.05, 0.38)
    return b.build()


def coffee_table_b() -> Mesh:
    """Round drum top on a pedestal and disc foot."""
    b = MeshBuilder()
    b.cylinder((0, 0.37, 0), 0.45, 0.05, segments=40)
    b.cylinder((0, 0.0, 0), 0.28, 0.03, segments=32)
    b.cylinder((0, 0.03, 0), 0.07, 0.34, radius_top=0.09, segments=20)
    return b.build()


def coffee_table_c() -> Mesh:
    """Two-tier table: top and lower shelf on four corner posts."""
    b = MeshBuilder()
    b.slab((0, 0), 0.38, 0.42, (1.2, 0.55), bevel=0.008, corner=0.01)
    b.slab((0, 0), 0.1, 0.13, (1.1, 0.47), bevel=0.005, corner=0.01)
    _legs_square(b, 0.6, 0.275, 0.03, 0.04, 0.38)
    return b.build()


def rug() -> Mesh:
    """A 2.4 x 1.7 m rug, 6 mm thick, with softly rounded corners."""
    b = MeshBuilder()
    b.slab((0, 0), 0.0, RUG_THICKNESS, (2.4, 1.7), bevel=0.003, corner=0.03)
    return b.build()


RUG_THICKNESS = 0.006


def ceiling_lamp() -> Mesh:
    """Pendant lamp hanging from y=0 (the ceiling) down to y=-LAMP_DROP: canopy, rod, drum shade."""
    b = MeshBuilder()
    b.cylinder((0, -0.03, 0), 0.07, 0.03, segments=24)
    b.cylinder((0, -0.45, 0), 0.008, 0.42, segments=8, caps=(False, False))
    b.cylinder((0, -LAMP_DROP, 0), LAMP_SHADE_RADIUS, 0.2, radius_top=0.12, segments=32)
    return b.build()


LAMP_DROP = 0.65
LAMP_SHADE_RADIUS = 0.24


def _mirror_frame(width: float, height: float, bar: float = 0.06, depth: float = 0.04) -> Mesh:
    b = MeshBuilder()
    hw, hh = width / 2, height / 2
    b.box((-hw, -hh, 0.0), (hw, -hh + bar, depth))
    b.box((-hw, hh - bar, 0.0), (hw, hh, depth))
    b.box((-hw, -hh + bar, 0.0), (-hw + bar, hh - bar, depth))
    b.box((hw - bar, -hh + bar, 0.0), (hw, hh - bar, depth))
    b.box((-hw + bar, -hh + bar, 0.0), (hw - bar, hh - bar, 0.01))     # backing board
    return b.build()


#: Outer sizes (width, height) of the mirror frames, and the width of their bars.
MIRROR_SIZES = {"mirror_frame_tall": (0.8, 1.1), "mirror_frame_wide": (1.3, 0.8)}
MIRROR_BAR = 0.06
MIRROR_DEPTH = 0.04


def mirror_frame_tall() -> Mesh:
    """Portrait frame (0.8 x 1.1 m) in the xy plane, 4 cm deep towards +z, centred at the origin."""
    return _mirror_frame(*MIRROR_SIZES["mirror_frame_tall"], MIRROR_BAR, MIRROR_DEPTH)


def mirror_frame_wide() -> Mesh:
    """Landscape frame (1.3 x 0.8 m) in the xy plane, 4 cm deep towards +z, centred at the origin."""
    return _mirror_frame(*MIRROR_SIZES["mirror_frame_wide"], MIRROR_BAR, MIRROR_DEPTH)


#: furniture kind -> asset names of its designs
DESIGNS: Dict[str, Tuple[str, ...]] = {
    "table": ("table_a", "table_b", "table_c"),
    "chair": ("chair_a", "chair_b", "chair_c"),
    "sofa": ("sofa_a", "sofa_b", "sofa_c"),
    "armchair": ("armchair_a", "armchair_b", "armchair_c"),
    "coffee_table": ("coffee_table_a", "coffee_table_b", "coffee_table_c"),
    "rug": ("rug",),
    "lamp": ("ceiling_lamp",),
    "mirror": ("mirror_frame_tall", "mirror_frame_wide"),
}

BUILDERS: Dict[str, Callable[[], Mesh]] = {
    name: globals()[name] for names in DESIGNS.values() for name in names
}


def build(name: str) -> Mesh:
    """Build the furniture asset ``name`` (see ``BUILDERS``)."""
    if name not in BUILDERS:   # looked up first: a KeyError inside a builder is a bug to see as such
        raise KeyError(f"unknown furniture asset {name!r}; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name]()


def _register_with_assets() -> None:
    from . import register_mesh
    for name, builder in BUILDERS.items():
        register_mesh(name, builder)


_register_with_assets()

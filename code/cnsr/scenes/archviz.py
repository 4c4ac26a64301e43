"""ArchViz (``archviz``): a furnished interior with a window, a pendant lamp and a mirror.

Room 7 x 6.5 x 2.6 m (x in [-3.5, 3.5], z in [-3.25, 3.25], floor y=0), 8 bounces, lights
visible. A dining area (table + up to 4 chairs, each present with p=0.75) and a living area
(sofa, armchair, coffee table, rug) stand on opposite halves of the room along x (random which),
each absent with p=0.125 and rotated about Y by a random angle, placed so that no two pieces'
boxes intersect and every piece stays 5 cm inside the walls. A teapot stands on one of the
tables; a framed mirror (roughness 0.05) hangs on a side wall (x = +-3.5). The lighting factor
moves a pendant lamp (its fixture moves with it) carrying a small square light facing down
(emission 10 + 6*palette colour) and a large square "window" light on the front wall
(z = +3.25; emission 15 + 8.5*palette colour). Walls share one procedural wallpaper (one of
:data:`cnsr.assets.wallpapers.WALLPAPERS`) tinted by a random hue; table and chairs share a
wood colour and roughness (0.5 or 1.0); sofa and armchair share a fabric colour; the rug,
coffee table and mirror frame have their own; the teapot gets a random hue and a roughness
from {0.05, 0.5, 1.0}. Colours come from cosine palettes (:mod:`cnsr.scenes.colors`).

Furniture is procedural (:mod:`cnsr.assets.furniture`, several designs per kind) and
referenced by asset name (``"filename": "sofa_b.obj"``); ``models={"sofa": ["my_sofa.obj"]}``
replaces a kind by user OBJ files (y up, front towards +z, any unit: they are scaled to the
kind's nominal size), and ``wallpapers=["paper.png", ...]`` replaces the wallpapers.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..assets import furniture
from ..assets.wallpapers import WALLPAPERS
from ..registry import register_scene_family
from .base import SceneRandomizer, file_entry, grid_entry, material, room_shell, transform
from .colors import PALETTES, hsv
from .placement import Box, rectangles_overlap

HALF_X, HALF_Z, HEIGHT = 3.5, 3.25, 2.6
WALL_CLEARANCE = 0.05

#: Material ids (the ``id`` pass) of ArchViz; walls keep PrimitiveRoom's ids.
MATERIAL_IDS: Dict[str, int] = {
    "floor": 0, "ceiling": 1, "back_wall": 2, "left_wall": 3, "right_wall": 4, "front_wall": 5,
    "window": 6, "ceiling_light": 7, "lamp": 8, "wood": 9, "fabric": 10, "coffee_table": 11, "rug": 12,
    "mirror": 13, "mirror_frame": 14, "teapot": 15,
}

#: kind -> material name
KIND_MATERIAL = {"table": "wood", "chair": "wood", "sofa": "fabric", "armchair": "fabric",
                 "coffee_table": "coffee_table", "rug": "rug", "lamp": "lamp", "mirror": "mirror_frame"}

TEAPOT_FILE = "teapot2.obj"
#: local bounds of the reference teapot mesh (``teapot2``) and its scale on a table
TEAPOT_BOUNDS = ((-0.996, -0.008, -0.611), (0.968, 0.908, 0.611))
TEAPOT_SCALE = 0.17
CHAIR_PROBABILITY = 0.75
AREA_ABSENT_PROBABILITY = 0.125
WINDOW_HALF_SIZE = 0.8
LAMP_LIGHT_HALF_SIZE = 0.15
#: wallpaper tile size in metres and floor texture tile size
WALLPAPER_TILE = 0.65
FLOOR_TILE = 1.2
#: the camera looks at a point at least this far away (horizontally)
LOOK_DISTANCE = 2.5


def _row_matrix(m: np.ndarray) -> List[List[float]]:
    return [[float(x) for x in row] for row in m]


@lru_cache(maxsize=None)
def _builtin_bounds(name: str) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    lo, hi = furniture.build(name).bounds
    return tuple(map(float, lo)), tuple(map(float, hi))


@lru_cache(maxsize=None)
def _obj_bounds(path: str) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    """Bounds of the ``v`` lines of a Wavefront OBJ file."""
    pts = []
    try:
        with open(path, "r", errors="replace") as f:
            for line in f:
                if line.startswith("v "):
                    pts.append([float(x) for x in line.split()[1:4]])
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read OBJ vertices for ArchViz model: {e}") from None
    if not pts:
        raise ValueError(f"{path}: OBJ file has no vertices")
    p = np.asarray(pts)
    return tuple(map(float, p.min(0))), tuple(map(float, p.max(0)))


@register_scene_family("archviz", "ArchViz: a furnished interior, lamp and window lights, wallpapers")
class ArchViz(SceneRandomizer):
    """Randomizer of the ArchViz interiors (see module docstring).

    Args:
        seed: seed of the randomizer's ``numpy.random.Generator``.
        models: optional ``{kind: [OBJ paths]}`` replacing the procedural designs of a kind
            (kinds: table, chair, sofa, armchair, coffee_table, rug, lamp).
        wallpapers: optional list of image paths replacing the procedural wallpapers.
    """

    name = "archviz"
    light_fixture_materials = ("lamp",)

    def __init__(self, seed: Optional[int] = None, models: Optional[Dict[str, Sequence[str]]] = None,
                 wallpapers: Optional[Sequence[str]] = None):
        super().__init__(seed, bounces=8, hide_lights=False)
        self.models = {k: [str(Path(p).resolve()) for p in v] for k, v in (models or {}).items()}
        for kind in self.models:
            if kind not in furniture.DESIGNS or kind == "mirror":
                raise ValueError(f"models: unknown furniture kind {kind!r}; "
                                 f"known: {', '.join(k for k in furniture.DESIGNS if k != 'mirror')}")
        self.wallpapers = [str(Path(p).resolve()) for p in wallpapers] if wallpapers else list(WALLPAPERS)
        self.camera = {"position": [0.0, 1.6, 2.5], "lookat": [0.0, 1.0, 0.0], "fov": 45.0, "near": 0.1, "far": 10.0}
        self.random_scene()

    # ---- models --------------------------------------------------------------------------
    def _model(self, kind: str) -> dict:
        """Pick a design of ``kind``: ``{filename, lo, hi, base}``, where ``base`` (4x4) brings the
        mesh to the kind's convention (footprint centred, standing on y=0, nominal size)."""
        if kind in self.models:
            path = self.models[kind][int(self.rng.integers(len(self.models[kind])))]
            lo, hi = (np.asarray(b) for b in _obj_bounds(path))
            ref_lo, ref_hi = (np.asarray(b) for b in _builtin_bounds(furniture.DESIGNS[kind][0]))
            nominal = float(max(ref_hi[0] - ref_lo[0], ref_hi[2] - ref_lo[2]))
            scale = nominal / max(float(max(hi[0] - lo[0], hi[2] - lo[2])), 1e-9)
            centre = np.array([0.5 * (lo[0] + hi[0]), lo[1] if kind != "lamp" else hi[1], 0.5 * (lo[2] + hi[2])])
            base = np.asarray(transform(0.0, -centre * scale, scale))
            return {"filename": path, "lo": lo.tolist(), "hi": hi.tolist(), "base": base}
        names = furniture.DESIGNS[kind]
        name = names[int(self.rng.integers(len(names)))]
        lo, hi = _builtin_bounds(name)
        return {"filename": name + ".obj", "lo": list(lo), "hi": list(hi), "base": np.eye(4)}

    @staticmethod
    def _piece(kind: str, model: dict, local: np.ndarray) -> dict:
        return {"kind": kind, "filename": model["filename"], "material": KIND_MATERIAL[kind],
                "lo": model["lo"], "hi": model["hi"], "matrix": model["base"] @ local}

    # ---- geometry ------------------------------------------------------------------------
    def _dining_area(self) -> List[dict]:
        rng = self.rng
        table = self._model("table")
        chair = self._model("chair")
        t_box = Box.from_bounds(table["lo"], table["hi"], table["base"])
        (tx0, tz0), (tx1, tz1) = t_box.extent()
        (_, cz0), (_, cz1) = Box.from_bounds(chair["lo"], chair["hi"], chair["base"]).extent()
        depth = cz1 - cz0
        pieces = [self._piece("table", table, np.eye(4))]
        for sx in (-0.25, 0.25):
            for side in (-1, 1):
                present = rng.random() < CHAIR_PROBABILITY
                jitter_rot, jitter_x, pull = rng.uniform(-0.08, 0.08), rng.uniform(-0.03, 0.03), rng.uniform(0.06, 0.14)
                if not present:
                    continue
                x = sx * (tx1 - tx0) + jitter_x
                z = (tz1 + pull + depth / 2) if side > 0 else (tz0 - pull - depth / 2)
                # a chair's front is +z: the chairs on the +z side turn round to face the table
                rot = (np.pi if side > 0 else 0.0) + jitter_rot
                pieces.append(self._piece("chair", chair, np.asarray(transform(rot, (x, 0.0, z)))))
        return pieces

    def _living_area(self) -> List[dict]:
        rng = self.rng
        sofa, arm, coffee, rug = (self._model(k) for k in ("sofa", "armchair", "coffee_table", "rug"))
        side = 1.0 if rng.random() < 0.5 else -1.0
        (kx0, kz0), (kx1, kz1) = Box.from_bounds(coffee["lo"], coffee["hi"], coffee["base"]).extent()
        (sx0, sz0), (sx1, sz1) = Box.from_bounds(sofa["lo"], sofa["hi"], sofa["base"]).extent()
        (ax0, az0), (ax1, az1) = Box.from_bounds(arm["lo"], arm["hi"], arm["base"]).extent()
        sofa_z = kz0 - rng.uniform(0.3, 0.45) - sz1
        arm_x = side * (kx1 + rng.uniform(0.45, 0.6) + 0.5 * (az1 - az0))
        pieces = [self._piece("rug", rug, np.asarray(transform(0.0, (0.0, 0.0, 0.5 * (sofa_z + kz1)))))]
        pieces.append(self._piece("sofa", sofa, np.asarray(transform(0.0, (0.0, 0.0, sofa_z)))))
        pieces.append(self._piece("coffee_table", coffee, np.eye(4)))
        # the armchair turns to face the coffee table
        pieces.append(self._piece("armchair", arm, np.asarray(transform(-side * np.pi / 2, (arm_x, 0.0, 0.0)))))
        rug_box = _box(pieces[0])
        lift = np.asarray(transform(0.0, (0.0, rug_box.y1, 0.0)))
        for p in pieces[1:]:
            if rectangles_overlap(_box(p).corners, rug_box.corners):
                p["matrix"] = p["matrix"] @ lift      # stands on the rug
        return pieces

    def _place_area(self, pieces: List[dict], side: float, placed: List[dict], tries: int = 200) -> List[dict]:
        """Rotate/translate an area group so it fits in the room (preferring its half) without
        touching ``placed``; returns the moved pieces, or [] if it cannot be placed."""
        rng = self.rng
        candidates = [(float(rng.uniform(0, 2 * np.pi)), float(side * rng.uniform(0.4, 2.6)),
                       float(rng.uniform(-2.2, 2.2))) for _ in range(tries)]
        # deterministic fall-backs: axis-aligned rotations at a few spots of the half
        candidates += [(r * np.pi / 2, side * x, z) for r in range(4) for x in (1.75, 1.2, 2.3)
                       for z in (0.0, -1.0, 1.0, -2.0, 2.0)]
        others = [_box(p) for p in placed]
        for rot, x, z in candidates:
            group = np.asarray(transform(rot, (x, 0.0, z)))
            moved = [dict(p, matrix=p["matrix"] @ group) for p in pieces]
            boxes = [_box(p) for p in moved]
            if not all(b.inside(-HALF_X, HALF_X, -HALF_Z, HALF_Z, WALL_CLEARANCE) for b in boxes):
                continue
            if any(b.overlaps(o) for b in boxes for o in others):
                continue
            return moved
        return []

    def randomize_geometry(self) -> None:
        """Furniture designs and layout, the teapot's table and spot, and the mirror."""
        rng = self.rng
        dining_side = 1.0 if rng.random() < 0.5 else -1.0
        dining_on = rng.random() >= AREA_ABSENT_PROBABILITY
        living_on = rng.random() >= AREA_ABSENT_PROBABILITY
        dining, living = self._dining_area(), self._living_area()
        placed: List[dict] = []
        if dining_on:
            placed += self._place_area(dining, dining_side, placed)
        if living_on:
            placed += self._place_area(living, -dining_side, placed)

        teapot = None
        tables = [p for p in placed if p["kind"] in ("table", "coffee_table")]
        choice, (u, v), rot = int(rng.integers(2)), rng.uniform(-1, 1, size=2), float(rng.uniform(0, 2 * np.pi))
        if tables:
            table = tables[choice % len(tables)]
            lo, hi = np.asarray(table["lo"]), np.asarray(table["hi"])
            base = np.asarray(table["matrix"])
            # keep the teapot well inside the top (0.55 of the half-size also fits oval/round tops)
            half = 0.5 * (hi - lo)
            spot_local = 0.5 * (lo + hi) + np.array([u * max(half[0] * 0.55 - 0.18, 0.0), 0.0,
                                                     v * max(half[2] * 0.55 - 0.18, 0.0)])
            top = _box(table).y1
            world = spot_local @ base[:3, :3] + base[3, :3]
            teapot = {"kind": "teapot", "filename": TEAPOT_FILE, "material": "teapot",
                      "lo": list(TEAPOT_BOUNDS[0]), "hi": list(TEAPOT_BOUNDS[1]),
                      "matrix": np.asarray(transform(rot, (world[0], top - TEAPOT_BOUNDS[0][1] * TEAPOT_SCALE,
                                                         world[2]), TEAPOT_SCALE))}
            if any(_box(teapot).overlaps(_box(p)) for p in placed):
                teapot = None

        frame_name = furniture.DESIGNS["mirror"][int(rng.integers(len(furniture.DESIGNS["mirror"])))]
        fw, fh = furniture.MIRROR_SIZES[frame_name]
        wall = 1.0 if rng.random() < 0.5 else -1.0
        mz = float(rng.uniform(-HALF_Z + fw / 2 + 0.3, HALF_Z - fw / 2 - 0.3))
        my = float(min(rng.uniform(1.35, 1.65), HEIGHT - 0.15 - fh / 2))
        mirror = {"frame": frame_name, "wall": wall, "y": my, "z": mz, "size": (fw, fh)}

        self._state["geometry"] = {
            "pieces": [_freeze(p) for p in placed] + ([_freeze(teapot)] if teapot else []),
            "mirror": mirror,
        }

    # ---- materials -----------------------------------------------------------------------
    def randomize_materials(self) -> None:
        """Wallpaper and its tint, floor, wood, fabric, coffee table, rug, frame and teapot."""
        rng = self.rng
        p = PALETTES
        wallpaper = self.wallpapers[int(rng.integers(len(self.wallpapers)))]
        self._state["material"] = {
            "wallpaper": wallpaper,
            "wall_color": hsv(rng.random(), rng.uniform(0.15, 0.55), rng.uniform(0.75, 1.0)),
            "floor": (p["floor"](rng.random()), float((0.5, 1.0)[rng.integers(2)])),
            "wood": (p["wood"](rng.random()), float((0.5, 1.0)[rng.integers(2)])),
            "fabric": (p["fabric"](rng.random()), 1.0),
            "coffee_table": (p["wood"](rng.random()), float((0.5, 1.0)[rng.integers(2)])),
            "rug": (p["rug"](rng.random()), 1.0),
            "mirror_frame": (p["wood"](rng.random()), 0.5),
            "teapot": (hsv(rng.random(), 1.0, 1.0), float((0.05, 0.5, 1.0)[rng.integers(3)])),
        }

    # ---- lighting ------------------------------------------------------------------------
    def randomize_lighting(self) -> None:
        """Lamp position and light colour; window position and colour."""
        rng = self.rng
        lamp_xz = [float(rng.uniform(-2.5, 2.5)), float(rng.uniform(-2.2, 2.2))]
        lamp_emission = [10.0 + 6.0 * c for c in PALETTES["light"](rng.random())]
        window_x = float(rng.uniform(-HALF_X + WINDOW_HALF_SIZE + 0.4, HALF_X - WINDOW_HALF_SIZE - 0.4))
        window_emission = [15.0 + 8.5 * c for c in PALETTES["light"](rng.random())]
        self._state["lighting"] = {"lamp": lamp_xz, "lamp_emission": lamp_emission, "window_x": window_x,
                                   "window_emission": window_emission}

    # ---- camera --------------------------------------------------------------------------
    def random_view(self) -> None:
        """Eye at 1.6 +- 0.2 m in the outer part of the room, looking across it: at a point of the
        middle of the room (where the furniture stands) at least 2.5 m away."""
        rng = self.rng
        while True:
            x, z = rng.uniform(-HALF_X + 0.5, HALF_X - 0.5), rng.uniform(-HALF_Z + 0.5, HALF_Z - 0.5)
            if (x / (HALF_X - 0.5)) ** 2 + (z / (HALF_Z - 0.5)) ** 2 >= 0.35:
                break
        pos = [float(x), float(1.6 + rng.uniform(-0.2, 0.2)), float(z)]
        look = [0.0, 0.8, 0.0]
        for _ in range(100):
            cand = [float(rng.uniform(-2.0, 2.0)), float(rng.uniform(0.5, 1.2)), float(rng.uniform(-1.8, 1.8))]
            if np.hypot(cand[0] - pos[0], cand[2] - pos[2]) >= LOOK_DISTANCE:
                look = cand
                break
        self.camera["position"], self.camera["lookat"] = pos, look

    def animate_view(self, t: float) -> None:
        """Smooth orbit, ``t`` in [0, 1): an ellipse 2.6 x 2.4 m at eye height, looking across."""
        w = 2.0 * np.pi * float(t)
        self.camera["position"] = [float(2.6 * np.sin(w)), float(1.6 + 0.1 * np.cos(2 * w)), float(2.4 * np.cos(w))]
        self.camera["lookat"] = [float(-1.0 * np.sin(w)), 0.9, float(-1.0 * np.cos(w))]

    # ---- JSON ----------------------------------------------------------------------------
    def _materials_json(self) -> Dict[str, dict]:
        m, l = self._state["material"], self._state["lighting"]
        ids = MATERIAL_IDS
        tex = m["wallpaper"]
        wall = lambda name, width: material(m["wall_color"], id=ids[name], texture=tex,
                                            texture_frequency=(width / WALLPAPER_TILE, HEIGHT / WALLPAPER_TILE))
        mats = {
            "floor": material(m["floor"][0], roughness=m["floor"][1], id=ids["floor"], texture="floor_planks",
                              texture_frequency=(2 * HALF_X / FLOOR_TILE, 2 * HALF_Z / FLOOR_TILE)),
            "ceiling": material((0.9, 0.9, 0.9), id=ids["ceiling"]),
            "back_wall": wall("back_wall", 2 * HALF_X),
            "left_wall": wall("left_wall", 2 * HALF_Z),
            "right_wall": wall("right_wall", 2 * HALF_Z),
            "front_wall": wall("front_wall", 2 * HALF_X),
        }
        for name in ("wood", "fabric", "coffee_table", "rug", "mirror_frame", "teapot"):
            colour, roughness = m[name]
            mats[name] = material(colour, roughness=roughness, id=ids[name])
        mats["mirror"] = material((0.95, 0.95, 0.95), roughness=0.05, id=ids["mirror"])
        mats["lamp"] = material((0.8, 0.78, 0.72), roughness=0.5, id=ids["lamp"])
        mats["window"] = material((0, 0, 0), emission=l["window_emission"], id=ids["window"])
        mats["ceiling_light"] = material((0, 0, 0), emission=l["lamp_emission"], id=ids["ceiling_light"])
        return mats

    def _lights_json(self) -> List[dict]:
        l = self._state["lighting"]
        lx, lz = l["lamp"]
        # Light quads: a square of half-size max(size) (the renderer's convention for lights).
        return [
            grid_entry("window", (l["window_x"], 1.4, HALF_Z - 0.002), (0, 0, -1), [WINDOW_HALF_SIZE] * 3),
            grid_entry("ceiling_light", (lx, HEIGHT - furniture.LAMP_DROP - 0.002, lz), (0, -1, 0),
                       [LAMP_LIGHT_HALF_SIZE] * 3),
        ]

    def _geometry_json(self) -> List[dict]:
        g, l = self._state["geometry"], self._state["lighting"]
        out = [file_entry(p["material"], p["filename"], p["matrix"]) for p in g["pieces"]]
        lx, lz = l["lamp"]
        out.append(file_entry("lamp", "ceiling_lamp.obj", transform(0.0, (lx, HEIGHT, lz))))
        mi = g["mirror"]
        fw, fh = mi["size"]
        wall_x = mi["wall"] * HALF_X
        inward = -mi["wall"]
        out.append(file_entry("mirror_frame", mi["frame"] + ".obj",
                              transform(inward * np.pi / 2, (wall_x + inward * 0.001, mi["y"], mi["z"]))))
        glass = (1.0, fh - 2 * furniture.MIRROR_BAR, fw - 2 * furniture.MIRROR_BAR)
        out.append(grid_entry("mirror", (wall_x + inward * 0.02, mi["y"], mi["z"]), (inward, 0, 0), glass))
        return out + room_shell(HALF_X, HALF_Z, 0.0, HEIGHT)

    # ---- inspection ----------------------------------------------------------------------
    def furniture_boxes(self) -> List[Tuple[str, Box]]:
        """``(kind, oriented box)`` of every placed piece (teapot included), for checks and tests."""
        return [(p["kind"], _box(p)) for p in self._state["geometry"]["pieces"]]


def _box(piece: dict) -> Box:
    return Box.from_bounds(piece["lo"], piece["hi"], piece["matrix"])


def _freeze(piece: dict) -> dict:
    """A piece with its matrix as nested lists (JSON-serialisable state)."""
    return dict(piece, matrix=_row_matrix(np.asarray(piece["matrix"])))

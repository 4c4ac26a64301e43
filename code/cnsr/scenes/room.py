"""PrimitiveRoom (``room``) and its variants: a Cornell-box-like room with up to five primitives.

Numbers follow the reference system: floor y=-0.5, ceiling y=2.5, walls at x,z = +-3 (quads
6 wide, 3 high), 4 bounces, lights hidden from the camera. Each primitive (sphere, cube,
dodecahedron, cylinder, Utah teapot; about one unit in size, standing on the floor) is shown
with probability 0.5 at x, z drawn in [-2.25, 2.25] and, as in the reference's scene files,
snapped to the unit grid; two objects are at least 1.55 apart (so never in neighbouring grid
cells, diagonals included) or the object is retried up to 5 times and otherwise hidden.

Variants: ``manylightroom`` (10 sphere lights, each on with p=0.5, grey emission
15*U(0.1, 1)), ``manymaterialroom`` (uniform RGB colours, roughness uniform in [0.05, 1]),
``manymanyroom`` (both) and ``fewmaterialroom`` (10 lights with per-channel emission
U(0, 15); objects white and diffuse). With many lights at least one is always on, so no
scene is black (the reference could draw ten lights off).
"""
from __future__ import annotations

from functools import partial
from typing import Dict, List, Optional

import numpy as np

from ..registry import register_scene_family
from .base import SceneRandomizer, file_entry, material, room_shell, sphere_entry, transform
from .colors import hsv

FLOOR_Y, CEILING_Y, HALF_ROOM = -0.5, 2.5, 3.0

#: object name -> (mesh filename or None for the analytic sphere, bounding-circle radius about
#: the object's origin in the xz plane). File names are those of the reference scene files;
#: the renderer resolves them in the built-in asset registry by stem.
OBJECTS: Dict[str, tuple] = {
    "sphere": (None, 0.5),
    "cube": ("cube_bigger.obj", 0.5 * np.sqrt(2.0)),
    "dodecahedron": ("dodecahedron.obj", 0.5),
    "cylinder": ("cylinder.obj", 0.36),
    "teapot": ("teapot2.obj", 1.0),
}

WALLS = ("back_wall", "left_wall", "right_wall", "front_wall")

#: Material ids of the spec (the ``id`` pass). Many-light rooms give all lights id 6.
MATERIAL_IDS: Dict[str, int] = {"ground": 0, "ceiling": 1, "back_wall": 2, "left_wall": 3, "right_wall": 4,
                                "front_wall": 5, "light": 6, "dodecahedron": 7, "cylinder": 8, "cube": 9,
                                "sphere": 10, "teapot": 11}

ROUGHNESS_CHOICES = (1.0, 0.5, 0.05)
MIN_DISTANCE = 1.55
PLACEMENT_TRIES = 5
PLACEMENT_RANGE = 2.25
NUM_MANY_LIGHTS = 10
LIGHT_RADIUS = 0.125
#: the reference's sphere entries carry this local centre, moved by their transform
SPHERE_LOCAL = (0.0, 0.5, 0.0)


class PrimitiveRoom(SceneRandomizer):
    """Randomizer of the PrimitiveRoom family (see module docstring).

    Args:
        seed: seed of the randomizer's ``numpy.random.Generator``.
        many_lights: 10 sphere lights instead of one.
        many_materials: uniform RGB colours and continuous roughness.
        few_materials: white diffuse objects and coloured lights (``fewmaterialroom``).
        snap_to_grid: snap object positions to the unit grid, as the reference did. When off,
            positions are continuous and two objects stay ``max(1.55, r_i + r_j)`` apart, with
            ``r`` their bounding-circle radii, so they never intersect either.
    """

    name = "room"

    def __init__(self, seed: Optional[int] = None, many_lights: bool = False, many_materials: bool = False,
                 few_materials: bool = False, snap_to_grid: bool = True):
        super().__init__(seed, bounces=4, hide_lights=True)
        self.many_lights = bool(many_lights or few_materials)
        self.many_materials = bool(many_materials)
        self.few_materials = bool(few_materials)
        self.snap_to_grid = bool(snap_to_grid)
        self.camera = {"position": [0.0, 1.5, 2.5], "lookat": [0.0, 0.5, 0.0], "fov": 75.0, "near": 0.01,
                       "far": 100.0}
        self.random_scene()

    # ---- geometry ------------------------------------------------------------------------
    def randomize_geometry(self) -> None:
        """Show each object with p=0.5 at a free spot on the floor, with a random rotation about Y."""
        rng = self.rng
        placed: List[dict] = []
        for name, (_, radius) in OBJECTS.items():
            shown = rng.random() < 0.5
            rotation = float(rng.uniform(0.0, 2.0 * np.pi))
            if not shown:
                continue
            # snapped positions are at most 2 from the centre, where every object fits; continuous
            # ones keep each object's bounding circle inside the walls
            reach = PLACEMENT_RANGE if self.snap_to_grid else min(PLACEMENT_RANGE, HALF_ROOM - radius - 0.02)
            for _ in range(PLACEMENT_TRIES):
                xz = rng.uniform(-reach, reach, size=2)
                if self.snap_to_grid:
                    xz = np.round(xz)
                if all(self._far_enough(xz, radius, p) for p in placed):
                    placed.append({"name": name, "x": float(xz[0]), "z": float(xz[1]), "rotation": rotation,
                                   "radius": radius})
                    break
        self._state["geometry"] = {"objects": placed}

    def _far_enough(self, xz: np.ndarray, radius: float, other: dict) -> bool:
        d = float(np.hypot(xz[0] - other["x"], xz[1] - other["z"]))
        need = MIN_DISTANCE if self.snap_to_grid else max(MIN_DISTANCE, radius + other["radius"] + 0.02)
        return d >= need

    # ---- materials -----------------------------------------------------------------------
    def _colour(self, saturated: bool) -> List[float]:
        if saturated:
            return hsv(self.rng.random(), 1.0, 1.0)
        return [float(c) for c in self.rng.random(3)]

    def randomize_materials(self) -> None:
        """Wall colours (saturated hues, or uniform RGB with many materials) and object colours and
        roughness; floor and ceiling stay white and diffuse."""
        rng = self.rng
        walls = {w: self._colour(saturated=not self.many_materials) for w in WALLS}
        objects = {}
        for name in OBJECTS:
            if self.few_materials:
                objects[name] = ([1.0, 1.0, 1.0], 1.0)
            elif self.many_materials:
                objects[name] = (self._colour(saturated=False), float(rng.uniform(0.05, 1.0)))
            else:
                objects[name] = (self._colour(saturated=True), float(ROUGHNESS_CHOICES[rng.integers(3)]))
        self._state["material"] = {"walls": walls, "objects": objects}

    # ---- lighting ------------------------------------------------------------------------
    def _light_position(self) -> List[float]:
        x, z = self.rng.uniform(-PLACEMENT_RANGE, PLACEMENT_RANGE, size=2)
        y = self.rng.uniform(1.0, 1.85)
        return [float(x), float(y), float(z)]

    def randomize_lighting(self) -> None:
        """One white sphere light (emission 35), or 10 lights each on with p=0.5 (at least one)."""
        rng = self.rng
        if not self.many_lights:
            self._state["lighting"] = {"lights": [{"material": "light", "translation": self._light_position(),
                                                   "on": True}], "emissions": {}}
            return
        lights, emissions = [], {}
        for i in range(NUM_MANY_LIGHTS):
            name = f"light{i}"
            translation = self._light_position()
            on = bool(rng.random() < 0.5)
            if self.few_materials:
                emissions[name] = [float(e) for e in rng.uniform(0.0, 15.0, size=3)]
            else:
                emissions[name] = [float(15.0 * rng.uniform(0.1, 1.0))] * 3
            lights.append({"material": name, "translation": translation, "on": on})
        if not any(l["on"] for l in lights):
            lights[int(rng.integers(NUM_MANY_LIGHTS))]["on"] = True
        self._state["lighting"] = {"lights": lights, "emissions": emissions}

    # ---- camera --------------------------------------------------------------------------
    def random_view(self) -> None:
        """Camera on a ring of radius 1.5..3 at height 1..2, looking into [0,1]x[0,2]x[0,1]."""
        rng = self.rng
        a, b = rng.uniform(0.0, 2.0 * np.pi, size=2)
        u, v = rng.random(2)
        y = rng.uniform(1.0, 2.0)
        self.camera["position"] = [float(np.sin(a) * (1.5 + 1.5 * u)), float(y), float(np.cos(b) * (1.5 + 1.5 * v))]
        self.camera["lookat"] = [float(c) for c in rng.uniform((0.0, 0.0, 0.0), (1.0, 2.0, 1.0))]

    def animate_view(self, t: float) -> None:
        """Smooth orbit, ``t`` in [0, 1): radius 2.5, height 1.5 + 0.5 cos, looking at the origin."""
        w = 2.0 * np.pi * float(t)
        self.camera["position"] = [float(2.5 * np.sin(w)), float(1.5 + 0.5 * np.cos(w)), float(2.5 * np.cos(w))]
        self.camera["lookat"] = [0.0, 0.0, 0.0]

    # ---- JSON ----------------------------------------------------------------------------
    def _materials_json(self) -> Dict[str, dict]:
        m = self._state["material"]
        mats = {"ground": material((1, 1, 1), id=MATERIAL_IDS["ground"]),
                "ceiling": material((1, 1, 1), id=MATERIAL_IDS["ceiling"])}
        for w in WALLS:
            mats[w] = material(m["walls"][w], id=MATERIAL_IDS[w])
        for name in OBJECTS:
            colour, roughness = m["objects"][name]
            mats[name] = material(colour, roughness=roughness, id=MATERIAL_IDS[name])
        mats["light"] = material((0, 0, 0), emission=(35, 35, 35), id=MATERIAL_IDS["light"])
        for name, emission in self._state["lighting"]["emissions"].items():
            mats[name] = material((0, 0, 0), emission=emission, id=MATERIAL_IDS["light"])
        return mats

    def _lights_json(self) -> List[dict]:
        return [sphere_entry(l["material"], LIGHT_RADIUS, transform(0.0, l["translation"]), SPHERE_LOCAL)
                for l in self._state["lighting"]["lights"] if l["on"]]

    def _geometry_json(self) -> List[dict]:
        out = []
        for o in self._state["geometry"]["objects"]:
            m = transform(o["rotation"], (o["x"], FLOOR_Y, o["z"]))
            filename = OBJECTS[o["name"]][0]
            if filename is None:
                out.append(sphere_entry(o["name"], 0.5, m, SPHERE_LOCAL))
            else:
                out.append(file_entry(o["name"], filename, m))
        return out + room_shell(HALF_ROOM, HALF_ROOM, FLOOR_Y, CEILING_Y, floor="ground")


#: dataset name -> (PrimitiveRoom options, what varies: the dataset's summary)
VARIANTS: Dict[str, tuple] = {
    "room": ({}, "PrimitiveRoom: up to five primitives with saturated hues, one hidden sphere light"),
    "manylightroom": ({"many_lights": True}, "10 sphere lights, each on with p = 0.5"),
    "manymaterialroom": ({"many_materials": True}, "uniform RGB colours, continuous roughness"),
    "manymanyroom": ({"many_lights": True, "many_materials": True}, "many lights and many materials"),
    "fewmaterialroom": ({"many_lights": True, "few_materials": True},
                        "white diffuse objects lit by 10 coloured lights"),
}


def variant(name: str, seed: Optional[int] = None, **options) -> PrimitiveRoom:
    """The PrimitiveRoom randomizer of dataset ``name`` (``room``, ``manylightroom``, ...)."""
    rz = PrimitiveRoom(seed, **{**VARIANTS[name][0], **options})
    rz.name = name
    return rz


for _name, (_, _summary) in VARIANTS.items():
    register_scene_family(_name, _summary, default=_name == "room")(partial(variant, _name))   # the reference's default

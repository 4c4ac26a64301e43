"""The randomizer base class and the builders of scene-JSON entries.

Every randomizer keeps its scene as three independent parts, one per factor of partition
training, plus a camera:

* ``lighting``  — light positions, emissions, on/off states (and, in ArchViz, the lamp
  fixture that carries the ceiling light);
* ``geometry``  — which objects exist, their shapes, placement and rotations;
* ``material``  — colours, roughness and textures of every non-emissive material;
* the camera    — ``random_view()`` / ``animate_view(t)``; never part of a factor.

``to_json()`` assembles the three parts into the scene description of the reference system
(``seed``, ``cache``, ``bounces``, ``hide_lights``, ``top_level_acceleration``, ``camera``,
``materials``, ``lights``, ``geometry``), with 4x4 transforms in row-vector convention
(``p' = p . M``, translation in the last row), exactly as the paper's randomizers wrote them.
"""
from __future__ import annotations

import copy as _copy
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

#: Factor ids of partition training (``factor.txt`` of a batch); -1 = everything random.
LIGHTING, GEOMETRY, MATERIAL, ALL = 0, 1, 2, -1
FACTORS: Dict[int, str] = {LIGHTING: "lighting", GEOMETRY: "geometry", MATERIAL: "material", ALL: "all"}

Matrix = List[List[float]]


def _floats(v: Iterable[float]) -> List[float]:
    return [float(x) for x in v]


def transform(rotation_y: float = 0.0, translation: Sequence[float] = (0.0, 0.0, 0.0),
              scale: float | Sequence[float] = 1.0) -> Matrix:
    """4x4 row-vector matrix (list of 4 rows) that scales, rotates by ``rotation_y`` radians about
    +Y (counter-clockwise seen from above) and then translates: ``p' = p . M``."""
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    c, n = np.cos(rotation_y), np.sin(rotation_y)
    # Column convention R = [[c,0,n],[0,1,0],[-n,0,c]]; row vectors use its transpose.
    m = np.eye(4)
    m[:3, :3] = np.diag(s) @ np.array([[c, 0.0, -n], [0.0, 1.0, 0.0], [n, 0.0, c]])
    m[3, :3] = translation
    return [[float(x) for x in row] for row in m]


IDENTITY: Matrix = transform()


def apply_transform(matrix: Sequence[Sequence[float]], points: np.ndarray) -> np.ndarray:
    """Transform points ``(N, 3)`` by a row-vector 4x4 ``matrix`` -> ``(N, 3)``."""
    m = np.asarray(matrix, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ m[:3, :3] + m[3, :3]


def material(color: Sequence[float], emission: Sequence[float] = (0.0, 0.0, 0.0), roughness: float = 1.0,
             id: int = 0, texture: str = "", texture_frequency: Sequence[float] = (1.0, 1.0),
             ior: float = 15.0) -> dict:
    """One entry of ``materials`` with the reference's keys, in the reference's order."""
    return {"color": _floats(color), "emission": _floats(emission), "roughness": float(roughness),
            "ior": float(ior), "texture": str(texture), "texture_frequency": _floats(texture_frequency),
            "id": int(id)}


def grid_entry(material_name: str, position: Sequence[float], normal: Sequence[float], size: Sequence[float],
               matrix: Optional[Matrix] = None) -> dict:
    """A ``grid`` (quad) entry: centred at ``position``, facing ``normal``, spanning ``size``."""
    return {"transform": _copy.deepcopy(matrix or IDENTITY), "material": material_name, "type": "grid",
            "position": _floats(position), "normal": _floats(normal), "size": _floats(size)}


def room_shell(half_x: float, half_z: float, floor_y: float, ceiling_y: float,
               floor: str = "floor") -> List[dict]:
    """The six inward-facing quads of a box room ``[-half_x, half_x] x [floor_y, ceiling_y] x
    [-half_z, half_z]``: materials ``back_wall`` (-z), ``front_wall``, ``left_wall`` (-x),
    ``right_wall``, ``floor`` (named by ``floor``) and ``ceiling``."""
    height, mid = ceiling_y - floor_y, 0.5 * (ceiling_y + floor_y)
    return [
        grid_entry("back_wall", (0, mid, -half_z), (0, 0, 1), (2 * half_x, height, 1)),
        grid_entry("front_wall", (0, mid, half_z), (0, 0, -1), (2 * half_x, height, 1)),
        grid_entry("left_wall", (-half_x, mid, 0), (1, 0, 0), (1, height, 2 * half_z)),
        grid_entry("right_wall", (half_x, mid, 0), (-1, 0, 0), (1, height, 2 * half_z)),
        grid_entry(floor, (0, floor_y, 0), (0, 1, 0), (2 * half_x, 1, 2 * half_z)),
        grid_entry("ceiling", (0, ceiling_y, 0), (0, -1, 0), (2 * half_x, 1, 2 * half_z)),
    ]


def sphere_entry(material_name: str, radius: float, matrix: Matrix,
                 position: Sequence[float] = (0.0, 0.5, 0.0)) -> dict:
    """An analytic ``sphere``; like the reference, the centre is ``position`` moved by ``matrix``."""
    return {"transform": _copy.deepcopy(matrix), "material": material_name, "type": "sphere",
            "radius": float(radius), "position": _floats(position)}


def file_entry(material_name: str, filename: str, matrix: Matrix) -> dict:
    """A ``file`` (triangle mesh) entry; ``filename`` is a path or a built-in asset name + ``.obj``."""
    return {"transform": _copy.deepcopy(matrix), "material": material_name, "type": "file",
            "filename": str(filename)}


class SceneRandomizer:
    """Base of the scene randomizers; see the module docstring of :mod:`cnsr.scenes`.

    Subclasses fill ``self._state`` (keys ``lighting``, ``geometry``, ``material``) in the three
    ``randomize_*`` methods, set ``self.camera`` in ``random_view``/``animate_view`` and build the
    JSON lists in ``_materials_json``, ``_lights_json`` and ``_geometry_json``.
    """

    #: dataset name (``make_randomizer`` key)
    name = "base"
    #: materials of meshes that belong to the lighting factor (they move with a light)
    light_fixture_materials: tuple = ()

    def __init__(self, seed: Optional[int] = None, bounces: int = 4, hide_lights: bool = True):
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 31))
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.settings = {"bounces": int(bounces), "hide_lights": bool(hide_lights), "cache": True,
                         "top_level_acceleration": "NoAccel"}
        self.camera: dict = {}
        self._state: dict = {"lighting": None, "geometry": None, "material": None}

    # ---- the factors -------------------------------------------------------------------
    def randomize_lighting(self) -> None:
        raise NotImplementedError

    def randomize_geometry(self) -> None:
        raise NotImplementedError

    def randomize_materials(self) -> None:
        raise NotImplementedError

    def random_view(self) -> None:
        raise NotImplementedError

    def animate_view(self, t: float) -> None:
        raise NotImplementedError

    def random_scene(self) -> None:
        """Re-randomize everything: geometry, then materials, then lighting, then the view."""
        self.randomize_factor(ALL)
        self.random_view()

    def randomize_factor(self, factor: int) -> None:
        """Re-randomize one factor (0 lighting, 1 geometry, 2 material) or all (-1); the view stays."""
        if factor == LIGHTING:
            self.randomize_lighting()
        elif factor == GEOMETRY:
            self.randomize_geometry()
        elif factor == MATERIAL:
            self.randomize_materials()
        elif factor == ALL:
            self.randomize_geometry()
            self.randomize_materials()
            self.randomize_lighting()
        else:
            raise ValueError(f"factor must be one of {sorted(FACTORS)}, got {factor!r}")

    # ---- copies, independent streams, factor batches --------------------------------------
    def copy(self) -> "SceneRandomizer":
        """Deep copy, random generator included: the copy continues the same random sequence."""
        return _copy.deepcopy(self)

    def spawn(self) -> "SceneRandomizer":
        """Copy of the current scene with its own random stream, seeded from (and advancing) ours."""
        child = _copy.deepcopy(self)
        child.rng = np.random.default_rng(int(self.rng.integers(0, 2 ** 63 - 1)))
        return child

    def with_factor(self, factor: int) -> "SceneRandomizer":
        """A new randomizer holding this scene with ``factor`` re-randomized (``-1``: everything)
        and a new random view; ``self`` is unchanged except that its random stream advances."""
        child = self.spawn()
        child.randomize_factor(factor)
        child.random_view()
        return child

    def factor_batch(self, factor: int, batch_size: int, views_per_scene: int) -> List[List[dict]]:
        """One training batch: draw a new base scene, then ``batch_size`` scenes that each
        re-randomize only ``factor`` (every factor for ``-1``), each seen from
        ``views_per_scene`` random cameras. Returns ``[scene][view] -> scene JSON dict``."""
        if factor not in FACTORS:
            raise ValueError(f"factor must be one of {sorted(FACTORS)}, got {factor!r}")
        self.random_scene()
        batch = []
        for _ in range(int(batch_size)):
            scene = self.with_factor(factor)
            views = []
            for _ in range(int(views_per_scene)):
                scene.random_view()
                views.append(scene.to_json())
            batch.append(views)
        return batch

    def state(self) -> dict:
        """The scene (three factor parts and camera) as a deep-copied, JSON-serialisable dict."""
        return _copy.deepcopy({"factors": self._state, "camera": self.camera})

    def load_state(self, state: dict) -> None:
        """Restore a scene from :meth:`state` (the random stream is left as it is)."""
        self._state = _copy.deepcopy(state["factors"])
        self.camera = _copy.deepcopy(state["camera"])

    # ---- JSON ----------------------------------------------------------------------------
    def _materials_json(self) -> Dict[str, dict]:
        raise NotImplementedError

    def _lights_json(self) -> List[dict]:
        raise NotImplementedError

    def _geometry_json(self) -> List[dict]:
        raise NotImplementedError

    def to_json(self) -> dict:
        """The scene description (reference layout, camera included) as a fresh dict."""
        s = self.settings
        return {
            "seed": self.seed,
            "cache": bool(s["cache"]),
            "bounces": int(s["bounces"]),
            "hide_lights": bool(s["hide_lights"]),
            "top_level_acceleration": str(s["top_level_acceleration"]),
            "camera": {"position": _floats(self.camera["position"]), "lookat": _floats(self.camera["lookat"]),
                       "fov": float(self.camera["fov"]), "near": float(self.camera["near"]),
                       "far": float(self.camera["far"])},
            "materials": self._materials_json(),
            "lights": self._lights_json(),
            "geometry": self._geometry_json(),
        }

    def factor_parts(self, scene: Optional[dict] = None) -> Dict[str, object]:
        """Split a scene JSON (default: ``self.to_json()``) into what each factor controls:
        ``lighting`` (lights, emissive materials, light fixtures), ``geometry`` (the other
        geometry entries), ``material`` (non-emissive materials) and ``camera``."""
        scene = self.to_json() if scene is None else scene
        mats = scene["materials"]
        emissive = {k for k, m in mats.items() if any(float(e) > 0.0 for e in m["emission"])}
        fixtures = set(self.light_fixture_materials)
        return {
            "lighting": {"lights": scene["lights"],
                         "materials": {k: mats[k] for k in sorted(emissive)},
                         "fixtures": [g for g in scene["geometry"] if g["material"] in fixtures]},
            "geometry": [g for g in scene["geometry"] if g["material"] not in fixtures],
            "material": {k: mats[k] for k in sorted(mats) if k not in emissive},
            "camera": scene["camera"],
        }

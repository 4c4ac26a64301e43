"""State of ``visualize-gqn.py``, without any GL: the scene, the camera, the observations, the
query render, the model's prediction and the layout of the window's tiles.

* the large left tile is the path-traced reference of the current view (the query's beauty
  pass at ``query_spp``), the large right tile the network's prediction for it (the query
  G-buffer of that view + the representation of the observations);
* below the reference: the observation images (beauty); below the prediction: the query
  buffers handed to the last generator.

Scenes, observations and batches come from :class:`~cnsr.viewer.session.ViewerSession` (the
config's dataset randomizer or a scene file; observations as in training, or the scene file's
camera jittered), as in the attribution viewer.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import numpy as np
import torch

from ..data.views import View
from ..io.preview import display, grid_cells, to_hwc
from . import TileCanvas
from .session import ViewerSession

SPP_STEP = 10
SPP_MIN = 1
SPP_MAX = 4096
#: small tiles per row under each large tile
TILES_PER_ROW = 4
GAP = 4


def _clamp_spp(v: int) -> int:
    return int(min(SPP_MAX, max(SPP_MIN, int(v))))


class GQNViewerState(ViewerSession):
    """Everything of the viewer except drawing. ``update()`` re-renders and re-runs the model
    when something changed and returns True if the images changed; ``canvas()`` gives the
    composed window image."""

    def __init__(self, cfg, model, renderer=None, scene_file: Optional[str] = None, seed: int = 0,
                 views: Optional[int] = None, size: Optional[int] = None, query_spp: Optional[int] = None,
                 observation_spp: Optional[int] = None, device="cpu", tile_scale: int = 0):
        super().__init__(cfg, model, renderer, scene_file, seed, views, size, device)
        self.query_spp = _clamp_spp(query_spp or cfg.samples_per_pixel)
        self.observation_spp = _clamp_spp(observation_spp or cfg.samples_per_pixel)
        self.query_passes = list(model.generator.specs[-1].query_passes)
        # large tile side on the canvas: at least 256 px, a whole multiple of the render size
        self.big = self.size * (tile_scale or max(1, math.ceil(256 / self.size)))
        self.scene: Optional[dict] = None
        self.position = np.zeros(3)
        self.lookat = np.array([0.0, 0.0, -1.0])
        self.fov = None
        self.observations: Dict[str, np.ndarray] = {}   # pass -> [1, V, C, H, W]
        self.observation_poses = np.zeros((1, 0, 16), np.float32)
        self.images: Dict[str, np.ndarray] = {}
        self._reps = None
        self._dirty_observations = True
        self._dirty_query = True
        self._render_seed = 0
        self.new_scene()

    # ------------------------------------------------------------------ actions
    def new_scene(self) -> None:
        """A new random scene (or the scene file again) with a new view and new observations."""
        scene = self.draw_scene()
        cam = scene.get("camera") or {}
        if "position" not in cam or "lookat" not in cam:
            raise ValueError(f"{self.scene_file}: the scene has no camera (position and lookat)")
        self.renderer.load_scene(self.scene_source(scene, self.scene_file))
        self.scene = scene
        self._base_camera = dict(cam)
        self.position = np.asarray(cam["position"], float)
        self.lookat = np.asarray(cam["lookat"], float)
        self.fov = cam.get("fov")
        self.new_observations()

    def new_observations(self) -> None:
        self._dirty_observations = True
        self._dirty_query = True

    def change_query_spp(self, delta: int) -> None:
        new = _clamp_spp(self.query_spp + delta)
        if new != self.query_spp:
            self.query_spp = new
            self._dirty_query = True

    def change_observation_spp(self, delta: int) -> None:
        new = _clamp_spp(self.observation_spp + delta)
        if new != self.observation_spp:
            self.observation_spp = new
            self._dirty_observations = True
            self._dirty_query = True

    def set_query_spp(self, value: int) -> None:
        self.change_query_spp(_clamp_spp(value) - self.query_spp)

    def set_observation_spp(self, value: int) -> None:
        self.change_observation_spp(_clamp_spp(value) - self.observation_spp)

    def handle_key(self, key: str) -> bool:
        """The viewer's shortcuts: R scene, O observations, J/H query spp +-10, M/N observation
        spp +-10. Returns True if ``key`` is one of them."""
        k = key.lower()
        if k == "r":
            self.new_scene()
        elif k == "o":
            self.new_observations()
        elif k == "j":
            self.change_query_spp(SPP_STEP)
        elif k == "h":
            self.change_query_spp(-SPP_STEP)
        elif k == "m":
            self.change_observation_spp(SPP_STEP)
        elif k == "n":
            self.change_observation_spp(-SPP_STEP)
        else:
            return False
        return True

    # ------------------------------------------------------------------ camera
    def _distance(self) -> float:
        return float(np.linalg.norm(self.lookat - self.position))

    def _basis(self):
        fwd = self.lookat - self.position
        fwd = fwd / max(np.linalg.norm(fwd), 1e-9)
        right = np.cross(fwd, [0.0, 1.0, 0.0])
        n = np.linalg.norm(right)
        right = right / n if n > 1e-9 else np.array([1.0, 0.0, 0.0])
        return fwd, right

    def move(self, forward: float = 0.0, right: float = 0.0) -> None:
        """Move the camera (and its lookat) along its view direction / to its right, in world
        units; W/S and D/A while SPACE is held."""
        if forward == 0.0 and right == 0.0:
            return
        fwd, r = self._basis()
        # walk in the horizontal plane, as in a first-person view
        flat = np.array([fwd[0], 0.0, fwd[2]])
        flat = flat / np.linalg.norm(flat) if np.linalg.norm(flat) > 1e-9 else fwd
        step = forward * flat + right * r
        self.position = self.position + step
        self.lookat = self.lookat + step
        self._dirty_query = True

    def rotate(self, yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> None:
        """Turn the view about the camera position (mouse drag): yaw about +Y, pitch clamped
        to +-85 degrees."""
        if yaw_deg == 0.0 and pitch_deg == 0.0:
            return
        d = self._distance()
        fwd, _ = self._basis()
        yaw = math.atan2(fwd[0], -fwd[2]) + math.radians(yaw_deg)
        pitch = math.asin(float(np.clip(fwd[1], -1.0, 1.0))) + math.radians(pitch_deg)
        pitch = float(np.clip(pitch, -math.radians(85), math.radians(85)))
        new = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), -math.cos(yaw) * math.cos(pitch)])
        self.lookat = self.position + d * new
        self._dirty_query = True

    def step_size(self) -> float:
        """World units per second of WASD movement: a quarter of the view distance."""
        return 0.25 * max(self._distance(), 1e-3) + 0.5

    # ------------------------------------------------------------------ rendering
    def _set_camera(self, position, lookat) -> None:
        self.renderer.set_camera(list(position), list(lookat), fov=self.fov)

    def _render(self, spp: int) -> Dict[str, np.ndarray]:
        self._render_seed += 1
        out = self.renderer.render(size=self.size, spp=spp, seed=self._render_seed, passes=self.passes)
        return {p: np.moveaxis(out[p], -1, 0)[None, None] for p in self.passes}   # [1, 1, C, H, W]

    def _observation_views(self) -> List[View]:
        """The next set of observation views: new ``random_view()`` s of the randomizer, or the
        scene file's camera jittered."""
        source = self.scene_source(self.scene, self.scene_file)
        return [View(source, cam) for cam in self.observation_cameras(self._base_camera)]

    def _render_observations(self) -> None:
        first = self._render_seed + 1          # each render of the viewer takes the next seed
        views = self._observation_views()
        self.observations, self.observation_poses = self.render(
            views[0].scene, [v.camera for v in views], self.observation_spp, range(first, first + self.views))
        self._render_seed += self.views
        # encode once per set of observations (the query view is a dummy here)
        images = {p: np.concatenate([a, a[:, -1:]], axis=1) for p, a in self.observations.items()}
        batch = self.to_batch(images, np.concatenate([self.observation_poses, self.observation_poses[:, -1:]], 1),
                              self.views)
        with torch.no_grad():
            self._reps = self.model.encode(batch, -1)[0]
        self.images["observations"] = [display("beauty", to_hwc(self.observations["beauty"][0, v]))
                                       for v in range(self.views)]
        self._dirty_observations = False

    def _render_query(self) -> None:
        self._set_camera(self.position, self.lookat)
        query = self._render(self.query_spp)
        pose = self.renderer.pose()[None, None].astype(np.float32)
        images = {p: np.concatenate([self.observations[p], query[p]], axis=1) for p in self.passes}
        batch = self.to_batch(images, np.concatenate([self.observation_poses, pose], 1), self.views)
        with torch.no_grad():
            outputs = self.model.generator.sample(batch, self._reps)
        last = outputs[-1]
        name = self.output_pass
        # the buffers the last generator sees: the query G-buffer, updated by earlier generators
        state = dict(batch["query_images"])
        for spec, out in zip(self.model.generator.specs[:-1], outputs[:-1]):
            if spec.override_sample:
                state.update(out)
        self.images["reference"] = display(name, to_hwc(query[name][0, 0]))   # the passes rendered hold it
        self.images["prediction"] = display(name, to_hwc(last[name]))
        self.images["buffers"] = [(p, display(p, to_hwc(state[p]))) for p in self.query_passes
                                  if p in state]
        self._dirty_query = False

    def update(self) -> bool:
        """Re-render what changed (observations, query) and re-run the model; True if the
        images changed."""
        changed = False
        if self._dirty_observations:
            self._render_observations()
            changed = True
        if self._dirty_query:
            self._render_query()
            changed = True
        return changed

    # ------------------------------------------------------------------ layout
    def layout(self) -> TileCanvas:
        """Tiles: ``reference`` | ``prediction`` on top (``big`` px squares); under the reference
        ``observation_i``, under the prediction ``buffer_i``, ``TILES_PER_ROW`` per row."""
        big, g = self.big, GAP
        small = (big - (TILES_PER_ROW - 1) * g) // TILES_PER_ROW
        top = grid_cells(1, 2, big, big, gap=g)
        tiles = [("reference", *top[0]), ("prediction", *top[1])]
        counts = {"observation": self.views, "buffer": len(self.query_passes)}
        rows = max(max(math.ceil(n / TILES_PER_ROW) for n in counts.values()), 1)
        for (prefix, n), x0 in zip(counts.items(), (0, g + big)):
            cells = grid_cells(math.ceil(n / TILES_PER_ROW), TILES_PER_ROW, small, small, gap=g, x0=x0, y0=g + big)
            tiles += [(f"{prefix}_{i}", *cells[i]) for i in range(n)]
        return TileCanvas(3 * g + 2 * big, 2 * g + big + rows * (small + g), tiles)

    def tile_images(self) -> Dict[str, np.ndarray]:
        out = {}
        if "reference" in self.images:
            out["reference"] = self.images["reference"]
            out["prediction"] = self.images["prediction"]
        for i, img in enumerate(self.images.get("observations", [])):
            out[f"observation_{i}"] = img
        for i, (_, img) in enumerate(self.images.get("buffers", [])):
            out[f"buffer_{i}"] = img
        return out

    def canvas(self) -> np.ndarray:
        """The window image: ``(H, W, 3)`` float32 in [0, 1], y down."""
        self.update()
        return self.layout().compose(self.tile_images())

    def status(self) -> str:
        return (f"{self.size}x{self.size}, {self.views} observations, query spp {self.query_spp}, "
                f"observation spp {self.observation_spp}")

"""What both interactive viewers share: a model and its config, where scenes come from, the
observation cameras, rendering views into the training batch layout, and the pass they show.

Scenes come from the config's ``dataset`` randomizer or from a scene JSON file. A scene's own
camera is the query view. Observations are the randomizer's ``random_view()`` s (as in
training); for a scene file, its camera moved by a small random offset (5% of the
camera-to-lookat distance per axis, lookat kept: :func:`cnsr.data.views.jitter_camera`, the
rule compositing uses too). Views are rendered with :func:`cnsr.data.views.render_views` and
cut into the training batch layout (:func:`cnsr.data.layout.split_views`) on the model's
device. The pass shown is :func:`cnsr.config.output_pass`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

import numpy as np
import torch

from ..config import output_pass
from ..data.layout import batch_to_device, split_views
from ..data.views import View, jitter_camera, render_views
from ..io.jsonfile import read_json_file
from ..render import Renderer
from ..scenes import make_randomizer

SceneSource = Union[str, dict]


class ViewerSession:
    """The scene side of a viewer: ``cfg`` and ``model`` (eval mode, on ``device``), the renderer,
    ``views`` observations at ``size`` pixels of the ``passes`` the networks read (and beauty),
    and the random streams of scenes (``randomizer``, None with a ``scene_file``) and cameras."""

    def __init__(self, cfg, model, renderer=None, scene_file: Optional[str] = None, seed: int = 0,
                 views: Optional[int] = None, size: Optional[int] = None, device="cpu"):
        self.cfg, self.model = cfg, model
        self.device = torch.device(device)
        self.renderer = renderer or Renderer()
        self.scene_file = scene_file
        self.views = max(1, int(views if views is not None else cfg.views_per_scene - 1))
        self.size = int(size or cfg.max_render_size())
        self.passes = list(dict.fromkeys(list(cfg.needed_passes()) + ["beauty"]))
        self.output_pass = output_pass(cfg)
        self.rng = np.random.default_rng(seed)
        self.randomizer = make_randomizer(cfg.dataset, seed) if scene_file is None else None

    # ------------------------------------------------------------------ scenes
    @staticmethod
    def read_scene(path: str, error: Type[Exception] = ValueError) -> dict:
        """A scene file as a dict; ``error`` (naming the file) when it is unreadable or has no camera."""
        scene = read_json_file(path, error, "scene file")
        cam = scene.get("camera") if isinstance(scene, dict) else None
        if not isinstance(cam, dict) or "position" not in cam or "lookat" not in cam:
            raise error(f"{path}: the scene has no camera (camera.position and camera.lookat)")
        return scene

    def draw_scene(self, error: Type[Exception] = ValueError) -> dict:
        """A new random scene of the dataset seen from a random view, or the scene file again;
        its camera is the query view."""
        if self.randomizer is None:
            return self.read_scene(self.scene_file, error)
        self.randomizer.random_scene()
        self.randomizer.random_view()
        return self.randomizer.to_json()

    def observation_cameras(self, query_camera: dict) -> List[dict]:
        """The next ``views`` observation cameras: new random views of the randomizer's scene, or
        for a scene file ``query_camera`` jittered."""
        if self.randomizer is None:
            return self.jittered_cameras(query_camera)
        cameras = []
        for _ in range(self.views):
            self.randomizer.random_view()
            cameras.append(dict(self.randomizer.to_json()["camera"]))
        return cameras

    def jittered_cameras(self, camera: dict) -> List[dict]:
        """``views`` observation cameras around a scene file's ``camera`` (the jitter rule)."""
        return [jitter_camera(camera, self.rng) for _ in range(self.views)]

    @staticmethod
    def scene_source(scene: dict, path: Optional[str]) -> SceneSource:
        """What to render: a scene file by its path (its relative file names resolve against its
        folder) when it exists, else the scene dict."""
        return path if path and Path(path).is_file() else scene

    # ------------------------------------------------------------------ rendering
    def render(self, source: SceneSource, cameras: Sequence[dict], spp: int,
               seeds: Sequence[int]) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
        """One scene seen from ``cameras`` (view ``v`` with sampler seed ``seeds[v]``):
        ``{pass: [1, V, C, H, W]}`` and poses ``[1, V, 16]``."""
        seed: Callable[..., int] = lambda scene, b, v, views: int(seeds[v])
        return render_views(self.renderer, [[View(source, cam) for cam in cameras]], self.size, int(spp),
                            self.passes, seed=seed)

    def to_batch(self, images: Dict[str, np.ndarray], poses: np.ndarray, observations: int) -> dict:
        """Views of one scene (the last one the query) as a batch on the device: the first
        ``observations`` views observe."""
        return batch_to_device(split_views(images, poses, -1, observations), self.device)

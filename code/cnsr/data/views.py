"""Rendering the views of scenes into batch arrays, and the camera-jitter rule for scene files.

:func:`render_views` is the one place where "render V views of B scenes" happens: dataset
generation (:mod:`.generate`), on-the-fly training data (:mod:`.onthefly`), compositing and
the GQN viewer all call it, and cut its arrays into the training batch layout with
:func:`cnsr.data.layout.split_views`.

:func:`jitter_camera` is the rule that turns a scene file's single camera into observation
cameras (compositing and the viewer): the position moved by a normal offset of
``JITTER_SCALE`` (5%) of the camera-to-lookat distance per axis, the lookat kept.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..passes import channels
from .exrbatch import DatasetError
from .json_batches import load_view_json

PathLike = Union[str, os.PathLike]
#: standard deviation of a jittered camera's position offset per axis, as a fraction of its
#: distance to the lookat
JITTER_SCALE = 0.05
#: a seed rule: (scene description, scene index b, view index v, views per scene V) -> sampler seed
SeedRule = Callable[[dict, int, int, int], int]


@dataclass(frozen=True)
class View:
    """A scene (a description dict or a scene JSON path) seen from ``camera`` (a dict with
    ``position``, ``lookat`` and optional ``fov``/``near``/``far``; None: the scene's own)."""
    scene: Union[dict, PathLike]
    camera: Optional[dict] = None


def render_seed(scene: dict, scene_index: int, view_index: int, views: int) -> int:
    """The seed rule of dataset generation: sampler seed of view ``view_index`` of scene
    ``scene_index`` (``views`` per scene), from the scene's own ``seed`` and its place in the
    batch, so the JSON path and the one-step path render identical noise."""
    return (int(scene.get("seed", 0)) * 1000003 + scene_index * views + view_index) % (2 ** 31)


def offset_seeds(base: int) -> SeedRule:
    """A seed rule independent of the scene: ``base * 1009 + b * V + v`` (compositing's)."""
    return lambda scene, b, v, views: int(base) * 1009 + b * views + v


def _without_camera(scene: dict) -> dict:
    return {k: v for k, v in scene.items() if k != "camera"}


def _resolve(view: Union[View, dict, PathLike]) -> Tuple[Union[dict, str], dict, Optional[str], dict]:
    """(what to load, the scene description, its folder or None, the camera) of one view."""
    if isinstance(view, View):
        scene, camera = view.scene, view.camera
    else:
        scene, camera = view, None
    if isinstance(scene, Mapping):
        source, desc, folder = scene, dict(scene), None
    else:
        source, desc = str(scene), load_view_json(scene)
        folder = str(Path(scene).resolve().parent)
    camera = camera if camera is not None else desc.get("camera")
    if not camera or "position" not in camera or "lookat" not in camera:
        name = source if isinstance(source, str) else "scene description"
        raise DatasetError(f"{name}: the view has no camera (camera.position and camera.lookat)")
    return source, desc, folder, camera


def render_views(renderer, scenes: Sequence[Sequence[Union[View, dict, PathLike]]], size: int, spp: int,
                 passes: Sequence[str], seed: SeedRule = render_seed
                 ) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Render ``V`` views of each of ``B`` scenes with ``renderer`` (a :class:`cnsr.render.Renderer`).

    scenes: ``[scene][view]``; a view is a complete scene description dict (camera included),
        the path of a scene JSON file (ditto), or a :class:`View` (a scene dict or path and the
        camera to see it from). Every scene has the same number of views ``V``.
    size, spp: image side in pixels and samples per pixel; passes: the passes to render.
    seed: the seed rule, ``seed(description, b, v, V)`` -> the sampler seed of view ``v`` of
        scene ``b``; the default is dataset generation's :func:`render_seed` (datasets are
        reproducible from it bit for bit); :func:`offset_seeds` ignores the scene.

    Returns ``(images, poses)``: ``images[pass]`` float32 ``[B, V, C, H, W]`` (row 0 = top),
    ``poses`` float32 ``[B, V, 16]`` (the renderer's world-to-camera pose of each view): the
    input of :func:`cnsr.data.layout.split_views`. A scene is loaded once and its views rendered
    by moving the camera, as long as consecutive views differ in nothing but the camera (else
    the view's scene is loaded). Raises :class:`DatasetError` on ragged input or a view
    without a camera.
    """
    B = len(scenes)
    V = len(scenes[0]) if B else 0
    images = {p: np.empty((B, V, channels(p), size, size), dtype=np.float32) for p in passes}
    poses = np.empty((B, V, 16), dtype=np.float32)
    for b, views in enumerate(scenes):
        if len(views) != V:
            raise DatasetError(f"scene {b} of the batch has {len(views)} views, scene 0 has {V}")
        loaded = None
        for v, view in enumerate(views):
            source, desc, folder, cam = _resolve(view)
            key = (folder, _without_camera(desc))
            if loaded is None or key != loaded:
                renderer.load_scene(source)
                loaded = key
            renderer.set_camera(cam["position"], cam["lookat"], fov=cam.get("fov"),
                                near=cam.get("near"), far=cam.get("far"))
            out = renderer.render(size=size, spp=spp, seed=seed(desc, b, v, V), passes=list(passes))
            for p in passes:
                images[p][b, v] = np.moveaxis(out[p], -1, 0)
            poses[b, v] = renderer.pose()
    return images, poses


def jitter_camera(camera: Mapping, rng: np.random.Generator, scale: float = JITTER_SCALE) -> dict:
    """A copy of ``camera`` whose position is moved by a normal offset with standard deviation
    ``scale`` times the camera-to-lookat distance on each axis (one ``rng.normal`` draw of 3
    values); the lookat and every other field kept."""
    pos = np.asarray(camera["position"], float)
    dist = float(np.linalg.norm(pos - np.asarray(camera["lookat"], float)))
    out = dict(camera)
    out["position"] = (pos + rng.normal(0.0, scale * dist, 3)).tolist()
    return out

"""Compose a new scene from the learned partitions of three others and decode it.

``python code/composite.py --config C --checkpoint P --lighting A --geometry B --material M
--out out.png`` encodes each source scene from rendered observations, builds one representation
whose lighting, geometry and material partitions come from A, B and M, and decodes it for the
G-buffer of a query view (by default the geometry scene's). The model must have been trained
with ``latent_separation`` (the paper's partitioned representation).

Scenes are given as

* ``DATASET:SEED`` (``room:3``, ``archviz:12``): the scene the dataset's randomizer draws with
  that seed (``random_scene()``); observations and the query are its ``random_view()`` s, as in
  the training data;
* a scene JSON file (``examples/room.json``): its own camera is the query view and the
  observations are that camera with its position moved by a small random offset (normal,
  5% of the camera-to-lookat distance per axis; lookat kept: :func:`cnsr.data.views.jitter_camera`),
  drawn from ``--seed``.

Partitions: each representation dimension goes to the factor (lighting, geometry, material)
whose partition mask is largest for it at the model's current sharpness (the checkpoint's
iteration) — a hard assignment of the learned boundaries ``cumsum(softmax(deltas))``, or of the
static thirds without adaptive partitioning. Dimensions of a null partition are zero in every
source (the encoder masks them); they are taken from the geometry scene.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from ..data.layout import batch_to_device, split_views
from ..data.views import View, jitter_camera, offset_seeds, render_views
from ..io.jsonfile import read_json_file
from ..io.preview import display, grid
from ..models.partition import dimension_positions, partition_boundaries
from ..registry import SCENE_FAMILIES
from ..scenes import make_randomizer

FACTORS = ("lighting", "geometry", "material")
_FACTOR_INDEX = {name: i for i, name in enumerate(FACTORS)}


class CompositingError(ValueError):
    """A model or input that cannot be composited (no partitioned representation, bad scene)."""


def _encoders(model) -> List[torch.nn.Module]:
    return list(model.representation.representations)


def require_partitioning(model) -> None:
    """Raise :class:`CompositingError` unless the model's config partitions its representation."""
    if not getattr(model.cfg, "latent_separation", False):
        raise CompositingError("compositing needs a model trained with a partitioned representation: "
                               "the config has no latent_separation (set \"latent_separation\": true)")


def partition_assignment(model, encoder: int = 0, iteration: Optional[int] = None) -> torch.Tensor:
    """Long tensor [r]: the factor (0 lighting, 1 geometry, 2 material) of each dimension of
    encoder ``encoder``'s representation, from its partition masks at the sharpness of
    ``iteration`` (default: the model's)."""
    require_partitioning(model)
    enc = _encoders(model)[encoder]
    it = model.iteration if iteration is None else int(iteration)
    with torch.no_grad():
        # factor_mask is ~1 outside the factor's partition: 1 - mask is its membership
        inside = torch.stack([1 - enc.factor_mask(f, it) for f in range(3)])
        owner = inside.argmax(dim=0)
        if enc.adaptive:
            s = partition_boundaries(enc.fractions())
            t = dimension_positions(owner.shape[0], s.dtype, s.device)
            # a dimension on a boundary (the last one, t = 1, sits on both material's right end
            # and, as the masks wrap around, lighting's left end) goes to the interval it is in
            top = inside.topk(2, dim=0).values
            tie = (top[0] - top[1]).abs() < 1e-4
            owner = torch.where(tie, torch.bucketize(t, s[:2]).clamp(max=2), owner)
            if enc.empty_partition:
                # the null partition [s2, 1]: zero in every source; taken from the geometry scene
                owner = torch.where(t > s[2], torch.ones_like(owner), owner)
    return owner


def composite_representation(model, reps: Mapping[Union[int, str], torch.Tensor], encoder: int = 0,
                             iteration: Optional[int] = None) -> torch.Tensor:
    """One representation ``[B, r, h, w]`` whose dimensions in each factor's partition come from
    ``reps[factor]`` (keys 0/1/2 or ``'lighting'``/``'geometry'``/``'material'``; each value
    ``[B, r, h, w]`` of encoder ``encoder``)."""
    by_index = {}
    for key, value in reps.items():
        f = _FACTOR_INDEX.get(key, key) if isinstance(key, str) else int(key)
        if f not in (0, 1, 2):
            raise CompositingError(f"unknown factor {key!r}: expected one of {FACTORS} or 0, 1, 2")
        by_index[f] = value
    missing = [FACTORS[f] for f in range(3) if f not in by_index]
    if missing:
        raise CompositingError(f"missing representation(s) for {', '.join(missing)}")
    shapes = {tuple(t.shape) for t in by_index.values()}
    if len(shapes) != 1:
        raise CompositingError(f"the three representations differ in shape: {sorted(shapes)}")
    owner = partition_assignment(model, encoder, iteration).to(by_index[0].device)
    if owner.shape[0] != by_index[0].shape[1]:
        raise CompositingError(f"representation has {by_index[0].shape[1]} dimensions, "
                               f"encoder {encoder} has {owner.shape[0]}")
    out = torch.zeros_like(by_index[0])
    for f in range(3):
        m = (owner == f).view(1, -1, 1, 1).to(out.dtype)
        out = out + m * by_index[f]
    return out


# ------------------------------------------------------------------------------ scenes
def _is_dataset_spec(spec: str) -> bool:
    name, sep, seed = spec.partition(":")
    return bool(sep) and name in SCENE_FAMILIES and seed.lstrip("-").isdigit() and not os.path.exists(spec)


def scene_views(spec: str, views: int, seed: int = 0) -> list:
    """``views`` observation cameras and a last query camera for scene ``spec`` (see the module
    docstring): a list of :class:`cnsr.data.views.View` (scene dict or file path, camera)."""
    if _is_dataset_spec(spec):
        name, _, s = spec.partition(":")
        rz = make_randomizer(name, int(s))
        rz.random_scene()
        out = []
        for _ in range(views + 1):
            rz.random_view()
            scene = rz.to_json()
            out.append(View(scene, dict(scene["camera"])))
        return out
    path = Path(spec)
    if not path.is_file():
        raise CompositingError(f"{spec}: neither a scene JSON file nor DATASET:SEED "
                               f"(e.g. room:3)")
    scene = read_json_file(path, CompositingError, "scene file")
    cam = scene.get("camera") if isinstance(scene, dict) else None
    if not isinstance(cam, dict) or not cam or "position" not in cam or "lookat" not in cam:
        raise CompositingError(f"{spec}: the scene file has no camera (position and lookat)")
    rng = np.random.default_rng(seed)
    out = [View(str(path), jitter_camera(cam, rng)) for _ in range(views)]
    out.append(View(str(path), dict(cam)))
    return out


def scene_batch(renderer, spec: str, cfg, views: int, size: int, spp: int, seed: int = 0,
                device: Union[str, torch.device] = "cpu") -> Dict[str, object]:
    """The model's batch layout for one scene: ``views`` observations and one query view. The
    beauty pass is always rendered too (for display)."""
    passes = list(dict.fromkeys(list(cfg.needed_passes()) + ["beauty"]))
    images, poses = render_views(renderer, [scene_views(spec, views, seed)], size, spp, passes, offset_seeds(seed))
    batch = split_views(images, poses, -1, views)
    return batch_to_device(batch, torch.device(device))


def decode_composite(model, encoded: Mapping[str, Sequence[torch.Tensor]], query: Dict[str, object]
                     ) -> List[Dict[str, torch.Tensor]]:
    """Decode the composite of already encoded scenes: ``encoded[factor]`` is the list (one per
    encoder) of representations ``model.encode`` gave for the scene that factor comes from;
    every encoder's representation is composited (:func:`composite_representation`) and the
    generators decode it for ``query``'s G-buffer. Returns the generators' outputs (list of
    dict pass -> [B, C, H, W], linear)."""
    with torch.no_grad():
        reps = [composite_representation(model, {f: encoded[f][i] for f in FACTORS}, encoder=i)
                for i in range(len(_encoders(model)))]
        return model.generator.sample(query, reps)


def composite(model, batches: Mapping[str, Dict[str, object]], query: Dict[str, object]
              ) -> List[Dict[str, torch.Tensor]]:
    """Encode the ``'lighting'``, ``'geometry'`` and ``'material'`` scene batches, composite their
    representations (every encoder) and decode for ``query``'s G-buffer. Returns the generators'
    outputs (list of dict pass -> [B, C, H, W], linear)."""
    require_partitioning(model)
    with torch.no_grad():
        encoded = {f: model.encode(batches[f], -1)[0] for f in FACTORS}
    return decode_composite(model, encoded, query)


#: smallest side of a strip tile (pixels): smaller renders are upscaled (nearest) to be readable
MIN_TILE = 128


def strip_image(sources: Sequence[torch.Tensor], prediction: torch.Tensor, pass_name: str,
                min_tile: int = MIN_TILE) -> np.ndarray:
    """One labelled row in [0, 1]: each source's beauty render (lighting | geometry | material) |
    the composite prediction (shown by :func:`cnsr.io.preview.display`, sources resized nearest
    to the prediction's size, all upscaled to at least ``min_tile`` pixels)."""
    tiles = [display("beauty", t[0]) for t in sources] + [display(pass_name, prediction[0])]
    return grid([tiles], gap=2, tile_size=tuple(prediction.shape[-2:]), min_tile=min_tile,
                col_labels=[f"{f} source" for f in FACTORS][:len(sources)] + ["composite"])

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

import argparse
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch

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
            from .models.partition import dimension_positions, partition_boundaries

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
    from .scenes import DATASETS

    name, sep, seed = spec.partition(":")
    return bool(sep) and name in DATASETS and seed.lstrip("-").isdigit() and not os.path.exists(spec)


def scene_views(spec: str, views: int, seed: int = 0) -> list:
    """``views`` observation cameras and a last query camera for scene ``spec`` (see the module
    docstring): a list of :class:`cnsr.data.views.View` (scene dict or file path, camera)."""
    import json

    from .data.views import View, jitter_camera

    if _is_dataset_spec(spec):
        from .scenes import make_randomizer

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
    try:
        cam = json.loads(path.read_text()).get("camera")
    except (OSError, ValueError) as e:
        raise CompositingError(f"{spec}: cannot read scene file ({e})") from e
    if not cam or "position" not in cam or "lookat" not in cam:
        raise CompositingError(f"{spec}: the scene file has no camera (position and lookat)")
    rng = np.random.default_rng(seed)
    out = [View(str(path), jitter_camera(cam, rng)) for _ in range(views)]
    out.append(View(str(path), dict(cam)))
    return out


def scene_batch(renderer, spec: str, cfg, views: int, size: int, spp: int, seed: int = 0,
                device: Union[str, torch.device] = "cpu") -> Dict[str, object]:
    """The model's batch layout for one scene: ``views`` observations and one query view. The
    beauty pass is always rendered too (for display)."""
    from .data.layout import batch_to_device, split_views
    from .data.views import offset_seeds, render_views

    passes = list(dict.fromkeys(list(cfg.needed_passes()) + ["beauty"]))
    images, poses = render_views(renderer, [scene_views(spec, views, seed)], size, spp, passes, offset_seeds(seed))
    batch = split_views(images, poses, -1, views)
    return batch_to_device(batch, torch.device(device))


def composite(model, batches: Mapping[str, Dict[str, object]], query: Dict[str, object]
              ) -> List[Dict[str, torch.Tensor]]:
    """Encode the ``'lighting'``, ``'geometry'`` and ``'material'`` scene batches, composite their
    representations (every encoder) and decode for ``query``'s G-buffer. Returns the generators'
    outputs (list of dict pass -> [B, C, H, W], linear)."""
    require_partitioning(model)
    with torch.no_grad():
        encoded = {f: model.encode(batches[f], -1)[0] for f in FACTORS}
        reps = [composite_representation(model, {f: encoded[f][i] for f in FACTORS}, encoder=i)
                for i in range(len(_encoders(model)))]
        return model.generator.sample(query, reps)


def strip_image(sources: Sequence[torch.Tensor], prediction: torch.Tensor, pass_name: str) -> np.ndarray:
    """``(H, 4W, 3)`` in [0, 1]: each source's beauty render | the composite prediction."""
    from .io.preview import visualize_pass

    h = prediction.shape[-1]
    tiles = []
    for t in sources:
        t = t[:1].float().cpu()
        if t.shape[-1] != h:
            t = torch.nn.functional.interpolate(t, size=(h, h), mode="nearest")
        tiles.append(visualize_pass("beauty", t[0].permute(1, 2, 0).numpy()))
    tiles.append(visualize_pass(pass_name, prediction[0].float().cpu().permute(1, 2, 0).numpy()))
    return np.concatenate(tiles, axis=1)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="composite.py",
        description="Build one scene representation from the lighting, geometry and material "
                    "partitions of three scenes and decode it. Scenes: a scene JSON file or "
                    "DATASET:SEED (e.g. room:3). Writes a PNG strip: the three sources' renders | "
                    "the composite prediction.")
    p.add_argument("--config", required=True, help="the model's config JSON (needs latent_separation)")
    p.add_argument("--checkpoint", required=True, help="checkpoint file")
    p.add_argument("--lighting", required=True, help="scene whose lighting partition is used")
    p.add_argument("--geometry", required=True, help="scene whose geometry partition is used")
    p.add_argument("--material", required=True, help="scene whose material partition is used")
    p.add_argument("--query", default=None, help="scene whose query view G-buffer is decoded "
                                                 "(default: the geometry scene)")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--views", type=int, default=None,
                   help="observations per scene (default: the config's views_per_scene - 1)")
    p.add_argument("--size", type=int, default=None, help="render size (default: the config's)")
    p.add_argument("--spp", type=int, default=None, help="samples per pixel (default: the config's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the camera perturbations and render noise")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import sys

    from .config import load_config
    from .engine.api import load_model
    from .engine.checkpoint import CheckpointError
    from .io.png import write_png
    from .render import Renderer

    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
        model = load_model(cfg, args.checkpoint, device=args.device)
        require_partitioning(model)
        views = args.views if args.views is not None else max(1, cfg.views_per_scene - 1)
        size = args.size or cfg.max_render_size()
        spp = args.spp or cfg.samples_per_pixel
        if views < 1 or size < 1 or spp < 1:
            raise CompositingError("--views, --size and --spp must be at least 1")
        renderer = Renderer()
        specs = {"lighting": args.lighting, "geometry": args.geometry, "material": args.material}
        batches = {f: scene_batch(renderer, s, cfg, views, size, spp, args.seed, args.device)
                   for f, s in specs.items()}
        query = batches["geometry"] if args.query is None else \
            scene_batch(renderer, args.query, cfg, views, size, spp, args.seed, args.device)
        outputs = composite(model, batches, query)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"composite.py: error: {e}", file=sys.stderr)
        return 1
    last = outputs[-1]
    name = "beauty" if "beauty" in last else next(iter(last))
    img = strip_image([batches[f]["query_images"]["beauty"] for f in FACTORS], last[name], name)
    write_png(args.out, img)
    print(f"wrote {args.out}: lighting {args.lighting} | geometry {args.geometry} | "
          f"material {args.material} | composite {name}")
    return 0

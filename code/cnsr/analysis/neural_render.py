"""Neural rendering of a scene file: infer the shading of a view instead of path tracing it.

``python code/render-neural.py --config C --checkpoint P --scene_file S --size 256 --out out/x.exr``
(console entry point ``cnsr-render-neural``; library: :func:`neural_render`), the paper's
section 6 use case:

1. observations: ``--views`` (default ``views_per_scene - 1``) views of the scene from its
   own camera jittered (:func:`cnsr.data.views.jitter_camera`, drawn from ``--seed``), rendered
   as in training (the config's passes, size and spp), encoded into the scene representation;
2. the query: the scene's own camera; its G-buffer (every generator's query passes) is
   rendered at ``--size`` (the config's spp), and the generators decode the representation for
   it. A pixel generator (``PixelCNN`` with pooled representations) is per pixel, so the
   image is decoded in tiles of ``--tile`` pixels (default 128) and any size fits in memory;
   other generators decode the whole image at once (they resize their inputs);
3. the reference: the same view path-traced at ``--reference_spp`` (default 256).

Written: ``out`` (the prediction, every predicted pass of the last generator, EXR),
``<out stem>_reference.exr`` (the path-traced passes), PNG previews of both
(``<stem>.png``, ``<stem>_reference.png``: the display mapping of :mod:`cnsr.io.preview`), and
``<stem>.json``: the times (seconds: observations, G-buffer, encode, decode, neural total,
path tracing) and the metrics (:mod:`cnsr.metrics`) of the prediction against the reference.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..config import output_pass
from ..data.layout import batch_to_device, split_views
from ..data.views import offset_seeds, render_views
from ..io.atomic import atomic_path
from ..io.exr import write_exr
from ..io.outputs import OutputError, refuse_overwriting_inputs
from ..io.png import write_png
from ..io.preview import display
from ..metrics import DEFAULT_METRICS, image_metrics
from .compositing import scene_views

PathLike = Union[str, os.PathLike]
DEFAULT_REFERENCE_SPP = 256
DEFAULT_TILE = 128


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def decode_tiled(model, query: Dict[str, Any], reps, size: int, tile: int) -> Dict[str, torch.Tensor]:
    """The last generator's passes ``{pass: [1, C, size, size]}`` decoded tile by tile (square
    tiles of ``tile`` pixels; the G-buffer padded by replicating its edge, the result cropped)."""
    n = -(-size // tile)
    pad = n * tile - size
    images = {p: F.pad(t, (0, pad, 0, pad), mode="replicate") if pad else t
              for p, t in query["query_images"].items()}
    out: Dict[str, torch.Tensor] = {}
    for i in range(n):
        for j in range(n):
            sub = {p: t[..., i * tile:(i + 1) * tile, j * tile:(j + 1) * tile] for p, t in images.items()}
            pred = model.generator.sample({"query_images": sub, "query_poses": query["query_poses"]},
                                          reps, tile)[-1]
            for p, t in pred.items():
                if p not in out:
                    out[p] = t.new_zeros(t.shape[0], t.shape[1], n * tile, n * tile)
                out[p][..., i * tile:(i + 1) * tile, j * tile:(j + 1) * tile] = t
    return {p: t[..., :size, :size] for p, t in out.items()}


def neural_render(model, scene_file: PathLike, size: int, cfg=None, views: Optional[int] = None,
                  reference_spp: int = DEFAULT_REFERENCE_SPP, seed: int = 0, tile: int = DEFAULT_TILE,
                  metrics: Sequence[str] = DEFAULT_METRICS, renderer=None, progress: bool = True) -> Dict[str, Any]:
    """Predict and path-trace the scene file's own view at ``size`` pixels (module docstring).

    Returns ``{"prediction": {pass: [C, H, W]}, "reference": {pass: [C, H, W]}, "times": {...},
    "metrics": {pass: {metric: value}}, "tiled": bool, "output_pass": the pass the previews
    show}`` (tensors on the CPU)."""
    cfg = cfg if cfg is not None else model.cfg
    if renderer is None:
        from ..render import Renderer
        renderer = Renderer()
    device = next(model.parameters()).device
    views = views if views is not None else max(1, cfg.views_per_scene - 1)
    if size < 1 or views < 1 or reference_spp < 1 or tile < 1:
        raise ValueError("--size, --views, --reference_spp and --tile must be at least 1")
    cams = scene_views(str(scene_file), views, seed)
    obs_passes = list(dict.fromkeys(p for r in cfg.model.representations for p in r.observation_passes))
    query_passes = list(dict.fromkeys(p for g in cfg.model.generators for p in g.query_passes)) or ["normal"]
    out_passes = list(cfg.model.generators[-1].output_passes)
    times: Dict[str, float] = {}
    model.eval()
    with tqdm(total=4, desc="render-neural", disable=not progress) as bar:
        t0 = time.perf_counter()
        images, poses = render_views(renderer, [cams[:-1]], cfg.max_render_size(), cfg.samples_per_pixel,
                                     obs_passes, offset_seeds(seed))
        times["observations_s"] = time.perf_counter() - t0
        bar.update(1)
        t0 = time.perf_counter()
        q_images, q_poses = render_views(renderer, [[cams[-1]]], size, cfg.samples_per_pixel, query_passes,
                                         offset_seeds(seed + 1))
        times["gbuffer_s"] = time.perf_counter() - t0
        bar.update(1)
        obs = batch_to_device(split_views({p: np.concatenate([images[p], images[p][:, -1:]], axis=1) for p in obs_passes},
                                          np.concatenate([poses, poses[:, -1:]], axis=1), -1, views), device)
        query = batch_to_device(split_views({p: np.concatenate([a, a], axis=1) for p, a in q_images.items()},
                                            np.concatenate([q_poses, q_poses], axis=1), -1, 1), device)
        with torch.no_grad():
            _sync(device)
            t0 = time.perf_counter()
            reps = model.encode(obs, -1)[0]
            _sync(device)
            times["encode_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            tiled = model.generator.per_pixel(reps) and size > tile
            if tiled:
                pred = decode_tiled(model, query, reps, size, tile)
            else:
                pred = model.generator.sample(query, reps, size)[-1]
            _sync(device)
            times["decode_s"] = time.perf_counter() - t0
        bar.update(1)
        times["neural_s"] = times["gbuffer_s"] + times["encode_s"] + times["decode_s"]
        t0 = time.perf_counter()
        ref_images, _ = render_views(renderer, [[cams[-1]]], size, reference_spp, out_passes, offset_seeds(seed + 2))
        times["path_tracing_s"] = time.perf_counter() - t0
        bar.update(1)
    prediction = {p: t[0].float().cpu() for p, t in pred.items()}
    reference = {p: torch.from_numpy(np.ascontiguousarray(a[0, 0])) for p, a in ref_images.items()}
    scores = {p: image_metrics(prediction[p][None], reference[p][None], metrics)
              for p in out_passes if p in prediction}
    return {"prediction": prediction, "reference": reference, "times": times, "metrics": scores,
            "output_pass": output_pass(cfg), "tiled": tiled, "size": size, "reference_spp": reference_spp, "views": views,
            "observation_spp": cfg.samples_per_pixel, "observation_size": cfg.max_render_size()}


def output_paths(out: PathLike) -> Dict[str, Path]:
    """The files :func:`write_neural_render` writes for ``--out`` (an ``.exr``): the prediction,
    ``<stem>_reference.exr``, PNG previews of both and ``<stem>.json``."""
    out = Path(out)
    if out.suffix.lower() != ".exr":
        raise ValueError(f"{out}: the output must be an .exr file")
    stem = out.with_suffix("")
    return {"prediction": out, "reference": Path(f"{stem}_reference.exr"),
            "prediction_png": Path(f"{stem}.png"), "reference_png": Path(f"{stem}_reference.png"),
            "json": Path(f"{stem}.json")}


#: Keys every ``<stem>.json`` of :func:`write_neural_render` holds: how an earlier result is told
#: from a JSON file of another kind (a scene, a config) that must not be overwritten.
RESULT_KEYS = ("times", "metrics", "files")


def check_outputs(paths: Mapping[str, PathLike], inputs: Mapping[str, Optional[PathLike]]) -> None:
    """Refuse (:class:`~cnsr.io.outputs.OutputError`, naming both paths) outputs that would
    overwrite an input (the scene file, the config, the checkpoint), or a JSON file beside
    ``--out`` that an earlier render-neural.py did not write."""
    refuse_overwriting_inputs({f"output {name}": p for name, p in paths.items()}, inputs)
    side = Path(paths["json"])
    if side.exists():
        try:
            doc = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            doc = None
        if not (isinstance(doc, dict) and all(k in doc for k in RESULT_KEYS)):
            raise OutputError(f"output {side} exists and is not a render-neural.py result: it would be overwritten; "
                              f"choose another --out name")


def write_neural_render(result: Dict[str, Any], out: PathLike, info: Optional[Dict[str, Any]] = None) -> Dict[str, Path]:
    """Write :func:`neural_render`'s result beside ``out`` (module docstring); returns the paths."""
    paths = output_paths(out)
    paths["prediction"].parent.mkdir(parents=True, exist_ok=True)
    hwc = {k: {p: np.moveaxis(t.numpy(), 0, -1) for p, t in result[k].items()} for k in ("prediction", "reference")}
    write_exr(paths["prediction"], hwc["prediction"])
    write_exr(paths["reference"], hwc["reference"])
    main = result["output_pass"]
    write_png(paths["prediction_png"], display(main, hwc["prediction"][main]))
    write_png(paths["reference_png"], display(main, hwc["reference"][main]))
    doc = dict(info or {})
    doc.update({k: result[k] for k in ("size", "views", "observation_size", "observation_spp", "reference_spp",
                                       "output_pass", "tiled", "times", "metrics")})
    doc["files"] = {k: p.name for k, p in paths.items()}
    with atomic_path(paths["json"]) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    return paths

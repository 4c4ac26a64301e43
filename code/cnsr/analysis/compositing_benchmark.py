"""The compositing benchmark: does a swapped partition carry the change of its factor?

``python code/evaluate.py --config C --checkpoint P --compositing --scenes N --reference_spp K
--out_folder D`` (library: :func:`compositing_benchmark`). Protocol:

1. ``N`` held-out base scenes ``S`` of the config's dataset, scene ``i`` drawn by the dataset's
   randomizer seeded from ``(seed, i)`` (:func:`base_scene_seed`, a stream apart from the
   training and test batches' seeds);
2. for each factor ``f`` in lighting / geometry / material, ``S_f`` = ``S`` with ``f`` re-drawn
   (the randomizer's ``with_factor``, exactly as a training batch varies one factor);
3. ``S`` and ``S_f`` are each observed from ``views_per_scene - 1`` random views, rendered as in
   training (the config's passes, size and spp); the query is a further random view of ``S_f``
   with its own G-buffer (at the config's spp, as in training);
4. three representations are decoded for that query: **composite** (the dimensions of ``f``'s
   partition from ``S_f``'s observations, every other dimension from ``S``'s:
   :func:`cnsr.analysis.compositing.decode_composite`, the code path of ``composite.py``),
   **full** (all from ``S_f``: the best the model can do) and **none** (all from ``S``: no
   information about the change);
5. each is scored against ``S_f`` path-traced at the query view with ``K`` spp, per scene, with
   every metric (:mod:`cnsr.metrics`), on the pass :func:`cnsr.config.output_pass` chooses
   (the model's ``output_pass`` where the last generator predicts it).

Reported per factor and metric (mean over scenes, with its standard error ``std / sqrt(N)``):

* ``errors``: ``E_none``, ``E_full``, ``E_composite``;
* ``transfer`` = ``(E_none - E_composite) / (E_none - E_full)`` (ratio of the scene means; its
  standard error by the delta method over the paired per-scene differences): 1 when the
  swapped partition carries the whole change the model can express, 0 when it carries none.
  It is **undefined** (``null``) where ``E_none - E_full`` is not larger than
  ``SIGNIFICANCE`` (2) standard errors of the paired differences: the model's prediction does
  not improve measurably from seeing ``S_f`` (e.g. geometry, whose change the query G-buffer
  already shows), so there is nothing to transfer;
* ``leak``: swap a wrong partition ``g != f`` (from ``S_f``, the rest from ``S``) and measure
  ``|E_g - E_none|``, averaged over the two wrong partitions and the scenes: how much the
  other partitions also carry ``f``'s change (0 = none; compare with ``|E_none - E_full|``).
  ``leak_by_partition`` has each ``g`` on its own;
* ``shift``: where in the representation the change lands, measured on the representations
  themselves (no decoding): per partition ``g``, the share of the squared change
  ``sum (r(S_f) - r(S))^2`` (over scenes, dimensions and every encoder) that lies in ``g``'s
  partition (:func:`representation_shift`). ``1 - shift[f]`` is the share that lands outside
  ``f``'s own partition: the cause of a leak, where the leak is its effect on the images (a
  change outside ``f``'s partition that the generator ignores leaks nothing). Without a
  measurable change (all zero) every share is ``null``.

``D/compositing.json``::

    {"scenes": N, "reference_spp": K, "seed": s, "pass": "beauty", "metrics": [...],
     "factors": {"lighting": {"errors": {"composite": {metric: mean}, "full": {...}, "none": {...}},
                              "errors_se": {same layout: standard errors},
                              "transfer": {metric: value or null}, "transfer_se": {metric: se or null},
                              "leak": {metric: mean}, "leak_se": {metric: se},
                              "leak_by_partition": {g: {metric: mean}},
                              "shift": {g: share of the representation's change in g's partition}},
                 "geometry": ..., "material": ...},
     "caveats": {factor: sentence}}

``caveats`` (:func:`query_caveats`) names each factor that the model's query G-buffer shows
(``albedo`` the materials; ``normal``, ``position`` the geometry): its change reaches 'none'
through the query view, so its transfer score measures little of the partition.

and ``D/compositing_<factor>.png``: per scene (rows) S | S_f truth | composite | full | none,
all at the query view (S rendered at K spp from the same camera for display), tiles upscaled
to at least 128 pixels. Works for static and adaptive partitions and with the null partition
(:func:`cnsr.analysis.compositing.partition_assignment`).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..config import output_pass
from ..data.layout import batch_to_device, split_views
from ..data.views import View, offset_seeds, render_views
from ..io.atomic import atomic_path
from ..io.png import write_png
from ..io.preview import display, grid
from ..metrics import DEFAULT_METRICS, METRICS, check_metrics, per_image_metrics
from ..scenes import make_randomizer
from .compositing import (FACTORS, decode_composite, partition_assignment, require_partitioning,
                          shown_factor_warning)

#: defaults of the command line: a couple of minutes on two cores for a 32-pixel model
DEFAULT_SCENES = 16
DEFAULT_REFERENCE_SPP = 256
#: E_none - E_full must exceed this many standard errors for the transfer score to be defined
SIGNIFICANCE = 2.0
#: smallest side of a grid tile (pixels)
MIN_TILE = 128
#: the seed stream of the benchmark's base scenes (training batches use 0, test batches 1)
_STREAM = 7


def base_scene_seed(seed: int, index: int) -> int:
    """The randomizer seed of base scene ``index`` of the benchmark with ``seed`` (31 bits)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _STREAM, int(index)])
    return int(ss.generate_state(1)[0] & 0x7FFFFFFF)


@dataclass
class FactorData:
    """The rendered inputs of one factor for all scenes.

    base: batch layout, observations of S and the query view of S_f (its G-buffer);
    changed: the same with the observations of S_f; reference: ``[N, C, H, W]`` S_f path-traced
    at the query view (K spp) of the scored pass; shown: ``[R, 3, H, W]`` S's beauty at the
    query camera (display only, the first R scenes)."""
    base: Dict[str, Any]
    changed: Dict[str, Any]
    reference: torch.Tensor
    shown: Optional[torch.Tensor] = None


def render_factor_data(cfg, scenes: int, reference_spp: int, seed: int = 0, renderer=None,
                       device: Union[str, torch.device] = "cpu", rows: int = 4,
                       progress: bool = True) -> Dict[str, FactorData]:
    """Draw the base scenes and their one-factor variants and render everything the benchmark
    needs (module docstring, steps 1-3): ``{factor name: FactorData}``."""
    if renderer is None:
        from ..render import Renderer
        renderer = Renderer()
    n_obs = max(1, cfg.views_per_scene - 1)
    size, spp = cfg.max_render_size(), cfg.samples_per_pixel
    passes = list(dict.fromkeys(list(cfg.needed_passes()) + ["beauty"]))
    scored = output_pass(cfg)
    base_views: List[List[dict]] = []
    factor_views: Dict[str, List[List[dict]]] = {f: [] for f in FACTORS}
    shown_views: Dict[str, List[View]] = {f: [] for f in FACTORS}
    for i in range(scenes):
        rz = make_randomizer(cfg.dataset, seed=base_scene_seed(seed, i))
        rz.random_scene()
        views = []
        for _ in range(n_obs):
            rz.random_view()
            views.append(rz.to_json())
        base_views.append(views)
        for f, name in enumerate(FACTORS):
            child = rz.with_factor(f)
            views = []
            for _ in range(n_obs + 1):      # observations, then the query
                child.random_view()
                views.append(child.to_json())
            factor_views[name].append(views)
            shown_views[name].append(View(rz.to_json(), dict(views[-1]["camera"])))
    # renders: S's observations once, per factor S_f's observations + query, the reference and S shown
    total = scenes * (n_obs + 3 * (n_obs + 2)) + 3 * min(rows, scenes)
    with tqdm(total=total, desc="render", unit="view", disable=not progress) as bar:
        def render(groups, s, ps, rule):
            out = render_views(renderer, groups, size, s, ps, rule)
            bar.update(sum(len(g) for g in groups))
            return out
        obs_images, obs_poses = render(base_views, spp, passes, offset_seeds(4 * seed))
        data = {}
        for f, name in enumerate(FACTORS):
            images, poses = render(factor_views[name], spp, passes, offset_seeds(4 * seed + f + 1))
            ref, _ = render([[v[-1]] for v in factor_views[name]], reference_spp, [scored],
                            offset_seeds(4 * seed + f + 1))
            shown = None
            if rows > 0:
                sh, _ = render([[v] for v in shown_views[name][:rows]], reference_spp, ["beauty"],
                               offset_seeds(4 * seed + f + 1))
                shown = torch.from_numpy(sh["beauty"][:, 0])
            q = {p: images[p][:, -1:] for p in passes}
            base = split_views({p: np.concatenate([obs_images[p], q[p]], axis=1) for p in passes},
                               np.concatenate([obs_poses, poses[:, -1:]], axis=1), -1, n_obs)
            changed = split_views(images, poses, -1, n_obs)
            data[name] = FactorData(batch_to_device(base, device), batch_to_device(changed, device),
                                    torch.from_numpy(np.ascontiguousarray(ref[scored][:, 0])).to(device), shown)
    return data


def query_caveats(cfg) -> Dict[str, str]:
    """``{factor: sentence}`` for each factor that the model's query G-buffer shows (e.g. its
    ``albedo`` shows the materials): the query is a view of ``S_f``, so 'none' already sees that
    part of the change and the factor's transfer score says little about its partition. Stored
    in ``compositing.json`` as ``caveats`` and printed by ``evaluate.py --compositing``."""
    out = {}
    for f in FACTORS:
        # geometry is always shown (normal, position): nothing to advise there
        note = shown_factor_warning(cfg, f, "S_f's query view", advice=f != "geometry")
        if note:
            out[f] = note
    return out


def _mean_se(values: Sequence[float]) -> (float, float):
    a = np.asarray(values, dtype=np.float64)
    se = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan")
    return float(a.mean()), se


def transfer_score(none: Sequence[float], composite: Sequence[float], full: Sequence[float],
                   significance: float = SIGNIFICANCE):
    """``(value, standard error)`` of ``(E_none - E_composite) / (E_none - E_full)`` from paired
    per-scene errors; ``(None, None)`` where ``E_none - E_full`` is within ``significance``
    standard errors of 0 (or there are fewer than 2 scenes)."""
    a = np.asarray(none, np.float64) - np.asarray(composite, np.float64)
    b = np.asarray(none, np.float64) - np.asarray(full, np.float64)
    n = len(b)
    if n < 2:
        return None, None
    mb, sb = b.mean(), b.std(ddof=1) / math.sqrt(n)
    if not abs(mb) > significance * sb or mb == 0:
        return None, None
    r = a.mean() / mb
    # delta method for a ratio of means of paired samples
    var = (a.var(ddof=1) - 2 * r * np.cov(a, b, ddof=1)[0, 1] + r * r * b.var(ddof=1)) / (n * mb * mb)
    return float(r), float(math.sqrt(max(var, 0.0)))


def leak_share(leak: Optional[float], gap: Optional[float], gap_se: Optional[float],
               significance: float = SIGNIFICANCE) -> Optional[float]:
    """A factor's leak as a share of its gap ``E_none - E_full``, or None unless that gap is
    positive and beyond ``significance`` standard errors: the transfer's rule (under which its
    score is 'undefined'), here also refusing a gap that is significantly negative, of which no
    share means anything (nor of a gap that is only noise: 78 for a gap of 0.0004)."""
    if leak is None or gap is None or not gap > significance * (gap_se or 0.0):
        return None
    return leak / gap


def representation_shift(model, base: Sequence[torch.Tensor], changed: Sequence[torch.Tensor]
                         ) -> Dict[str, Optional[float]]:
    """Per partition (lighting / geometry / material), the share of the squared change between
    two encodings (``model.encode``'s lists, one ``[B, r, h, w]`` per encoder) that lies in that
    partition, over scenes, positions and every encoder; the shares sum to 1 (the null
    partition, zero in both, holds none). None for every partition when nothing changed."""
    totals = torch.zeros(len(FACTORS), dtype=torch.float64)
    for i, (a, b) in enumerate(zip(base, changed)):
        owner = partition_assignment(model, i).to(a.device)
        d2 = (b.double() - a.double()).pow(2).sum(dim=(0, 2, 3))          # [r]
        for k in range(len(FACTORS)):
            totals[k] += d2[owner == k].sum().cpu()
    total = float(totals.sum())
    if not total > 0:
        return {g: None for g in FACTORS}
    return {g: float(totals[k]) / total for k, g in enumerate(FACTORS)}


def score_factor(model, data: FactorData, factor: str, pass_name: str,
                 metrics: Sequence[str] = DEFAULT_METRICS) -> Dict[str, Any]:
    """Per-scene errors of one factor (module docstring, steps 4-5): ``{"composite" | "full" |
    "none" | "leak:<g>": {metric: [per scene]}}``, the predictions (``"images"``) and where the
    representation changes (``"shift"``: :func:`representation_shift`)."""
    with torch.no_grad():
        enc_s = model.encode(data.base, -1)[0]
        enc_f = model.encode(data.changed, -1)[0]
        shift = representation_shift(model, enc_s, enc_f)
        sources = {"none": {g: enc_s for g in FACTORS}, "full": {g: enc_f for g in FACTORS},
                   "composite": {g: (enc_f if g == factor else enc_s) for g in FACTORS}}
        for g in FACTORS:
            if g != factor:
                sources[f"leak:{g}"] = {h: (enc_f if h == g else enc_s) for h in FACTORS}
        errors, images = {}, {}
        for kind, encoded in sources.items():
            pred = decode_composite(model, encoded, data.base)[-1][pass_name].float()
            ref = data.reference.float()
            if ref.shape[-2:] != pred.shape[-2:]:
                ref = F.interpolate(ref, size=pred.shape[-2:], mode="nearest")
            errors[kind] = per_image_metrics(pred, ref, metrics)
            images[kind] = pred
    return {"errors": errors, "images": images, "shift": shift}


def summarize_factor(errors: Mapping[str, Mapping[str, Sequence[float]]], metrics: Sequence[str],
                     significance: float = SIGNIFICANCE) -> Dict[str, Any]:
    """The ``compositing.json`` entry of one factor from its per-scene errors."""
    out: Dict[str, Any] = {"errors": {}, "errors_se": {}, "transfer": {}, "transfer_se": {},
                           "leak": {}, "leak_se": {}, "leak_by_partition": {}}
    for kind in ("composite", "full", "none"):
        ms = {m: _mean_se(errors[kind][m]) for m in metrics}
        out["errors"][kind] = {m: v[0] for m, v in ms.items()}
        out["errors_se"][kind] = {m: v[1] for m, v in ms.items()}
    leaks = [k for k in errors if k.startswith("leak:")]
    for m in metrics:
        t, se = transfer_score(errors["none"][m], errors["composite"][m], errors["full"][m], significance)
        out["transfer"][m], out["transfer_se"][m] = t, se
        none = np.asarray(errors["none"][m], np.float64)
        per_scene = np.mean([np.abs(np.asarray(errors[k][m], np.float64) - none) for k in leaks], axis=0)
        out["leak"][m], out["leak_se"][m] = _mean_se(per_scene)
    for k in leaks:
        out["leak_by_partition"][k.split(":", 1)[1]] = {
            m: _mean_se(np.abs(np.asarray(errors[k][m]) - np.asarray(errors["none"][m])))[0] for m in metrics}
    return out


def factor_grid(data: FactorData, images: Mapping[str, torch.Tensor], pass_name: str, rows: int) -> np.ndarray:
    """Rows of S | S_f truth | composite | full | none (display mapping, upscaled, labelled)."""
    r = min(rows, data.reference.shape[0])
    size = tuple(images["full"].shape[-2:])
    tiles = []
    for i in range(r):
        s = display("beauty", data.shown[i]) if data.shown is not None and i < data.shown.shape[0] else None
        tiles.append([s, display(pass_name, data.reference[i].cpu())]
                     + [display(pass_name, images[k][i].cpu()) for k in ("composite", "full", "none")])
    return grid(tiles, gap=2, tile_size=size, min_tile=MIN_TILE, row_labels=[f"scene {i}" for i in range(r)],
                col_labels=["S", "S_f truth", "composite", "full", "none"])


def compositing_benchmark(model, cfg=None, scenes: int = DEFAULT_SCENES,
                          reference_spp: int = DEFAULT_REFERENCE_SPP, seed: int = 0,
                          metrics: Sequence[str] = DEFAULT_METRICS,
                          out_folder: Optional[Union[str, os.PathLike]] = None, rows: int = 4,
                          progress: bool = True, renderer=None,
                          significance: float = SIGNIFICANCE) -> Dict[str, Any]:
    """Run the compositing benchmark (module docstring) on a loaded ``model`` (eval mode, its
    ``iteration`` set, as :func:`cnsr.engine.api.load_model` gives it) and return the
    ``compositing.json`` dict; with ``out_folder``, also write it and the grids there.

    cfg: the model's config (default ``model.cfg``); scenes: base scenes N; reference_spp: K;
    seed: the base scenes' seed; rows: scenes per grid. Raises
    :class:`cnsr.analysis.compositing.CompositingError` for a model without
    ``latent_separation``."""
    require_partitioning(model)
    cfg = cfg if cfg is not None else model.cfg
    metrics = check_metrics(metrics)
    if int(scenes) < 2:
        raise ValueError(f"the compositing benchmark needs at least 2 scenes (standard errors), got {scenes}")
    if int(reference_spp) < 1:
        raise ValueError(f"reference_spp must be at least 1, got {reference_spp}")
    device = next(iter(model.parameters())).device if any(True for _ in model.parameters()) else "cpu"
    model.eval()
    name = output_pass(cfg)
    data = render_factor_data(cfg, int(scenes), int(reference_spp), seed, renderer, device, rows, progress)
    report: Dict[str, Any] = {"scenes": int(scenes), "reference_spp": int(reference_spp), "seed": int(seed),
                              "pass": name, "metrics": list(metrics), "significance": significance,
                              "iteration": int(getattr(model, "iteration", 0)), "factors": {},
                              "caveats": query_caveats(cfg)}
    grids = {}
    for f in tqdm(FACTORS, desc="decode", disable=not progress):
        scored = score_factor(model, data[f], f, name, metrics)
        report["factors"][f] = summarize_factor(scored["errors"], metrics, significance)
        report["factors"][f]["shift"] = scored["shift"]
        if rows > 0:
            grids[f] = factor_grid(data[f], scored["images"], name, rows)
    if out_folder is not None:
        out = Path(out_folder)
        out.mkdir(parents=True, exist_ok=True)
        for f, img in grids.items():
            write_png(out / f"compositing_{f}.png", img)
        with atomic_path(out / "compositing.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _pm(value, se, fmt) -> str:
    if value is None:
        return "undefined"
    if se is None or not math.isfinite(se):
        return f"{value:{fmt}}"
    return f"{value:{fmt}}±{se:{fmt}}"


def format_compositing_table(report: Mapping[str, Any]) -> str:
    """The benchmark as a fixed-width text table: per factor and metric E_none, E_full,
    E_composite, transfer and leak (means ± standard errors over the scenes)."""
    cols = ("none", "full", "composite", "transfer", "leak")
    lines = [f"{'factor':<10}{'metric':<7}" + "".join(f"{c:>20}" for c in cols)]
    for f, entry in report["factors"].items():
        for m in report["metrics"]:
            fmt = METRICS[m].fmt if m in METRICS else ".4f"
            cells = [_pm(entry["errors"][k][m], entry["errors_se"][k][m], fmt) for k in ("none", "full", "composite")]
            cells.append(_pm(entry["transfer"][m], entry["transfer_se"][m], ".2f"))
            cells.append(_pm(entry["leak"][m], entry["leak_se"][m], fmt))
            label = METRICS[m].label if m in METRICS else m
            lines.append(f"{f:<10}{label:<7}" + "".join(f"{c:>20}" for c in cells))
    shifts = {f: e.get("shift") for f, e in report["factors"].items()}
    if any(v and v.get(f) is not None for f, v in shifts.items()):
        lines.append("where the representation changes (share of the squared change in each partition):")
        for f, v in shifts.items():
            if v and v.get(f) is not None:
                lines.append(f"  {f:<10}" + "  ".join(f"{g} {100 * x:5.1f} %" for g, x in v.items())
                             + f"   outside its own: {100 * (1 - v[f]):.1f} %")
    lines.append(f"({report['scenes']} scenes, references at {report['reference_spp']} spp, pass "
                 f"{report['pass']}; transfer = (E_none - E_composite) / (E_none - E_full), undefined where "
                 f"E_none - E_full is within {report.get('significance', SIGNIFICANCE):g} standard errors of 0)")
    return "\n".join(lines)

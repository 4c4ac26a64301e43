"""Learning curves: a run's checkpoints measured with the clean-reference metrics and the
compositing benchmark, so that one can see *when* a model starts to read a factor from its
observations and *when* that factor lands in its own partition.

``python code/evaluate.py --checkpoints RUN_FOLDER`` (library: :func:`measure_run`) measures
every checkpoint of a run that ``curves.json`` does not hold yet and writes, to
``RUN_FOLDER/curves/`` (or ``--out_folder``):

* ``curves.json``: ``{"settings": {...}, "run": {...}, "points": [entry, ...]}``, one entry per
  checkpoint, oldest first (:func:`measure_checkpoint`)::

      {"iteration": 4000, "checkpoint": "room_adaptive_4000.pt", "train_seconds": 410.2,
       "sharpness": 35.6, "partition": {"lighting_percentage": ...},
       "train_loss": 0.61, "test_loss": 0.66,
       "reference": {metric: mean}, "reference_se": {metric: standard error},
       "compositing": {factor: <the benchmark's per-factor entry: errors, errors_se, transfer,
                                transfer_se, leak, leak_se, leak_by_partition, shift>},
       "read": {factor: {metric: {"gap": E_none - E_full, "gap_se": ..., "fraction": gap / E_none}}}}

  and ``"summary"``: per factor and metric the first measured iteration at which the transfer
  score reached 0.8 (``first_transfer_0.8``) and at which the factor was read (its gap beyond
  2 standard errors and at least 30 % of ``E_none``: ``first_read``);
* ``curves.png``: the run's figure (:func:`plot_run`): losses, clean-reference quality, per
  factor the three errors of the compositing benchmark with standard-error bands, the transfer
  scores and the leaks, against iterations (wall time on the top axis where known).

The expensive part, path tracing the 256-spp references and the benchmark's views, depends
only on the config's data and the settings, not on the checkpoint: it is rendered once per
run and kept in ``curves/cache.pt``, so measuring one more checkpoint costs only the network
(seconds for the small models). ``python code/evaluate.py --compare A/curves/curves.json
B/curves/curves.json --labels a,b --out_folder D`` overlays several runs (:func:`plot_compare`).

Points measured before the benchmark recorded ``shift`` (where each factor's change lands in the
representation) get it on the next call, from the encoders alone, while their checkpoints exist.

Checkpoints are listed by name (``<job_name>_<iteration>.pt``; the iteration is the number of
completed iterations) with :func:`cnsr.engine.checkpoint.list_checkpoints`; training seconds
come from the checkpoint (``train_seconds``, written by the trainer) or, for older runs, from
the TensorBoard speed log (``perf/it_per_s`` integrated over the iterations).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from ..config import Config, load_config, output_pass
from ..data import build_loader
from ..engine import checkpoint as ckpt
from ..engine.api import load_model
from ..io.atomic import atomic_path
from ..metrics import per_image_metrics
from .compositing import FACTORS
from .curve_plots import plot_compare, plot_run  # noqa: F401  (plot_compare: re-exported)
from .compositing_benchmark import (SIGNIFICANCE, FactorData, render_factor_data, representation_shift, score_factor,
                                    summarize_factor)
from .references import ReferenceRenderer

PathLike = Union[str, os.PathLike]

#: transfer score at which a factor counts as composited in the summary
TRANSFER_MARK = 0.8
#: a factor counts as read when E_none - E_full exceeds SIGNIFICANCE standard errors and this share of E_none
READ_FRACTION = 0.3
#: the metrics of a curve point unless told otherwise
CURVE_METRICS = ("mape", "rmse", "ssim")
#: version of the cache layout (a different one is rendered again)
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class CurveSettings:
    """What each checkpoint is measured with (a change measures every checkpoint again)."""
    reference_spp: int = 256
    reference_batches: Optional[int] = None     # test batches scored (None: all)
    compositing_scenes: int = 32
    seed: int = 0                               # the compositing benchmark's base scenes
    #: FLIP and PSNR are left out by default: FLIP is the slowest metric and the targets read RMSE, MAPE, SSIM
    metrics: Tuple[str, ...] = CURVE_METRICS

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        return d


class CurveError(ValueError):
    """A run folder that cannot be measured (no checkpoints, no config); the message says why."""


# ----------------------------------------------------------------------------- run folders
def run_config(folder: PathLike, config: Optional[Union[PathLike, Dict[str, Any], Config]] = None) -> Config:
    """The config of a run folder: ``config`` if given (a path, a dict or a Config), else the
    folder's ``config.json``, else the config stored in its newest checkpoint."""
    folder = Path(folder)
    if config is not None:
        return load_config(config)
    if (folder / "config.json").is_file():
        return load_config(folder / "config.json")
    found = sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime)
    for p in reversed(found):
        try:
            state = ckpt.read_checkpoint(p)
        except ckpt.CheckpointError:
            continue
        if isinstance(state, dict) and isinstance(state.get("config"), dict):
            return load_config(state["config"])
    raise CurveError(f"{folder}: no config.json and no checkpoint that carries its config; give --config")


def run_checkpoints(folder: PathLike, cfg: Config) -> List[Tuple[int, Path]]:
    """``(completed iterations, path)`` of the run's checkpoints, oldest first."""
    return ckpt.list_checkpoints(folder, cfg.job_name)


def tensorboard_scalars(log_dir: PathLike) -> Dict[str, List[Tuple[int, float, float]]]:
    """``{tag: [(step, value, wall_time), ...]}`` of every scalar in the TensorBoard event files
    under ``log_dir`` ({} when there are none or TensorBoard cannot read them)."""
    log_dir = Path(log_dir)
    files = sorted(log_dir.rglob("events.out.tfevents.*")) if log_dir.is_dir() else []
    if not files:
        return {}
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return {}
    out: Dict[str, List[Tuple[int, float, float]]] = {}
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        try:
            acc.Reload()
        except Exception:       # a half-written event file of a live run: use what the others have
            continue
        for tag in acc.Tags().get("scalars", []):
            out.setdefault(tag, []).extend((e.step, e.value, e.wall_time) for e in acc.Scalars(tag))
    for tag in out:
        out[tag].sort()
    return out


def _value_at(series: Sequence[Tuple[int, float, float]], step: int) -> Optional[float]:
    """The value logged at the largest step <= ``step`` (None before the first)."""
    best = None
    for s, v, _ in series:
        if s <= step:
            best = v
        else:
            break
    return best


def train_seconds_from_speed(series: Sequence[Tuple[int, float, float]], step: int) -> Optional[float]:
    """Training seconds up to ``step`` from the logged speed (``perf/it_per_s`` at the end of each
    logging interval): the sum of interval lengths / speeds; None when nothing covers ``step``."""
    total, prev = 0.0, 0
    for s, v, _ in series:
        if s > step:
            break
        if v > 0:
            total += (s - prev) / v
        prev = s
    if prev == 0:
        return None
    if prev < step and series:     # the tail after the last log at the last speed seen
        last = [v for s, v, _ in series if s <= step][-1]
        total += (step - prev) / last if last > 0 else 0.0
    return total


# ----------------------------------------------------------------------------- the renders
class CurveData:
    """Everything a checkpoint is scored against, rendered once: the test batches with their
    query views path-traced at ``reference_spp``, and the compositing benchmark's factor data."""

    def __init__(self, cfg: Config, settings: CurveSettings, device="cpu", progress: bool = True,
                 cache: Optional[PathLike] = None):
        self.cfg, self.settings, self.device = cfg, settings, torch.device(device)
        self.cache = Path(cache) if cache is not None else None
        key = self._key()
        stored = None
        if self.cache is not None and self.cache.is_file():
            try:
                stored = torch.load(self.cache, map_location="cpu", weights_only=False)
            except Exception:
                stored = None
            if not isinstance(stored, dict) or stored.get("key") != key:
                stored = None
        if stored is None:
            stored = {"key": key, "test": self._render_test(progress), "factors": self._render_factors(progress)}
            if self.cache is not None:
                self.cache.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(self.cache) as tmp:
                    torch.save(stored, tmp)
        self.test: List[Dict[str, Any]] = [_to(b, self.device) for b in stored["test"]]
        self.factors: Dict[str, FactorData] = {
            f: FactorData(_to(d["base"], self.device), _to(d["changed"], self.device), d["reference"].to(self.device))
            for f, d in stored["factors"].items()}

    def _key(self) -> Dict[str, Any]:
        c = self.cfg
        return {"format": _CACHE_FORMAT, "settings": self.settings.to_dict(), "dataset": c.dataset,
                "test_data_dir": str(c.data_dir("test")) if c.cached_dataset else None, "seed": c.seed,
                "size": c.max_render_size(), "spp": c.samples_per_pixel, "views": c.views_per_scene,
                "passes": c.needed_passes(), "output_pass": output_pass(c)}

    def _render_test(self, progress: bool) -> List[Dict[str, Any]]:
        s = self.settings
        loader = build_loader(self.cfg, "test", device="cpu", num_workers=0)
        refs = ReferenceRenderer(self.cfg, s.reference_spp)
        count = s.reference_batches
        if count is None:
            count = len(refs.files) if refs.files is not None else 4
        out = []
        with tqdm(total=count, desc="references", unit="batch", disable=not progress) as bar:
            for k, batch in enumerate(loader):
                if k >= count:
                    break
                batch = {key: v for key, v in batch.items() if key != "source"}
                batch["references"] = refs(k, batch)
                out.append(batch)
                bar.update(1)
        if not out:
            raise CurveError("the config's test split gave no batches")
        return out

    def _render_factors(self, progress: bool) -> Dict[str, Dict[str, Any]]:
        s = self.settings
        data = render_factor_data(self.cfg, s.compositing_scenes, s.reference_spp, s.seed, device="cpu", rows=0,
                                  progress=progress)
        return {f: {"base": d.base, "changed": d.changed, "reference": d.reference} for f, d in data.items()}


def _to(x, device):
    if torch.is_tensor(x):
        return x.to(device)
    if isinstance(x, dict):
        return {k: _to(v, device) for k, v in x.items()}
    return x


# ----------------------------------------------------------------------------- measuring
def _mean_se(values: Sequence[float]) -> Tuple[float, float]:
    a = np.asarray(values, np.float64)
    return float(a.mean()), (float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan"))


def read_scores(compositing: Mapping[str, Any], per_scene: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
                metrics: Sequence[str]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Per factor and metric, how much seeing the changed scene helps: ``gap`` = E_none - E_full
    (oriented so that positive is better for every metric), its standard error over the paired
    scenes, and ``fraction`` = gap / E_none (for error metrics)."""
    from ..metrics import METRICS

    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for f, errs in per_scene.items():
        out[f] = {}
        for m in metrics:
            sign = -1.0 if (m in METRICS and METRICS[m].higher_is_better) else 1.0
            d = sign * (np.asarray(errs["none"][m], np.float64) - np.asarray(errs["full"][m], np.float64))
            gap, se = _mean_se(d)
            none = float(np.mean(errs["none"][m]))
            out[f][m] = {"gap": gap, "gap_se": se, "fraction": gap / none if sign > 0 and none > 0 else None}
    return out


def measure_checkpoint(data: CurveData, path: PathLike, iteration: int,
                       scalars: Optional[Mapping[str, Sequence[Tuple[int, float, float]]]] = None) -> Dict[str, Any]:
    """One point of the curves: the model at ``path`` (``iteration`` completed iterations)
    scored on ``data``."""
    cfg, s = data.cfg, data.settings
    state = ckpt.read_checkpoint(path)
    model = load_model(cfg, path, device=data.device, allow_config_change=True)
    model.set_iteration(iteration)     # the iteration in the file name: its sharpness is the one trained at
    name = output_pass(cfg)
    entry: Dict[str, Any] = {"iteration": int(iteration), "checkpoint": Path(path).name}
    seconds = state.get("train_seconds") if isinstance(state, dict) else None
    if seconds is None and scalars:
        speed = next((v for k, v in scalars.items() if k.endswith("it_per_s")), None)
        seconds = train_seconds_from_speed(speed, iteration) if speed else None
    entry["train_seconds"] = float(seconds) if seconds is not None else None
    encs = model.representation.representations
    entry["sharpness"] = float(encs[0].sharpness(iteration)) if len(encs) else None
    entry["partition"] = model.partition_stats() if hasattr(model, "partition_stats") else {}
    train_loss = None
    if scalars:
        series = next((v for k, v in scalars.items() if k.endswith("/total_loss")), None)
        train_loss = _value_at(series, iteration) if series else None
    entry["train_loss"] = train_loss

    # held-out loss (the training objective on the test batches) and clean-reference metrics
    losses, per_scene = [], {m: [] for m in s.metrics}
    with torch.no_grad():
        for batch in data.test:
            inputs = {k: v for k, v in batch.items() if k != "references"}
            loss, _ = model.compute_loss(inputs, iteration)
            losses.append(float(loss))
            pred = model.sample(inputs)[-1][name].float()
            ref = batch["references"][name].float()
            for m, vals in per_image_metrics(pred, ref, s.metrics).items():
                per_scene[m].extend(vals)
    entry["test_loss"] = float(np.mean(losses))
    ms = {m: _mean_se(v) for m, v in per_scene.items()}
    entry["reference"] = {m: v[0] for m, v in ms.items()}
    entry["reference_se"] = {m: v[1] for m, v in ms.items()}

    # the compositing benchmark on the cached factor data
    if cfg.latent_separation:
        entry["compositing"], errors = {}, {}
        for f in FACTORS:
            scored = score_factor(model, data.factors[f], f, name, s.metrics)
            errors[f] = scored["errors"]
            entry["compositing"][f] = summarize_factor(scored["errors"], s.metrics, SIGNIFICANCE)
            entry["compositing"][f]["shift"] = scored["shift"]
        entry["read"] = read_scores(entry["compositing"], errors, s.metrics)
    return entry


def measure_shift(data: CurveData, path: PathLike, iteration: int) -> Dict[str, Dict[str, Optional[float]]]:
    """Only the representation shift of each factor (:func:`~cnsr.analysis.compositing_benchmark.representation_shift`)
    of the model at ``path``: the encoders alone, for points measured before the shift was."""
    model = load_model(data.cfg, path, device=data.device, allow_config_change=True)
    model.set_iteration(iteration)
    with torch.no_grad():
        return {f: representation_shift(model, model.encode(data.factors[f].base, -1)[0],
                                        model.encode(data.factors[f].changed, -1)[0]) for f in FACTORS}


def _lacks_shift(point: Mapping[str, Any]) -> bool:
    comp = point.get("compositing")
    return bool(comp) and any("shift" not in c for c in comp.values())


def summarize(points: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("rmse", "mape")) -> Dict[str, Any]:
    """Per factor and metric: the first measured iteration at which the transfer reached
    :data:`TRANSFER_MARK` (``first_transfer_0.8``) and at which the factor was read
    (``first_read``: gap beyond 2 standard errors and >= :data:`READ_FRACTION` of E_none);
    None where it never did."""
    out: Dict[str, Any] = {}
    for f in FACTORS:
        out[f] = {}
        for m in metrics:
            first_t = first_r = None
            for p in points:
                c = (p.get("compositing") or {}).get(f)
                if c is None:
                    continue
                t = c["transfer"].get(m)
                if first_t is None and t is not None and t >= TRANSFER_MARK:
                    first_t = p["iteration"]
                r = (p.get("read") or {}).get(f, {}).get(m)
                if (first_r is None and r is not None and r["fraction"] is not None
                        and r["gap"] > SIGNIFICANCE * r["gap_se"] and r["fraction"] >= READ_FRACTION):
                    first_r = p["iteration"]
            out[f][m] = {f"first_transfer_{TRANSFER_MARK:g}": first_t, "first_read": first_r}
    return out


def load_curves(path: PathLike) -> Dict[str, Any]:
    """A ``curves.json`` (a file, or a folder holding one, or a run folder with ``curves/``)."""
    p = Path(path)
    for c in (p, p / "curves.json", p / "curves" / "curves.json"):
        if c.is_file():
            return json.loads(c.read_text())
    raise CurveError(f"{path}: no curves.json there (measure the run first: evaluate.py --checkpoints RUN)")


def measure_run(folder: PathLike, config: Optional[Union[PathLike, Dict[str, Any], Config]] = None, settings: CurveSettings = CurveSettings(),
                out_folder: Optional[PathLike] = None, device="cpu", progress: bool = True,
                every: int = 1, plot: bool = True, log=None) -> Dict[str, Any]:
    """Measure the checkpoints of the run in ``folder`` that ``curves.json`` lacks (every
    ``every``-th of them, the last always), write ``curves.json`` (after each checkpoint: a
    stopped measurement resumes) and the figure; returns the curves dict."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CurveError(f"{folder}: not a folder")
    cfg = run_config(folder, config)
    found = run_checkpoints(folder, cfg)
    if not found:
        raise CurveError(f"{folder}: no checkpoints of job {cfg.job_name!r} ({cfg.job_name}_<iteration>.pt)")
    chosen = [c for i, c in enumerate(found) if i % max(every, 1) == 0 or i == len(found) - 1]
    out = Path(out_folder) if out_folder is not None else folder / "curves"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "curves.json"
    curves: Dict[str, Any] = {}
    if path.is_file():
        try:
            curves = json.loads(path.read_text())
        except ValueError:
            curves = {}
    if curves.get("settings") != settings.to_dict():
        curves = {}
    points = {p["checkpoint"]: p for p in curves.get("points", [])}
    todo = [(i, p) for i, p in chosen if p.name not in points]
    # points measured before the representation shift was: the encoders only, where the file is still there
    files = {p.name: (i, p) for i, p in found}
    backfill = [files[name] for name, pt in points.items() if _lacks_shift(pt) and name in files]
    curves = {"settings": settings.to_dict(), "run": {"folder": folder.name, "job_name": cfg.job_name,
                                                     "iterations": cfg.iterations, "config": cfg.to_dict()},
              "points": sorted(points.values(), key=lambda e: e["iteration"])}
    if todo or backfill:
        data = CurveData(cfg, settings, device, progress, cache=out / "cache.pt")
        scalars = tensorboard_scalars(_log_dir(folder, cfg))
        for i, p in tqdm(backfill, desc="representation shift", unit="ckpt", disable=not progress):
            for f, shift in measure_shift(data, p, i).items():
                points[p.name]["compositing"][f]["shift"] = shift
        if backfill:
            curves["points"] = sorted(points.values(), key=lambda e: e["iteration"])
            _write_json(path, curves)
        for i, p in tqdm(todo, desc="checkpoints", unit="ckpt", disable=not progress):
            if log:
                log(f"{folder.name}: measuring {p.name}")
            points[p.name] = measure_checkpoint(data, p, i, scalars)
            curves["points"] = sorted(points.values(), key=lambda e: e["iteration"])
            curves["summary"] = summarize(curves["points"])
            _write_json(path, curves)
    curves["summary"] = summarize(curves["points"])
    figure = out / "curves.png"
    if todo or backfill or not path.is_file():
        _write_json(path, curves)
    if plot and (todo or backfill or not figure.is_file() or figure.stat().st_mtime < path.stat().st_mtime):
        plot_run(curves, figure)
    return curves


def _log_dir(folder: Path, cfg: Config) -> Path:
    for c in (folder / "tensorboard", folder / "tb", folder / "runs"):
        if c.is_dir():
            return c
    return folder


def _finite(x):
    """``x`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _write_json(path: Path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_finite(data), indent=1, allow_nan=False) + "\n")



def format_curves_table(curves: Mapping[str, Any]) -> str:
    """One line per measured checkpoint: iteration, training minutes, held-out loss, clean-reference
    RMSE / MAPE / SSIM, and per factor the share of E_none read ((E_none - E_full) / E_none) and
    the transfer score, both on RMSE."""
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    head = (f"{'iteration':>9} {'min':>6} {'test loss':>9} {'RMSE':>6} {'MAPE':>6} {'SSIM':>6}"
            + "".join(f" {f[:4] + ' read':>9} {f[:4] + ' tr.':>8}" for f in FACTORS))
    lines = [head]
    for p in curves.get("points", []):
        ref = p.get("reference", {})
        row = (f"{p['iteration']:>9} {fmt(p['train_seconds'] / 60 if p.get('train_seconds') is not None else None, '6.1f')}"
               f" {fmt(p.get('test_loss'), '9.4f')} {fmt(ref.get('rmse'), '6.3f')} {fmt(ref.get('mape'), '6.3f')}"
               f" {fmt(ref.get('ssim'), '6.3f')}")
        for f in FACTORS:
            r = (p.get("read") or {}).get(f, {}).get("rmse", {})
            c = (p.get("compositing") or {}).get(f, {})
            frac = r.get("fraction")
            row += f" {fmt(100 * frac if frac is not None else None, '8.0f')}%" if frac is not None else f" {'-':>9}"
            row += f" {fmt(c.get('transfer', {}).get('rmse'), '8.2f')}"
        lines.append(row)
    lines.append("(read: (E_none - E_full) / E_none on RMSE; tr.: transfer score on RMSE, '-' where undefined)")
    return "\n".join(lines)

"""What is measured of a finished run: one function per group of table columns.

Each group function takes a :class:`RunContext` (the run's config, final checkpoint, loaded
model, output folder, device) and returns a flat dict of numbers (or None where a number does
not apply). The runner stores every group's result in ``<run>/result.json`` keyed by the
checkpoint it was computed at, so a group is computed once per checkpoint; a new group added
to :data:`COLUMN_GROUPS` is computed for finished runs the next time the command runs.
Groups: ``reference`` (Fig. 9's metrics against clean references), ``compositing`` (the
compositing benchmark's transfer scores and leak), ``partition`` (learned sizes, active
dimensions) and ``run`` (iterations, training time). Register further groups with
:func:`register_group` or by adding them here.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from ..analysis.compositing import FACTORS
from . import backend


@dataclass
class RunContext:
    name: str
    config: Dict[str, Any]
    checkpoint: Path
    iteration: int
    folder: Path
    device: Optional[str] = None
    progress: bool = True
    train_log: Dict[str, Any] = field(default_factory=dict)
    _model: Any = None
    settings: "MeasureSettings" = None

    def __post_init__(self):
        if self.settings is None:
            self.settings = MeasureSettings()

    @property
    def model(self):
        """The model at the final checkpoint (loaded on first use)."""
        if self._model is None:
            self._model = backend.load_model(self.config, self.checkpoint, self.device)
        return self._model

    @property
    def partitioned(self) -> bool:
        return bool(self.config.get("latent_separation", False))

    @property
    def adaptive(self) -> bool:
        return self.partitioned and bool(self.config.get("adaptive_separation", True))

    @property
    def null_partition(self) -> bool:
        return self.adaptive and bool(self.config.get("empty_partition", False))


GroupFn = Callable[[RunContext], Dict[str, Any]]


#: metrics of the Fig. 9 columns (cnsr.metrics names), in table order
QUALITY_METRICS = ("mape", "rmse", "ssim", "psnr", "flip")
#: metrics whose transfer scores the compositing columns keep
TRANSFER_METRICS = ("mape", "rmse")


@dataclass
class MeasureSettings:
    """How expensive the measurements of a finished run are (the suite's scale sets them).

    reference_batches: test batches scored against clean references (None: all);
    reference_spp: samples per pixel of those references and of the compositing benchmark's;
    compositing_scenes: base scenes of the compositing benchmark."""
    reference_batches: Optional[int] = None
    reference_spp: int = 256
    compositing_scenes: int = 32
    curves: bool = True

    @classmethod
    def from_suite(cls, spec: Dict[str, Any], where: str = "measure") -> "MeasureSettings":
        """The settings of a suite scale's ``measure`` object (missing keys keep the defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**spec)


#: the measurements' cost per scale when a suite file does not say (its scales' ``measure``)
MEASURE_SETTINGS = {"tiny": MeasureSettings(reference_batches=1, reference_spp=2, compositing_scenes=2),
                    "small": MeasureSettings(),
                    "paper": MeasureSettings(reference_batches=16, compositing_scenes=64, curves=False)}


def _output_key(run: RunContext, metrics: Dict[str, Any]) -> str:
    """The metrics.json key of the model's output pass on its last generator."""
    output_pass = run.config.get("model", {}).get("output_pass", "beauty")
    keys = [k for k in metrics if k.startswith(f"{output_pass}_")]
    return sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))[-1] if keys else next(iter(metrics))


def reference_columns(run: RunContext) -> Dict[str, Any]:
    """Fig. 9: MAPE / RMSE / SSIM / PSNR / FLIP of the output pass on the first test batches
    against clean references (the query views path-traced at ``reference_spp``); metrics.json
    and the image grid in ``<run>/evaluation``."""
    s = run.settings
    t0 = time.time()
    report = backend.evaluate_references(run.model, run.config, run.folder / "evaluation", s.reference_batches,
                                         s.reference_spp, run.device, progress=run.progress,
                                         info={"checkpoint": str(run.checkpoint), "iteration": run.iteration})
    key = _output_key(run, report["metrics"])
    m = report["metrics"][key]
    out: Dict[str, Any] = {"pass": key}
    out.update({k: m.get(k) for k in QUALITY_METRICS})
    out.update(test_scenes=report["scenes"], reference_spp=s.reference_spp, wall_s=time.time() - t0)
    return out


def compositing_columns(run: RunContext) -> Dict[str, Any]:
    """The compositing benchmark (cnsr.analysis.compositing_benchmark): per factor the transfer
    scores on MAPE and RMSE (None where undefined: the model does not improve measurably from
    seeing the changed scene) with their standard errors, and the leak of the other partitions,
    with ``compositing.json`` and one grid per factor in ``<run>/compositing``. A monolithic
    representation has no partitions to swap: every value None."""
    s = run.settings
    out: Dict[str, Any] = {"scenes": s.compositing_scenes, "reference_spp": s.reference_spp}
    for f in FACTORS:
        for m in TRANSFER_METRICS:
            out.update({f"{f}_transfer_{m}": None, f"{f}_transfer_{m}_se": None,
                        f"{f}_leak_{m}": None, f"{f}_leak_{m}_se": None})
    out["wall_s"] = None
    if not run.partitioned:
        return out
    t0 = time.time()
    report = backend.run_compositing_benchmark(run.model, run.config, run.folder / "compositing",
                                               s.compositing_scenes, s.reference_spp, progress=run.progress)
    for f in FACTORS:
        entry = report["factors"][f]
        for m in TRANSFER_METRICS:
            out[f"{f}_transfer_{m}"] = entry["transfer"][m]
            out[f"{f}_transfer_{m}_se"] = entry["transfer_se"][m]
            out[f"{f}_leak_{m}"] = entry["leak"][m]
            out[f"{f}_leak_{m}_se"] = entry["leak_se"][m]
    out["wall_s"] = time.time() - t0
    return out


def partition_columns(run: RunContext) -> Dict[str, Any]:
    """Learned partition sizes at the final checkpoint (``model.partition_stats()``), in percent
    of the representation, and the active dimensions ``(1 - p_null) r``. Static partitions are
    thirds; a monolithic representation has none (None)."""
    r_dim = int(run.config["model"]["representations"][0].get("representation_dim", 256))
    out: Dict[str, Any] = {"representation_dim": r_dim, "lighting": None, "geometry": None, "material": None,
                           "null": None, "active_dims": float(r_dim)}
    if not run.partitioned:
        return out
    if not run.adaptive:
        third = r_dim // 3
        out.update(lighting=100 * third / r_dim, geometry=100 * third / r_dim,
                   material=100 * (r_dim - 2 * third) / r_dim)
        return out
    stats = backend.partition_stats(run.model)
    out.update(lighting=100 * stats["lighting_percentage"], geometry=100 * stats["geometry_percentage"],
               material=100 * stats["material_percentage"])
    if "null_percentage" in stats:
        out["null"] = 100 * stats["null_percentage"]
    out["active_dims"] = stats.get("active_size", float(r_dim))
    return out


def curves_columns(run: RunContext) -> Dict[str, Any]:
    """Learning curves (:mod:`cnsr.analysis.curves`): every kept checkpoint of the run measured
    like the final one (clean-reference metrics, compositing benchmark, losses) into
    ``<run>/curves/curves.json`` and ``curves.png``; the columns say when the effect appeared:
    per factor the first measured iteration at which it was read from the observations
    (E_none - E_full beyond 2 standard errors and >= 30 % of E_none, RMSE) and at which its
    transfer score reached 0.8 (RMSE and MAPE); and the final point's gaps and leaks."""
    s = run.settings
    out: Dict[str, Any] = {"points": None}
    if not s.curves:
        return out
    t0 = time.time()
    curves = backend.measure_curves(run.folder, run.config, s.reference_spp, s.reference_batches,
                                    s.compositing_scenes, run.device, progress=run.progress)
    points = curves["points"]
    out["points"] = len(points)
    out["first_iteration"] = points[0]["iteration"] if points else None
    for f in FACTORS:
        summ = curves.get("summary", {}).get(f, {})
        out[f"{f}_read_at"] = summ.get("rmse", {}).get("first_read")
        for m in TRANSFER_METRICS:
            out[f"{f}_transfer_0.8_at_{m}"] = summ.get(m, {}).get("first_transfer_0.8")
        last = points[-1] if points else {}
        read = (last.get("read") or {}).get(f, {}).get("rmse")
        comp = (last.get("compositing") or {}).get(f)
        out[f"{f}_gap_rmse"] = read["gap"] if read else None
        out[f"{f}_gap_rmse_se"] = read["gap_se"] if read else None
        out[f"{f}_gap_fraction"] = read["fraction"] if read else None
        out[f"{f}_none_rmse"] = comp["errors"]["none"]["rmse"] if comp else None
        for kind in ("full", "composite"):
            out[f"{f}_{kind}_rmse"] = comp["errors"][kind]["rmse"] if comp else None
        for m in TRANSFER_METRICS:
            out[f"{f}_transfer_{m}"] = comp["transfer"][m] if comp else None
            out[f"{f}_leak_{m}"] = comp["leak"][m] if comp else None
    last = points[-1] if points else {}
    out.update({f"final_{m}": (last.get("reference") or {}).get(m) for m in QUALITY_METRICS})
    out["wall_s"] = time.time() - t0
    return out


def run_columns(run: RunContext) -> Dict[str, Any]:
    """Iterations trained, wall-clock time summed over the training sessions, iterations/s."""
    segments = run.train_log.get("segments", [])
    wall = sum(s.get("wall_s", 0.0) for s in segments)
    its = sum(s.get("iterations_run", 0) for s in segments)
    return {"iterations": run.iteration, "train_wall_s": wall if segments else None,
            "it_per_s": its / wall if wall > 0 else None, "sessions": len(segments)}


#: name -> function; computed in this order, stored under result.json's "groups"
COLUMN_GROUPS: Dict[str, GroupFn] = {
    "reference": reference_columns,
    "compositing": compositing_columns,
    "partition": partition_columns,
    "curves": curves_columns,
    "run": run_columns,
}
#: groups recomputed on every report (cheap, and they change while nothing is retrained)
ALWAYS_RECOMPUTE = ("run",)


def register_group(name: str, fn: GroupFn, always: bool = False) -> None:
    """Add a column group (runs measured by it from then on; see the module docstring)."""
    COLUMN_GROUPS[name] = fn
    global ALWAYS_RECOMPUTE
    if always and name not in ALWAYS_RECOMPUTE:
        ALWAYS_RECOMPUTE = ALWAYS_RECOMPUTE + (name,)

"""What is measured of a finished run: one function per group of table columns.

Each group function takes a :class:`RunContext` (the run's config, final checkpoint, loaded
model, output folder, device) and returns a flat dict of numbers (or None where a number does
not apply). The runner stores every group's result in ``<run>/result.json`` keyed by the
checkpoint it was computed at, so a group is computed once per checkpoint; a new group added
to :data:`COLUMN_GROUPS` is computed for finished runs the next time the command runs.
Extension point: register further groups (e.g. metrics against clean references, the
compositing benchmark's transfer scores) with :func:`register_group` or by adding them here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

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


def quality_columns(run: RunContext) -> Dict[str, Any]:
    """Held-out quality of the output pass: SSIM / PSNR / L1 on the test split, against the
    dataset's own (noisy, ``samples_per_pixel``) references."""
    report = backend.evaluate_test_split(run.model, run.config, run.folder / "evaluation", run.device,
                                         progress=run.progress,
                                         info={"checkpoint": str(run.checkpoint), "iteration": run.iteration})
    output_pass = run.config.get("model", {}).get("output_pass", "beauty")
    metrics = report["metrics"]
    keys = [k for k in metrics if k.startswith(f"{output_pass}_")]
    key = sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))[-1] if keys else next(iter(metrics))
    m = metrics[key]
    return {"pass": key, "ssim": m["ssim"], "psnr": m["psnr"], "l1": m["l1"], "test_scenes": report["scenes"]}


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
    if "empty_percentage" in stats:
        out["null"] = 100 * stats["empty_percentage"]
    out["active_dims"] = stats.get("active_size", float(r_dim))
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
    "quality": quality_columns,
    "partition": partition_columns,
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

"""Running a suite: datasets, training, measuring, tables; every step resumable.

Layout of the output folder ``D``::

    D/datasets/<dataset>/{train,test}/batch*.exr   generated once, shared by that family's runs
    D/datasets/<dataset>/generation.json           how long generating took
    D/<run>/config.json                            the effective training config
    D/<run>/<run>_<iteration>.pt                   checkpoints (all of them at small scale: the curves)
    D/<run>/curves/                                curves.json, curves.png and the cached references
    D/<run>/train_log.json                         one entry per training session (wall time, it/s)
    D/<run>/tensorboard/                           TensorBoard logs
    D/<run>/evaluation/                            metrics.json and image grid against clean references
    D/<run>/compositing/                           compositing.json and compositing_<factor>.png
    D/<run>/result.json                            every column group, keyed by the checkpoint measured
    D/results.md, D/results.json                   the tables

A run whose checkpoint has reached the target iteration is not trained again; one with an
earlier checkpoint resumes from it (:class:`cnsr.engine.Trainer` resumes exactly); a dataset
with all its files is not rendered again, a partial one renders only the missing files.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ..config import ConfigError, parse_config
from ..config_drift import config_drift, differences_beyond_rate, iterations_at_same_rate
from ..overrides import apply_overrides as apply_set_overrides
from ..io.atomic import atomic_path
from ..engine.runfolder import FORMAT as RUN_FORMAT, RUN_FILE, new_run_id, read_run_info, same_file
from . import backend
from .columns import ALWAYS_RECOMPUTE, COLUMN_GROUPS, MEASURE_SETTINGS, MeasureSettings, RunContext
from ..analysis.curves import load_curves, plot_compare, summarize
from .report import CURVE_FIGURES, build_report, write_report
from .suite import Experiment, Suite, SuiteError

PathLike = Union[str, os.PathLike]


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _write_json(path: Path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _link(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src`` (read-only sharing of a file neither run rewrites in
    place), a copy where the file system cannot link."""
    try:
        os.link(src, dst)
    except FileExistsError:
        if not same_file(src, dst):       # not another process's link of the same file: replaced
            with atomic_path(dst) as tmp:
                shutil.copy2(src, tmp)
    except OSError:
        with atomic_path(dst) as tmp:
            shutil.copy2(src, tmp)


def _half_branched(folder: Path) -> bool:
    """Whether ``folder``'s run.json records a branch whose checkpoint was not linked yet (the
    branch stopped half-way: :meth:`Runner.branch` links it last)."""
    branched = read_run_info(folder).get("branched_from")
    return isinstance(branched, dict) and not (folder / Path(str(branched.get("checkpoint"))).name).is_file()


def _segments_of(run: Path) -> List[Dict[str, Any]]:
    """The training sessions of ``run/train_log.json`` (malformed entries left out)."""
    log = _read_json(run / "train_log.json", {})
    segments = log.get("segments") if isinstance(log, dict) else None
    out = []
    for seg in segments if isinstance(segments, list) else []:
        try:
            if isinstance(seg, dict) and int(seg.get("start_iteration", 1)) >= 1 and int(seg.get("iterations_run", 0)) >= 0:
                out.append(seg)
        except (TypeError, ValueError):
            pass
    return out


def _segments_until(segments: List[Dict[str, Any]], iteration: int, origin: Path) -> List[Dict[str, Any]]:
    """The sessions' share of iterations 1..``iteration``: a session that went on past it keeps its
    prorated share of the time (and no last loss, which it reached later)."""
    out = []
    for seg in segments:
        start, n = int(seg.get("start_iteration", 1)), int(seg.get("iterations_run", 0))
        if n <= 0 or start > iteration:
            continue
        part = min(n, iteration - start + 1)
        seg = dict(seg, branched_from=str(origin))
        if part < n:
            wall = float(seg.get("wall_s") or 0.0) * part / n
            seg.update(iterations_run=part, wall_s=wall, prorated=True, last_loss=None)
        out.append(seg)
    return out


class Runner:
    """Runs (a selection of) a suite's experiments into ``out_folder``.

    Args:
        suite: the parsed suite (its scale decides the configs).
        out_folder: ``D`` above.
        iterations: train every run up to this iteration instead of its config's.
        overrides: ``KEY=VALUE`` config overrides (``--set``) applied to every run after its scale's.
        dataset_overrides: ``KEY=VALUE`` overrides (``--dataset_set``) of every dataset's generation
            config after its scale's (e.g. ``views_per_scene=5``).
        branch_from: another output folder whose runs a run not yet started here may continue
            (``--branch_from``, see :meth:`branch`); that folder is only read.
        device: torch device for training and measuring (default: a GPU if there is one).
        progress: progress bars; ``log``: where the one-line progress messages go.
        measure: the cost of the measurements (default: the suite's scale's
            :data:`cnsr.experiments.columns.MEASURE_SETTINGS`).
    """

    def __init__(self, suite: Suite, out_folder: PathLike, iterations: Optional[int] = None,
                 device: Optional[str] = None, progress: bool = True, log: Callable[[str], None] = None,
                 measure: Optional[MeasureSettings] = None, overrides: Sequence[str] = (),
                 dataset_overrides: Sequence[str] = (), branch_from: Optional[PathLike] = None):
        self.suite = suite
        self.branch_from = Path(branch_from) if branch_from is not None else None
        if measure is None:
            base = MEASURE_SETTINGS.get(suite.scale, MeasureSettings())
            MeasureSettings.from_suite(suite.measure, f"{suite.path}: scales.{suite.scale}.measure")   # checks keys
            measure = dataclasses.replace(base, **suite.measure)
        self.measure_settings = measure
        self.out = Path(out_folder)
        self.iterations = iterations
        self.overrides = list(overrides)
        self.dataset_overrides = list(dataset_overrides)
        self.device = device or None
        self.progress = progress
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    # ------------------------------------------------------------------ paths and state
    def run_folder(self, e: Experiment) -> Path:
        return self.out / e.name

    def config_of(self, e: Experiment) -> Dict[str, Any]:
        return self.suite.training_config(e, self.out, self.iterations, self.overrides)

    def dataset_config(self, name: str):
        """The generation config (:class:`~cnsr.config.Config`) of dataset ``name``: the suite's,
        with ``--dataset_set`` applied (:class:`ConfigError` naming the dataset and the override)."""
        spec = self.suite.datasets[name]
        if not self.dataset_overrides:
            return spec.parsed()
        data = apply_set_overrides(spec.config, self.dataset_overrides)
        source = f"{self.suite.path}: dataset {name}" + "".join(f" --dataset_set {o}" for o in self.dataset_overrides)
        return parse_config(data, source)

    def check_experiment(self, e: Experiment) -> None:
        """Everything about a run that can be checked before any work starts: its config with
        ``--set`` (:class:`ConfigError`), its dataset's config with ``--dataset_set``, that the two
        agree on the views per scene, and that a dataset already in the output folder was made
        with the settings asked for (:class:`DatasetError`)."""
        views = parse_config(self.config_of(e), str(self.run_folder(e) / "config.json")).views_per_scene
        data = self.dataset_config(e.dataset)
        if views != data.views_per_scene:
            raise SuiteError(
                f"run {e.name} reads {views} views per scene (observations + query) and its dataset {e.dataset} "
                f"has {data.views_per_scene}: the run would silently see {min(views, data.views_per_scene) - 1} "
                f"observations. Give both --set views_per_scene=N and --dataset_set views_per_scene=N "
                f"(and a new --out_folder)")
        spec = self.suite.datasets[e.dataset]
        backend.check_dataset(data, self.suite.dataset_folder(self.out, e.dataset), spec.train_batches,
                              spec.test_batches)

    def target(self, e: Experiment) -> int:
        return int(self.config_of(e)["iterations"])

    def latest(self, e: Experiment):
        found = backend.checkpoints(self.run_folder(e), e.name)
        return found[-1] if found else None

    def status(self, e: Experiment) -> str:
        """``done`` (a checkpoint at or past the target iteration), ``at N/T``, or ``not started``;
        a folder trained under another model or recipe than the run now asks for says so and
        which keys (it would be refused, not resumed or reported)."""
        last = self.latest(e)
        if last is None:
            return "not started"
        refused = self._refused(e)
        if refused:
            return refused
        return "done" if last[0] >= self.target(e) else f"at {last[0]}/{self.target(e)}"

    def _refused(self, e: Experiment) -> Optional[str]:
        """Why the run's folder is refused (trained under another model or recipe than the run
        now asks for), or None."""
        drift = self._drift(e)
        if drift is None or not (drift.model or drift.recipe):
            return None
        what = "model" if drift.model else "recipe"
        return f"trained with another {what} ({', '.join(drift.keys(drift.model or drift.recipe))}): refused"

    def _drift(self, e: Experiment):
        saved = _read_json(self.run_folder(e) / "config.json", None)
        return config_drift(saved, self.config_of(e)) if isinstance(saved, dict) else None

    def dataset_missing(self, name: str) -> int:
        spec = self.suite.datasets[name]
        return backend.missing_batches(self.dataset_config(name), self.suite.dataset_folder(self.out, name),
                                       spec.train_batches, spec.test_batches)

    def _check_scale(self) -> None:
        marker = self.out / "suite.json"
        info = _read_json(marker, None)
        if info and info.get("scale") != self.suite.scale:
            raise ValueError(f"{self.out} holds {info.get('scale')}-scale runs; give --out_folder another "
                             f"folder for --scale {self.suite.scale}")
        if not info:
            _write_json(marker, {"scale": self.suite.scale, "suite": str(self.suite.path)})

    # ------------------------------------------------------------------ steps
    def ensure_dataset(self, name: str) -> None:
        spec = self.suite.datasets[name]
        folder = self.suite.dataset_folder(self.out, name)
        missing = self.dataset_missing(name)
        if not missing:
            return
        self.log(f"dataset {name}: rendering {missing} missing batch files into {folder}")
        counts = backend.generate_dataset(self.dataset_config(name), folder, spec.train_batches, spec.test_batches,
                                          progress=self.progress, desc=name)
        info_path = folder / "generation.json"
        info = _read_json(info_path, {"seconds": 0.0, "batches_rendered": 0})
        info["seconds"] = info.get("seconds", 0.0) + counts["seconds"]
        info["batches_rendered"] = info.get("batches_rendered", 0) + counts["rendered"]
        _write_json(info_path, info)
        self.log(f"dataset {name}: {counts['rendered']} batches in {counts['seconds'] / 60:.1f} min")

    def _check_same_experiment(self, e: Experiment) -> None:
        """Refuse a run folder whose saved config defines another model, or another recipe (a
        learning rate, its schedule, the seed, a loss weight: :attr:`Drift.recipe`), than the one
        asked for (an edited suite or config, or ``--set``): its checkpoints and results would be
        mixed up, a run trained under the old recipe reported as the new one. How long it trains
        (``--iterations``), where its data lies and how often it logs may change."""
        drift = self._drift(e)
        if drift is None:
            return
        if drift.model:
            raise SuiteError(f"{self.run_folder(e)}: run {e.name} was trained with another model than its config "
                             f"now asks for ({'; '.join(drift.model)}); give another --out_folder, or remove "
                             f"that run's folder to train it again")
        if drift.recipe:
            raise SuiteError(f"{self.run_folder(e)}: run {e.name} was trained with another recipe than its config "
                             f"now asks for ({'; '.join(drift.recipe)}); give the --set it was trained with, "
                             f"another --out_folder, or remove that run's folder to train it again")

    # ------------------------------------------------------------------ branching
    def branch(self, e: Experiment, source: PathLike) -> Optional[int]:
        """Start run ``e``, not yet started here, from the same run in the output folder
        ``source`` where that one was trained under a recipe that differs from this one in the
        learning rate of later iterations only (:func:`cnsr.config_drift.shared_iterations`, for
        each of its training sessions) on a dataset made with the same settings: say ``--set
        learning_rate_decay=5000`` on the runs of a finished suite. Its checkpoints up to the last
        iteration the two recipes share and the dataset's files are hard-linked (copied where the
        file system cannot link), their curve points and training time copied; ``source`` is only
        read. Training then resumes from the newest of them. Returns the iteration branched from,
        or None (already started here, nothing in ``source`` to take, recipes or data that part at
        the first iteration: the run starts afresh)."""
        source = Path(source)
        folder, old = self.run_folder(e), source / e.name
        if _same_path(folder, old):
            return None
        if self.latest(e) is not None and not _half_branched(folder):
            return None      # started here (a branch stopped half-way is finished below)
        saved = _read_json(old / "config.json", None)
        if not isinstance(saved, dict):
            hint = (" (a run folder: give the output folder that holds it)" if (source / RUN_FILE).is_file() else "")
            self.log(f"{e.name}: {old} holds no run to branch from{hint}; training from the start")
            return None
        cfg = self.config_of(e)
        shared, why = self._shared_with(e, saved, old, source, cfg)
        found = [(i, p) for i, p in backend.checkpoints(old, e.name) if i <= shared]
        if not found:
            why = why or f"no checkpoint there at or before iteration {shared}, the last the two recipes share"
            self.log(f"{e.name}: not branched from {old} ({why}); training from the start")
            return None
        iteration, checkpoint = found[-1]
        self._link_dataset(e.dataset, source)
        folder.mkdir(parents=True, exist_ok=True)
        # the records first, the checkpoints last and oldest first: a branch stopped half-way holds
        # no checkpoint or not yet the one its run.json names, and the next command finishes it
        _write_json(folder / RUN_FILE, {
            "format": RUN_FORMAT, "run_id": new_run_id(), "job_name": e.name,
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "branched_from": {"checkpoint": str(checkpoint.resolve()), "run_id": read_run_info(old).get("run_id"),
                              "shared_iterations": shared},
            "checkpoints": [], "sessions": []})
        _write_json(folder / "config.json", cfg)
        curves = _read_json(old / "curves" / "curves.json", None)
        if isinstance(curves, dict) and isinstance(curves.get("points"), list):
            kept = [pt for pt in curves["points"]
                    if isinstance(pt, dict) and isinstance(pt.get("iteration"), int) and pt["iteration"] <= iteration]
            (folder / "curves").mkdir(exist_ok=True)
            _write_json(folder / "curves" / "curves.json", dict(curves, points=kept, summary=summarize(kept)))
        _write_json(folder / "train_log.json", {"segments": _segments_until(_segments_of(old), iteration, old)})
        for _, p in found:
            _link(p, folder / p.name)
        self.log(f"{e.name}: branched from {checkpoint} (the recipes agree up to iteration {shared})")
        return iteration

    def _shared_with(self, e: Experiment, saved: Dict[str, Any], old: Path, source: Path,
                     cfg: Dict[str, Any]):
        """``(iterations, why not)``: how many first iterations the run in ``old`` trained as
        ``cfg`` would: the same model, recipe and data but for the learning rate, and the same rate
        at each iteration it trained, session by session (a session given other ``--iterations``
        placed a decay or a cosine elsewhere)."""
        spec = self.suite.datasets[e.dataset]
        data = self.suite.dataset_folder(source, e.dataset)
        if not (data / "dataset.json").is_file():
            return 0, f"{data} has no dataset.json, so how its data were made cannot be checked"
        try:
            backend.check_dataset(self.dataset_config(e.dataset), data, spec.train_batches, spec.test_batches)
        except Exception as error:      # DatasetError: made with other settings
            return 0, f"its dataset was made with other settings: {str(error).splitlines()[0]}"
        other = differences_beyond_rate(saved, cfg)
        if other:
            return 0, f"they differ in {', '.join(other)}"
        segments = _segments_of(old)
        if len(segments) > 1 and any("iterations" not in s for s in segments):
            return 0, "it was trained in several sessions whose iteration targets were not recorded"
        try:
            sessions = [(int(s.get("start_iteration", 1)),
                         int(s.get("start_iteration", 1)) + int(s.get("iterations_run", 0)) - 1,
                         int(s.get("iterations", saved["iterations"]))) for s in segments]
            parsed = parse_config(json.loads(json.dumps(saved)))
        except (KeyError, TypeError, ValueError) as error:      # ConfigError is a ValueError
            return 0, f"its config or training log cannot be read ({error})"
        shared = iterations_at_same_rate(parsed, cfg, sessions or None)
        return shared, (None if shared else "their learning rates differ from iteration 1")

    def _link_dataset(self, name: str, source: Path) -> None:
        """Take the dataset files missing here from ``source``'s copy of the dataset, which
        :meth:`_shared_with` found made with the settings asked for."""
        here, there = self.suite.dataset_folder(self.out, name), self.suite.dataset_folder(source, name)
        if not self.dataset_missing(name):
            return
        for p in sorted(there.rglob("*")):
            target = here / p.relative_to(there)
            if p.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif p.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _link(p, target)

    def train(self, e: Experiment) -> bool:
        """Train (or resume) a run up to its target; False when it was stopped early."""
        folder = self.run_folder(e)
        cfg = self.config_of(e)
        target = int(cfg["iterations"])
        if self.branch_from is not None:
            self.branch(e, self.branch_from)
        last = self.latest(e)
        if last is not None and last[0] >= target:
            return True
        self.ensure_dataset(e.dataset)
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / "config.json", cfg)
        start = 1 if last is None else last[0] + 1
        self.log(f"{e.name}: training iterations {start}..{target}" + (f" (resuming {last[1].name})" if last else ""))
        summary = backend.train(cfg, folder, self.device, last[1] if last else None, progress=self.progress,
                                keep_checkpoints=self.suite.keep_checkpoints)
        log_path = folder / "train_log.json"
        log = _read_json(log_path, {"segments": []})
        log["segments"].append(dict({k: summary[k] for k in ("start_iteration", "iterations_run", "wall_s", "it_per_s",
                                                             "data_wait_fraction", "first_loss", "last_loss")
                                     if k in summary}, iterations=target))
        _write_json(log_path, log)
        its = summary["iterations_run"]
        self.log(f"{e.name}: {its} iterations in {summary['wall_s'] / 60:.1f} min "
                 f"({summary['it_per_s']:.2f} it/s); loss {summary['first_loss']} -> {summary['last_loss']}"
                 if its else f"{e.name}: nothing to train")
        return not summary["stopped_early"]

    def measure(self, e: Experiment, recompute: Sequence[str] = ()) -> Optional[Dict[str, Any]]:
        """Compute the column groups of a finished run that are missing for its checkpoint and
        measure settings;
        returns its ``result.json`` content (None when the run has not finished)."""
        folder = self.run_folder(e)
        last = self.latest(e)
        if last is None or last[0] < self.target(e):
            return None
        iteration, path = last
        result = _read_json(folder / "result.json", {})
        stored = result.get("groups", {})
        groups = {k: v for k, v in stored.items() if k in COLUMN_GROUPS}   # groups no longer measured go
        cfg = _read_json(folder / "config.json", None) or self.config_of(e)
        ctx = RunContext(e.name, cfg, path, iteration, folder, self.device, self.progress,
                         _read_json(folder / "train_log.json", {}), settings=self.measure_settings)
        changed = groups.keys() != stored.keys()
        settings = dataclasses.asdict(self.measure_settings)   # measured again when these change
        for name, fn in COLUMN_GROUPS.items():
            old = groups.get(name)
            fresh = (old is not None and old.get("checkpoint") == path.name and old.get("settings") == settings
                     and name not in recompute)
            if fresh and name not in ALWAYS_RECOMPUTE:
                continue
            if name not in ALWAYS_RECOMPUTE:
                self.log(f"{e.name}: measuring {name}")
            values = fn(ctx)
            entry = {"checkpoint": path.name, "settings": settings, "values": values}
            if old != entry:
                groups[name] = entry
                changed = True
        result = {"name": e.name, "dataset": e.dataset, "scale": self.suite.scale, "finished": True,
                  "iteration": iteration, "checkpoint": path.name, "groups": groups}
        if changed:
            _write_json(folder / "result.json", result)
        return result

    def report(self, experiments: Optional[Sequence[Experiment]] = None) -> List[Path]:
        """Write ``results.md`` / ``results.json`` from every run's ``result.json`` (all of the
        suite's runs, finished or not). A run whose folder was trained under another model or
        recipe than it now asks for is listed as refused, its numbers left out, as ``--list`` says."""
        results: Dict[str, Any] = {}
        for e in self.suite.experiments:
            stored = _read_json(self.run_folder(e) / "result.json", None)
            refused = self._refused(e)
            if refused:
                results[e.name] = {"name": e.name, "finished": False, "status": refused, "groups": {}}
            elif stored and stored.get("finished") and stored.get("iteration", -1) >= self.target(e):
                results[e.name] = stored
            else:
                results[e.name] = {"name": e.name, "finished": False, "status": self.status(e),
                                   "groups": (stored or {}).get("groups", {}) if stored else {}}
                if stored:    # older measurements of a run now trained further are not reported
                    results[e.name]["groups"] = {}
            # the config the run was trained with (a --set changes it from the suite's)
            trained = _read_json(self.run_folder(e) / "config.json", None)
            if isinstance(trained, dict):
                results[e.name] = dict(results[e.name], config=trained)
        datasets = {}
        for name, spec in self.suite.datasets.items():
            cfg = self.dataset_config(name)
            gen = _read_json(self.suite.dataset_folder(self.out, name) / "generation.json", {})
            datasets[name] = {"dataset": cfg.dataset, "train_batches": spec.train_batches,
                              "test_batches": spec.test_batches, "batch_size": cfg.batch_size,
                              "render_size": cfg.max_render_size(), "samples_per_pixel": cfg.samples_per_pixel,
                              "generation_s": gen.get("seconds")}
        report = build_report(self.suite, results, datasets)
        report["figures"] = self.curve_figures()
        return write_report(report, self.out)

    def curve_figures(self) -> Dict[str, str]:
        """Overlay the learning curves of each table's runs (those measured) in ``D/curves_<table>.png``;
        returns file name -> title of the figures written."""
        written = {}
        for name, (title, table) in CURVE_FIGURES.items():
            paths = [(e.name, self.run_folder(e) / "curves" / "curves.json") for e in self.suite.experiments
                     if table in e.tables and not self._refused(e)]
            paths = [(n, p) for n, p in paths if p.is_file()]
            if not paths:
                continue
            figure = self.out / name
            newest = max(p.stat().st_mtime for _, p in paths)
            if not figure.is_file() or figure.stat().st_mtime < newest:     # drawn again only when a run changed
                plot_compare([(n, load_curves(p)) for n, p in paths], figure, title=title)
            written[name] = title
        return written

    # ------------------------------------------------------------------ everything
    def run(self, experiments: Sequence[Experiment], train: bool = True, remeasure: Sequence[str] = ()) -> bool:
        """Train and measure ``experiments`` in order, rewriting the tables after each; False
        when a run was stopped (Ctrl-C / SIGTERM: its checkpoint is written, rerun to resume).
        ``remeasure``: column groups measured again even where they are stored."""
        unknown = [g for g in remeasure if g not in COLUMN_GROUPS]
        if unknown:
            raise ValueError(f"unknown column group(s) {', '.join(unknown)}: expected some of {', '.join(COLUMN_GROUPS)}")
        self._check_scale()
        for e in experiments:
            self.check_experiment(e)
            self._check_same_experiment(e)
        complete, paths = True, None
        for i, e in enumerate(experiments, 1):
            self.log(f"[{i}/{len(experiments)}] {e.name} ({e.dataset}; {self.status(e)})")
            if train and not self.train(e):
                self.log(f"{e.name}: stopped; run the same command again to resume from its last checkpoint")
                complete = False
                break
            self.measure(e, recompute=remeasure)
            paths = self.report()
        if paths is None:       # nothing measured yet (no runs, or the first one stopped): the tables show the status
            paths = self.report()
        self.log(f"tables: {paths[0]} and {paths[1]}")
        return complete

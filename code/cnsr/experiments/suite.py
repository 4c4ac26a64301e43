"""The experiment suite: which runs reproduce which of the paper's findings, at which scale.

A suite file (``configs/experiments/suite.json``) lists

- ``datasets``: one generated dataset per scene family, shared by the experiments of that
  family; per scale a generation ``config`` (relative to the suite file), the number of
  training and test batches (``train_batches``, ``test_batches``) and optional ``set``
  overrides;
- ``experiments``: per run a ``name``, its ``dataset``, the ``tables`` it is a row of
  (``partitioning``: Fig. 9, ``partition_sizes``: Table 1, ``null_partition``: Figs. 10-11),
  the paper's numbers for that row (``paper_result``) and per scale (``small``, ``paper``) a
  training ``config`` plus optional ``set`` overrides;
- ``scales``: per scale, overrides applied to every experiment (``set``: the recipe of a scale,
  e.g. its iteration count and learning-rate schedule), how many checkpoints a run keeps
  (``keep_checkpoints``, 0 = all: learning curves need them) and how its finished runs are
  measured (``measure``: ``reference_batches``, ``reference_spp``, ``compositing_scenes``,
  ``curves``). A scale may name another as its ``base``: an experiment or dataset without a
  part for the scale then takes the base scale's part, with the scale's ``set`` applied on
  top (and for datasets its ``dataset_set``, ``train_batches`` and ``test_batches``): the
  ``tiny`` smoke-test scale is the ``small`` suite shrunk this way.

``set`` maps dotted key paths to values, ``model.representations.0.representation_dim: 512``
included. The effective config of a run is its config file with the scale's and the run's
overrides, ``job_name`` = the run's name and the data folders of its dataset under the output
folder: :meth:`Suite.training_config`. Errors name the suite file and the field.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from ..config import REPO_DIR, Config, ConfigError, parse_config
from ..io.jsonfile import read_json_file
from ..overrides import apply_overrides as apply_set_overrides, describe_source

#: The suite shipped with cnsr.
DEFAULT_SUITE = REPO_DIR / "configs" / "experiments" / "suite.json"
SCALES = ("tiny", "small", "paper")
#: The tables a run can be a row of, in report order.
TABLES = ("partitioning", "partition_sizes", "null_partition")

PathLike = Union[str, os.PathLike]


class SuiteError(ValueError):
    """A suite file is malformed or names something that does not exist; the message says where."""


@dataclass
class DatasetSpec:
    """One generated dataset at one scale."""
    name: str
    config: Dict[str, Any]          # the generation config (overrides applied), as a dict
    config_path: Path
    train_batches: int
    test_batches: int

    def parsed(self) -> Config:
        return parse_config(copy.deepcopy(self.config), str(self.config_path))


@dataclass
class Experiment:
    """One training run at one scale."""
    name: str
    dataset: str
    tables: List[str]
    paper: Dict[str, Any]
    config: Dict[str, Any]          # the training config (overrides applied, data folders not yet)
    config_path: Path
    description: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)


def set_key(data: Dict[str, Any], dotted: str, value: Any, where: str) -> None:
    """``data[a][b][0][c] = value`` for ``dotted = "a.b.0.c"``; list indices must exist."""
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            try:
                idx = int(part)
                node[idx]
            except (ValueError, IndexError):
                raise SuiteError(f"{where}: {dotted!r}: no list entry {part!r}") from None
            if last:
                node[idx] = copy.deepcopy(value)
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
            else:
                node = node.setdefault(part, {})
        else:
            raise SuiteError(f"{where}: {dotted!r}: {'.'.join(parts[:i])} is not an object or a list")


def apply_overrides(data: Dict[str, Any], overrides: Optional[Dict[str, Any]], where: str) -> Dict[str, Any]:
    out = copy.deepcopy(data)
    if overrides is None:
        return out
    if not isinstance(overrides, dict):
        raise SuiteError(f"{where}: must be an object of dotted key paths")
    for k, v in overrides.items():
        set_key(out, k, v, where)
    return out


def _need(d: Dict[str, Any], key: str, typ, where: str):
    if key not in d:
        raise SuiteError(f"{where}: missing field {key!r}")
    v = d[key]
    if typ is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise SuiteError(f"{where}.{key}: expected an integer, got {v!r}")
    if typ is not int and not isinstance(v, typ):
        raise SuiteError(f"{where}.{key}: expected {getattr(typ, '__name__', typ)}, got {v!r}")
    return v


class Suite:
    """A parsed suite file at one scale."""

    def __init__(self, path: PathLike = DEFAULT_SUITE, scale: str = "small"):
        self.path = Path(path)
        if scale not in SCALES:
            raise SuiteError(f"scale: one of {', '.join(SCALES)}, got {scale!r}")
        self.scale = scale
        raw = read_json_file(self.path, SuiteError, "experiment suite file")
        if not isinstance(raw, dict):
            raise SuiteError(f"{self.path}: a suite must be a JSON object")
        self.raw = raw
        self.folder = self.path.parent
        scales = raw.get("scales", {})
        if not isinstance(scales, dict):
            raise SuiteError(f"{self.path}: scales: must be an object")
        scale_spec = scales.get(scale, {}) or {}
        if not isinstance(scale_spec, dict):
            raise SuiteError(f"{self.path}: scales.{scale}: must be an object")
        self.scale_spec = scale_spec
        self.scale_set = scale_spec.get("set", {}) or {}
        self.base = scale_spec.get("base")
        if self.base is not None and (self.base not in SCALES or self.base == scale):
            raise SuiteError(f"{self.path}: scales.{scale}.base: another scale, one of {', '.join(SCALES)}; "
                             f"got {self.base!r}")
        base_spec = scales.get(self.base, {}) if self.base is not None else {}
        self.base_set = (base_spec or {}).get("set", {}) or {}
        keep = scale_spec.get("keep_checkpoints", 0)
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise SuiteError(f"{self.path}: scales.{scale}.keep_checkpoints: an integer >= 0, got {keep!r}")
        self.keep_checkpoints = keep
        self.measure = scale_spec.get("measure", {}) or {}
        if not isinstance(self.measure, dict):
            raise SuiteError(f"{self.path}: scales.{scale}.measure: must be an object")
        self.datasets: Dict[str, DatasetSpec] = {}
        ds_raw = raw.get("datasets")
        if not isinstance(ds_raw, dict) or not ds_raw:
            raise SuiteError(f"{self.path}: datasets: must be a non-empty object")
        for name, spec in ds_raw.items():
            self.datasets[name] = self._dataset(name, spec)
        ex_raw = raw.get("experiments")
        if not isinstance(ex_raw, list) or not ex_raw:
            raise SuiteError(f"{self.path}: experiments: must be a non-empty list")
        self.experiments: List[Experiment] = []
        seen = set()
        for i, spec in enumerate(ex_raw):
            e = self._experiment(i, spec)
            if e.name in seen:
                raise SuiteError(f"{self.path}: experiments[{i}].name: {e.name!r} appears twice")
            seen.add(e.name)
            self.experiments.append(e)

    # ------------------------------------------------------------------ parsing
    def _load_config(self, rel: str, where: str):
        path = (self.folder / rel).resolve()
        if not path.is_file():
            raise SuiteError(f"{self.path}: {where}.config: no such file {rel!r} (looked in {self.folder})")
        data = read_json_file(path, SuiteError, "config file")
        if not isinstance(data, dict):
            raise SuiteError(f"{path}: a config must be a JSON object")
        return path, data

    def _scale_part(self, spec: Dict[str, Any], where: str) -> Dict[str, Any]:
        part = spec.get(self.scale)
        if part is None and self.base is not None:
            part = spec.get(self.base)
        if not isinstance(part, dict):
            raise SuiteError(f"{self.path}: {where}.{self.scale}: missing (an object with 'config')")
        return part

    def _inherited(self, spec: Dict[str, Any]) -> bool:
        """Whether ``spec`` has no part of its own at this scale (it takes the base scale's)."""
        return self.scale not in spec and self.base is not None

    def _dataset(self, name: str, spec: Any) -> DatasetSpec:
        where = f"datasets.{name}"
        if not isinstance(spec, dict):
            raise SuiteError(f"{self.path}: {where}: must be an object")
        part = self._scale_part(spec, where)
        w = f"{self.path}: {where}.{self.scale}"
        rel = _need(part, "config", str, w)
        path, data = self._load_config(rel, f"{where}.{self.scale}")
        data = apply_overrides(data, part.get("set"), f"{w}.set")
        train = _need(part, "train_batches", int, w)
        test = _need(part, "test_batches", int, w)
        if self._inherited(spec):
            sw = f"{self.path}: scales.{self.scale}"
            data = apply_overrides(data, self.scale_spec.get("dataset_set"), f"{sw}.dataset_set")
            train = _need(self.scale_spec, "train_batches", int, sw) if "train_batches" in self.scale_spec else train
            test = _need(self.scale_spec, "test_batches", int, sw) if "test_batches" in self.scale_spec else test
        if train < 1 or test < 1:
            raise SuiteError(f"{w}: train_batches and test_batches must be >= 1")
        ds = DatasetSpec(name, data, path, train, test)
        try:
            ds.parsed()
        except ConfigError as e:
            raise SuiteError(f"{w}: {e}") from None
        return ds

    def _experiment(self, i: int, spec: Any) -> Experiment:
        where = f"experiments[{i}]"
        if not isinstance(spec, dict):
            raise SuiteError(f"{self.path}: {where}: must be an object")
        w = f"{self.path}: {where}"
        name = _need(spec, "name", str, w)
        if not name or any(c in name for c in "/\\ ") or name.startswith("."):
            raise SuiteError(f"{w}.name: {name!r} is not usable as a folder name")
        dataset = _need(spec, "dataset", str, w)
        if dataset not in self.datasets:
            raise SuiteError(f"{w}.dataset: {dataset!r} is not in datasets ({', '.join(self.datasets)})")
        tables = spec.get("tables", [])
        if not isinstance(tables, list) or any(t not in TABLES for t in tables):
            raise SuiteError(f"{w}.tables: a list of {', '.join(TABLES)}, got {tables!r}")
        paper = spec.get("paper_result", {})
        if not isinstance(paper, dict):
            raise SuiteError(f"{w}.paper_result: must be an object")
        part = self._scale_part(spec, where)
        rel = _need(part, "config", str, f"{w}.{self.scale}")
        path, data = self._load_config(rel, f"{where}.{self.scale}")
        if self._inherited(spec):     # the base scale's recipe and part, then this scale's overrides
            data = apply_overrides(data, self.base_set, f"{self.path}: scales.{self.base}.set")
            data = apply_overrides(data, part.get("set"), f"{w}.{self.base}.set")
            data = apply_overrides(data, self.scale_set, f"{self.path}: scales.{self.scale}.set")
        else:
            data = apply_overrides(data, self.scale_set, f"{self.path}: scales.{self.scale}.set")
            data = apply_overrides(data, part.get("set"), f"{w}.{self.scale}.set")
        data["job_name"] = name
        data["dataset"] = self.datasets[dataset].config.get("dataset", data.get("dataset"))
        try:
            parse_config(copy.deepcopy(data), str(path))
        except ConfigError as e:
            raise SuiteError(f"{w}.{self.scale}: {e}") from None
        extra = {k: v for k, v in spec.items() if k not in ("name", "dataset", "tables", "paper_result",
                                                           *SCALES, "description")}
        return Experiment(name, dataset, list(tables), dict(paper), data, path,
                          str(spec.get("description", "")), extra)

    # ------------------------------------------------------------------ queries
    def names(self) -> List[str]:
        return [e.name for e in self.experiments]

    def get(self, name: str) -> Experiment:
        for e in self.experiments:
            if e.name == name:
                return e
        raise SuiteError(f"no experiment {name!r} in {self.path}; known: {', '.join(self.names())}")

    def select(self, only: Optional[Sequence[str]]) -> List[Experiment]:
        """The experiments named in ``only`` (suite order), all when empty."""
        if not only:
            return list(self.experiments)
        unknown = [n for n in only if n not in self.names()]
        if unknown:
            raise SuiteError(f"--only: unknown experiment(s) {', '.join(unknown)}; known: {', '.join(self.names())}")
        return [e for e in self.experiments if e.name in only]

    def dataset_folder(self, out_folder: PathLike, dataset: str) -> Path:
        return Path(out_folder) / "datasets" / dataset

    def training_config(self, e: Experiment, out_folder: PathLike,
                        iterations: Optional[int] = None, overrides: Sequence[str] = ()) -> Dict[str, Any]:
        """The config dict a run trains with: its data folders are those of its dataset under
        ``out_folder`` (absolute), ``iterations`` overrides the config's, then every ``KEY=VALUE``
        of ``overrides`` (``--set``), checked like a config file (:class:`ConfigError` naming
        the run and the override)."""
        data = copy.deepcopy(e.config)
        folder = self.dataset_folder(out_folder, e.dataset).resolve()
        data["train_data_dir"] = str(folder / "train")
        data["test_data_dir"] = str(folder / "test")
        if iterations is not None:
            data["iterations"] = int(iterations)
        if overrides:
            data = apply_set_overrides(data, overrides)
            parse_config(copy.deepcopy(data), describe_source(f"{self.path}: experiment {e.name}", overrides))
        return data

    def paper_counterpart(self, name: str) -> Optional[Experiment]:
        """The same experiment at paper scale (for the tables' "paper setting" columns)."""
        if self.scale == "paper":
            return self.get(name)
        if not hasattr(self, "_paper"):
            try:
                self._paper = Suite(self.path, "paper")
            except SuiteError:
                self._paper = None
        if self._paper is None or name not in self._paper.names():
            return None
        return self._paper.get(name)

"""JSON configs for dataset generation and training: every key, its default, and validation.

The keys are those of the paper's release (see the README's "Config options"); a few keys
of our own are marked as such. Loading validates everything up front so that a typo fails
with an error naming the file and the key instead of hours into a run::

    cfg = load_config("configs/room_beauty.json")
    cfg.batch_size, cfg.model.representations[0].render_size, cfg.model.generators[0].settings.loss

Relative data paths (``train_data_dir``...) resolve against the current directory when they
exist there, else against ``code/`` (where the reference scripts were run from), so the
reference's ``../datasets/room/train`` works from the repository root and from ``code/``.

Everything a config names comes from a registry (:mod:`cnsr.registry`): the encoder and
generator types, each type's ``settings`` (keys, types, defaults, constraints: a dataclass
beside the component's class), what a generator can do (log space, trainable weights, reusing
another's network), the loss names and the datasets (scene families). The pass rules come from
the pass table (:mod:`cnsr.passes`). This module names no concrete type and lists none of them.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .io.atomic import atomic_path
from .io.jsonfile import read_json_file
from .passes import PASS_NAMES, PASSES, SIGNED_PASSES, total_channels
from .registry import ENCODERS, GENERATORS, LOSSES, SCENE_FAMILIES, UnknownName, generator_entry, network_of
from .schedules import DEFAULT_SHARPNESS, SCHEDULES
from .settings import SettingError, Settings, check_fields

#: The repository's ``code/`` folder: the working directory the reference scripts assumed.
CODE_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = CODE_DIR.parent

AGGREGATIONS = ("mean", "max")

#: Keys the reference configs carry but never read; accepted and ignored.
IGNORED_KEYS = ("observation_dim", "query_dim", "output_dim")


#: Integers in a config must fit a signed 64-bit integer (seeds and sizes go to torch and NumPy).
INT_LIMIT = 2 ** 63 - 1


class ConfigError(ValueError):
    """A config file is malformed; the message names the file and the key."""


@dataclass
class RepresentationConfig:
    """One encoder (an entry of ``model.representations``)."""
    type: Optional[str] = None     # None: the encoder registry's default type (the reference's)
    detach: bool = False
    aggregation_func: str = "mean"
    observation_passes: List[str] = field(default_factory=lambda: ["beauty"])
    representation_dim: int = 256
    render_size: int = 64
    start_sigmoid: float = DEFAULT_SHARPNESS.start
    end_sigmoid: float = DEFAULT_SHARPNESS.end
    sharpen_sigmoid: float = DEFAULT_SHARPNESS.sharpen
    sharpening: int = DEFAULT_SHARPNESS.sharpening
    final_sharpening: int = DEFAULT_SHARPNESS.final_sharpening
    gradient_reg: float = 0.0
    #: (ours) weight of the invariance penalty: the share of a one-factor batch's variance
    #: outside that factor's partition (cnsr.models.partition.invariance_penalty); 0 = off
    invariance_reg: float = 0.0
    #: (ours) probability that a one-factor training batch takes its shared partitions from
    #: another scene of the batch (a composite) instead of the batch mean
    #: (cnsr.models.partition.aggregate_composite); 0 = the paper's aggregation
    composite_training: float = 0.0
    #: (ours) the keys of the encoder type, as its Settings dataclass once validated
    settings: Union[Settings, Dict[str, Any]] = field(default_factory=dict)


@dataclass
class GeneratorConfig:
    """One generator (an entry of ``model.generators``); ``settings`` holds the type-specific keys
    as the type's :class:`~cnsr.settings.Settings` dataclass once validated
    (``cfg.model.generators[0].settings.layers``)."""
    type: Optional[str] = None     # None: the generator registry's default type (the reference's)
    query_passes: List[str] = field(default_factory=list)
    output_passes: List[str] = field(default_factory=lambda: ["beauty"])
    representations: List[int] = field(default_factory=lambda: [0])
    render_size: int = field(default=64, metadata={"min": 1})
    override_sample: bool = False
    override_train: bool = False
    discard_loss: bool = False
    detach: bool = False
    settings: Union[Settings, Dict[str, Any]] = field(default_factory=dict)


@dataclass
class ModelConfig:
    pose_dim: int = 16
    output_pass: str = "beauty"
    representations: List[RepresentationConfig] = field(default_factory=list)
    generators: List[GeneratorConfig] = field(default_factory=list)


@dataclass
class Config:
    """A whole config file. Keys marked (ours) are not in the reference release."""
    logging: bool = True
    seed: int = -1
    train_data_dir: Optional[str] = None
    test_data_dir: Optional[str] = None
    job_name: str = "job"
    job_group: str = ""
    checkpoint_interval: int = 500
    test_interval: int = 25
    iterations: int = 1000000
    batch_size: int = 36
    test_batch_size: int = 16
    dataset: Optional[str] = None     # None: the scene-family registry's default (the reference's)
    cached_dataset: bool = False
    samples_per_pixel: int = 64
    views_per_scene: int = 5
    random_num_views: bool = True
    latent_separation: bool = False
    adaptive_separation: bool = True
    empty_partition: bool = False
    partition_loss: float = 0.01
    multi_gpu: bool = False
    # (ours) optimisation and data loading
    learning_rate: float = 1e-4
    learning_rate_schedule: str = "constant"     # (ours) constant | cosine | step, see cnsr.schedules
    warmup_iterations: int = 0                   # (ours) linear warm-up of the learning rate
    final_learning_rate: Optional[float] = None  # (ours) end of a cosine / step schedule (default 1 % of the peak)
    learning_rate_step: int = 0                  # (ours) step schedule: last iteration at learning_rate
    learning_rate_decay: int = 0                 # (ours) the last N iterations anneal the rate to 1 % of it
    partition_learning_rate_factor: float = 1.0  # (ours) the partition logits train at this multiple of the rate
    num_workers: int = 2
    mixed_precision: bool = False
    skip_corrupt: bool = False
    render_size: Optional[int] = None   # (ours) dataset render size; default: max network render_size
    model: ModelConfig = field(default_factory=ModelConfig)
    #: where the config came from (not a key)
    source: Optional[str] = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> Dict[str, Any]:
        """The config as a JSON-serialisable dict (the file layout, without ``source``)."""
        d = dataclasses.asdict(self)
        d.pop("source", None)
        return d

    def needed_passes(self) -> List[str]:
        """All passes any network reads or predicts, in canonical order."""
        names = set()
        for r in self.model.representations:
            names.update(r.observation_passes)
        for g in self.model.generators:
            names.update(g.query_passes)
            names.update(g.output_passes)
        if self.model.output_pass:
            names.add(self.model.output_pass)
        return [n for n in PASS_NAMES if n in names]

    def max_render_size(self) -> int:
        """Image size a dataset for this config is rendered at (``render_size`` or the largest network size)."""
        if self.render_size:
            return self.render_size
        sizes = [r.render_size for r in self.model.representations] + [g.render_size for g in self.model.generators]
        return max(sizes) if sizes else 64

    def data_dir(self, split: str) -> Path:
        """Resolved dataset folder for ``split`` ('train' or 'test'); defaults to ``datasets/<dataset>/<split>``."""
        p = self.train_data_dir if split == "train" else self.test_data_dir
        if not p:
            return REPO_DIR / "datasets" / self.dataset / split
        return resolve_path(p)


def resolve_path(p: Union[str, os.PathLike]) -> Path:
    """Resolve a path from a config: absolute as is; relative against the current directory if
    it exists there, else against ``code/`` (the reference's working directory)."""
    path = Path(os.path.expanduser(str(p)))
    if path.is_absolute():
        return path
    if path.exists():
        return path.resolve()
    return (CODE_DIR / path).resolve()


# ---------------------------------------------------------------------- validation
def _type_name(t) -> str:
    return getattr(t, "__name__", str(t).replace("typing.", ""))


def _coerce(value: Any, typ, where: str) -> Any:
    """Check ``value`` against the annotation ``typ`` (with JSON leniencies), returning it coerced."""
    origin = typing.get_origin(typ)
    if origin is Union:  # Optional[X]
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if origin in (list, List):
        (item,) = typing.get_args(typ)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list of {_type_name(item)}, got {value!r}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not (math.isfinite(value) and value == int(value))):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if not -INT_LIMIT <= int(value) <= INT_LIMIT:
            shown = f"{value:.3g}" if isinstance(value, float) else f"an integer of {value.bit_length()} bits"
            raise ConfigError(f"{where}: must be within +-{INT_LIMIT} (a 64-bit integer), got {shown}")
        return int(value)
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            value = float(value)
        except OverflowError:
            value = float("inf")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number, got {value}")
        return value
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _key(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _fill(cls, data: Dict[str, Any], where: str, skip=()):
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]   # in file order
    kwargs = {}
    for key, value in data.items():
        if key in IGNORED_KEYS or key in skip:
            continue
        if key not in names:
            # a case slip first, else the first key sharing the first 4 letters: the same hint every run
            close = [n for n in names if n.lower() == key.lower()] + [n for n in names if n.startswith(key[:4])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{_key(where, key)}: unknown key{hint}")
        kwargs[key] = _coerce(value, hints[key], _key(where, key))
    obj = cls(**kwargs)
    _check_fields(obj, where)
    return obj


def _check_fields(obj, where: str) -> None:
    """Per-field constraints declared as field metadata (``setting(default, doc, min=..., choices=...)``)."""
    try:
        check_fields(obj)
    except SettingError as e:
        raise ConfigError(f"{_key(where, e.key)}: {e.problem}") from None


def _check_passes(names: List[str], where: str) -> None:
    for i, n in enumerate(names):
        if n not in PASSES:
            raise ConfigError(f"{where}[{i}]: unknown pass {n!r}; known passes: {', '.join(PASS_NAMES)}")


def _lookup(registry, name: Optional[str], where: str):
    """The registry's entry of ``name`` (its default entry for None), or a ConfigError at ``where``."""
    try:
        return registry.lookup(registry.default if name is None else name)
    except UnknownName as e:
        raise ConfigError(f"{where}: {e}") from None


def _parse_representation(d: Dict[str, Any], where: str, position: int) -> RepresentationConfig:
    r = _fill(RepresentationConfig, d, where)
    entry = _lookup(ENCODERS, r.type, f"{where}.type")
    r.type = entry.name
    r.aggregation_func = r.aggregation_func.lower()
    if r.aggregation_func not in AGGREGATIONS:
        raise ConfigError(f"{where}.aggregation_func: {r.aggregation_func!r} is not 'mean' or 'max'")
    _check_passes(r.observation_passes, f"{where}.observation_passes")
    if not r.observation_passes:
        raise ConfigError(f"{where}.observation_passes: at least one pass is needed")
    if r.representation_dim < 3:
        raise ConfigError(f"{where}.representation_dim: must be >= 3, got {r.representation_dim}")
    if r.render_size < 4 or r.render_size & (r.render_size - 1):
        raise ConfigError(f"{where}.render_size: must be a power of two >= 4, got {r.render_size}")
    for key in ("sharpening", "final_sharpening"):
        if getattr(r, key) < 0:
            raise ConfigError(f"{where}.{key}: must be >= 0, got {getattr(r, key)}")
    if not 0.0 <= r.gradient_reg <= 1.0:
        raise ConfigError(f"{where}.gradient_reg: must be in [0, 1], got {r.gradient_reg}")
    if not 0.0 <= r.invariance_reg <= 100.0:
        raise ConfigError(f"{where}.invariance_reg: must be in [0, 100], got {r.invariance_reg}")
    if not 0.0 <= r.composite_training <= 1.0:
        raise ConfigError(f"{where}.composite_training: must be in [0, 1], got {r.composite_training}")
    r.settings = _parse_settings(entry.settings, r, "encoder", where, position)
    return r


def _parse_settings(cls: type, spec, noun: str, where: str, position: int) -> Settings:
    """The ``settings`` object of an encoder or generator entry ``spec`` as its type's Settings
    dataclass ``cls``, validated."""
    if not isinstance(spec.settings, dict):
        raise ConfigError(f"{where}.settings: expected an object, got {type(spec.settings).__name__}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in spec.settings.items():
        if key not in known:
            raise ConfigError(f"{where}.settings: unknown key {key!r} for a {spec.type} {noun}; "
                              f"known: {', '.join(known) or 'none'}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.settings.{key}")
    settings = cls(**kwargs)
    try:
        settings.validate(spec, position)
    except SettingError as e:
        raise ConfigError(f"{where}.{'' if e.of_entry else 'settings.'}{e.key}: {e.problem}") from None
    return settings


def _parse_generator(d: Dict[str, Any], where: str, position: int) -> GeneratorConfig:
    g = _fill(GeneratorConfig, d, where)
    entry = _lookup(GENERATORS, g.type, f"{where}.type")
    g.type = entry.name
    _check_passes(g.query_passes, f"{where}.query_passes")
    _check_passes(g.output_passes, f"{where}.output_passes")
    if not g.output_passes:
        raise ConfigError(f"{where}.output_passes: at least one pass is needed")
    g.settings = _parse_settings(entry.settings, g, "generator", where, position)
    return g


#: The poses of every dataset are 4x4 world-to-camera matrices, flattened.
POSE_DIM = 16
#: Largest dataset image size (``render_size``), as the renderer's.
MAX_RENDER_SIZE = 16384


def _check_model(m: ModelConfig, mw: str) -> None:
    """Checks across the networks of a model (each network's own keys are checked as it is parsed)."""
    if not m.representations and not m.generators:
        return   # a dataset config: no model (training it is refused by check_trainable)
    if not m.representations:
        raise ConfigError(f"{mw}.representations: at least one encoder is needed")
    if not m.generators:
        raise ConfigError(f"{mw}.generators: at least one generator is needed")
    if m.pose_dim != POSE_DIM:
        raise ConfigError(f"{mw}.pose_dim: must be {POSE_DIM} (poses are flattened 4x4 matrices), got {m.pose_dim}")
    for i, g in enumerate(m.generators):
        where = f"{mw}.generators[{i}]"
        j = network_of(m.generators, i)
        if j != i:
            _check_reused_network(m, i, j, where)
        entry = generator_entry(m.generators, i)
        signed = [p for p in g.output_passes if p in SIGNED_PASSES]
        if signed and entry.log_space:
            raise ConfigError(f"{where}.output_passes: a {entry.name} generator models log(1 + value), which is NaN "
                              f"for the negative values of {', '.join(signed)}")
        logs = [x for x in getattr(g.settings, "loss", None) or [] if x in LOSSES and LOSSES[x].log_space]
        if signed and logs:
            linear = "/".join(name for name, e in LOSSES.items() if not e.log_space)
            raise ConfigError(f"{where}.settings.loss: {', '.join(logs)} compare log(1 + value), which is NaN for "
                              f"the negative values of {', '.join(signed)}: use {linear} for signed passes")


def _check_reused_network(m: ModelConfig, i: int, j: int, where: str) -> None:
    """Generator ``i`` runs generator ``j``'s network (its registry entry ``reuses`` it): it must
    give that network inputs and outputs of the channel counts it was built for."""
    g, src = m.generators[i], m.generators[j]
    r_dims = [sum(m.representations[k].representation_dim for k in x.representations) for x in (g, src)]
    for what, a, b in (("query_passes", total_channels(g.query_passes), total_channels(src.query_passes)),
                       ("output_passes", total_channels(g.output_passes), total_channels(src.output_passes)),
                       ("representations", r_dims[0], r_dims[1])):
        if a != b:
            raise ConfigError(f"{where}.{what}: a {g.type} reuses generator {j}'s network, which takes "
                              f"{b} channels of {what}; these give {a}")


def check_trainable(cfg: "Config") -> None:
    """A config to train must define a model (dataset configs need not) with a generator whose
    loss trains weights of its own (a model of generators without weights, which only add or
    reuse the outputs of others, loads, but has nothing to train)."""
    where = cfg.source or "<config>"
    m = cfg.model
    if not m.representations or not m.generators:
        raise ConfigError(f"{where}: model: no encoders and generators to train (is this a dataset config?)")
    if not any(GENERATORS[g.type].trainable and not g.discard_loss for g in m.generators):
        helpers = ", ".join(name for name, e in GENERATORS.items() if not e.trainable)
        raise ConfigError(f"{where}: model.generators: nothing to train: every generator has no weights of its "
                          f"own ({helpers}: they combine or reuse other generators) or has discard_loss")


def _check_training(cfg: "Config") -> None:
    """Ranges of the top-level training and data keys."""
    if not cfg.learning_rate > 0:
        raise ConfigError(f"learning_rate: must be > 0, got {cfg.learning_rate}")
    if cfg.learning_rate_schedule not in SCHEDULES:
        raise ConfigError(f"learning_rate_schedule: {cfg.learning_rate_schedule!r} is not one of "
                          f"{', '.join(SCHEDULES)}")
    if cfg.warmup_iterations < 0:
        raise ConfigError(f"warmup_iterations: must be >= 0, got {cfg.warmup_iterations}")
    if not 0 <= cfg.learning_rate_decay <= cfg.iterations:
        raise ConfigError(f"learning_rate_decay: must be in [0, iterations = {cfg.iterations}], "
                          f"got {cfg.learning_rate_decay}")
    if cfg.learning_rate_step < 0:
        raise ConfigError(f"learning_rate_step: must be >= 0, got {cfg.learning_rate_step}")
    if cfg.learning_rate_schedule == "step" and cfg.learning_rate_step < cfg.warmup_iterations:
        raise ConfigError(f"learning_rate_step: a step schedule needs the step ({cfg.learning_rate_step}) at or "
                          f"after the warm-up (warmup_iterations = {cfg.warmup_iterations})")
    if cfg.final_learning_rate is not None and cfg.learning_rate_schedule == "step":
        if not cfg.final_learning_rate > 0:   # a step may go down or up (a low rate until the masks harden)
            raise ConfigError(f"final_learning_rate: a step schedule's rate after the step must be > 0, "
                              f"got {cfg.final_learning_rate}")
    elif cfg.final_learning_rate is not None and not 0 <= cfg.final_learning_rate <= cfg.learning_rate:
        raise ConfigError(f"final_learning_rate: must be in [0, learning_rate = {cfg.learning_rate}], "
                          f"got {cfg.final_learning_rate}")
    if not cfg.partition_learning_rate_factor > 0:
        raise ConfigError(f"partition_learning_rate_factor: must be > 0, got {cfg.partition_learning_rate_factor}")
    if cfg.partition_loss < 0:
        raise ConfigError(f"partition_loss: must be >= 0, got {cfg.partition_loss}")
    if cfg.num_workers < 0:
        raise ConfigError(f"num_workers: must be >= 0 (0 loads in the training process), got {cfg.num_workers}")
    if cfg.iterations < 0:
        raise ConfigError(f"iterations: must be >= 0, got {cfg.iterations}")
    if cfg.render_size is not None and not 1 <= cfg.render_size <= MAX_RENDER_SIZE:
        raise ConfigError(f"render_size: must be in [1, {MAX_RENDER_SIZE}], got {cfg.render_size}")


def check_job_name(name: str) -> None:
    """``job_name`` names files (``<job_name>_<i>.pt``) and a folder (``runs/<job_name>``): it must
    be a plain name, so that nothing is written outside the chosen folders."""
    bad = [c for c in ("/", "\\", "\0") if c in name]
    if not name or name in (".", "..") or bad or name != name.strip():
        raise ConfigError(f"job_name: must be a plain file name (no '/', '\\', leading or trailing spaces, "
                          f"not '.' or '..'), got {name!r}")


def parse_config(data: Dict[str, Any], source: Optional[str] = None) -> Config:
    """Validate a config dict (the parsed JSON) into a :class:`Config`; ``source`` names it in errors.

    Errors read ``<file>: <key path>: <problem>``, e.g. ``room.json: model.generators[0].type: ...``.
    """
    try:
        return _parse_config(data, source)
    except ConfigError as e:
        raise ConfigError(f"{source or '<config>'}: {e}") from None


def _parse_config(data: Dict[str, Any], source: Optional[str]) -> Config:
    where = ""
    if not isinstance(data, dict):
        raise ConfigError("a config must be a JSON object")
    model = data.get("model", {})
    cfg = _fill(Config, data, where, skip=("model",))
    cfg.source = source
    mw = "model"
    m = _fill(ModelConfig, model, mw, skip=("representations", "generators"))
    reps = model.get("representations", [])
    gens = model.get("generators", [])
    if not isinstance(reps, list) or not isinstance(gens, list):
        raise ConfigError(f"{mw}: representations and generators must be lists")
    m.representations = [_parse_representation(r, f"{mw}.representations[{i}]", i) for i, r in enumerate(reps)]
    m.generators = [_parse_generator(g, f"{mw}.generators[{i}]", i) for i, g in enumerate(gens)]
    if m.output_pass and m.output_pass not in PASSES:
        raise ConfigError(f"{mw}.output_pass: unknown pass {m.output_pass!r}")
    for i, g in enumerate(m.generators):
        for j in g.representations:
            if not 0 <= j < len(m.representations):
                raise ConfigError(f"{mw}.generators[{i}].representations: no encoder with index {j} "
                                  f"(the config has {len(m.representations)})")
    cfg.model = m
    check_job_name(cfg.job_name)
    _check_model(m, mw)
    _check_training(cfg)
    cfg.dataset = _lookup(SCENE_FAMILIES, cfg.dataset, "dataset").name
    if cfg.views_per_scene < 2:
        raise ConfigError(f"views_per_scene: needs at least 2 (observations + query), got {cfg.views_per_scene}")
    for key in ("batch_size", "test_batch_size", "samples_per_pixel", "checkpoint_interval", "test_interval"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key}: must be >= 1, got {getattr(cfg, key)}")
    return cfg


def output_pass(cfg: Config) -> str:
    """The pass every tool shows and scores (viewers, composites, benchmarks, neural renders):
    the config's ``model.output_pass`` when the last generator predicts it, else that
    generator's ``beauty``, else its first output pass."""
    last = list(cfg.model.generators[-1].output_passes)
    if cfg.model.output_pass in last:
        return cfg.model.output_pass
    return "beauty" if "beauty" in last else last[0]


def config_path(config: Union[str, os.PathLike]) -> Path:
    """A config file's path: as given, else relative to ``code/`` (the reference's working folder)."""
    path = Path(config)
    if not path.is_file() and not path.is_absolute() and (CODE_DIR / path).is_file():
        path = CODE_DIR / path
    return path


def read_config_file(config: Union[str, os.PathLike]) -> Dict[str, Any]:
    """The JSON object of a config file, not validated yet (:class:`ConfigError` naming the file if
    it cannot be read or parsed)."""
    return read_json_file(config_path(config), ConfigError, "config file")


def load_config(config: Union[str, os.PathLike, Dict[str, Any], Config]) -> Config:
    """Load and validate a config from a JSON file path, a dict, or pass a :class:`Config` through."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return parse_config(copy.deepcopy(config))
    return parse_config(read_config_file(config), str(config_path(config)))


def save_config(cfg: Config, path: Union[str, os.PathLike]) -> None:
    """Write ``cfg`` as JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(cfg.to_dict(), indent=2))

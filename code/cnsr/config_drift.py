"""Which config keys define a trained model, and how two configs differ in them.

A checkpoint carries the config it was trained with. Loading it under another config is
refused where a **model-defining** key differs (the networks would compute something else, even
where every parameter shape fits: say the order of ``query_passes``), and noted where any other
key differs (a learning rate, a batch size, the iterations: a resumed run may change those).
The one list that decides which is which lives here:

- model-defining: everything under ``model`` except :data:`TRAINING_ONLY_KEYS`, plus the
  partitioning switches :data:`MODEL_TOP_KEYS`;
- everything else only shapes training.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .config import Config, ConfigError, parse_config

#: Top-level config keys that change what a trained model computes (besides everything under
#: ``model``): the partitioning switches.
MODEL_TOP_KEYS = ("latent_separation", "adaptive_separation", "empty_partition")
#: Keys under ``model`` that only shape training (losses, their schedules, gradient flow), so a
#: checkpoint may be resumed or evaluated under other values of them.
TRAINING_ONLY_KEYS = ("loss", "sigma_start", "sigma_end", "sigma_steps", "discard_loss", "detach",
                      "override_train", "gradient_reg", "invariance_reg",
                      "composite_training")


#: Top-level keys that only say how a run is driven (how long, how often it logs, tests and saves,
#: where its data lies and how it is loaded). Every other key that differs between two configs
#: changes what a run learns (its rates, seed, batches, loss weights): :attr:`Drift.recipe`.
BOOKKEEPING_KEYS = ("logging", "train_data_dir", "test_data_dir", "job_name", "job_group",
                    "checkpoint_interval", "test_interval", "iterations", "test_batch_size",
                    "cached_dataset", "num_workers", "multi_gpu", "skip_corrupt")


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def flat_config(config: Any) -> Dict[str, Any]:
    """Every key of a config (a :class:`~cnsr.config.Config` or its dict) flattened to
    ``model.generators[0].query_passes``-style names. A dict is validated first so that keys
    left out take their defaults (an invalid one is compared as it is)."""
    if isinstance(config, Mapping):
        try:
            config = parse_config(json.loads(json.dumps(config)))
        except (ConfigError, TypeError, ValueError):
            pass
    d = config.to_dict() if isinstance(config, Config) else dict(config)
    out: Dict[str, Any] = {}
    _flatten(d, "", out)
    return out


def is_model_defining(key: str) -> bool:
    """Whether a flattened key (``model.generators[0].settings.loss``) defines the trained model."""
    if not key.startswith("model."):
        return key in MODEL_TOP_KEYS
    parts = key.replace("[", ".").replace("]", "").split(".")
    return not any(p in TRAINING_ONLY_KEYS for p in parts)


def model_defining_config(config: Any) -> Dict[str, Any]:
    """The model-defining keys of a config (see the module docstring), flattened."""
    return {k: v for k, v in flat_config(config).items() if is_model_defining(k)}


@dataclass
class Drift:
    """How a config differs from the one a checkpoint was trained with: one
    ``key (checkpoint: X, config: Y)`` line per differing key."""
    model: List[str] = field(default_factory=list)       # model-defining keys: refused unless allowed
    training: List[str] = field(default_factory=list)    # every other key: noted
    #: the lines of ``training`` whose key changes what a run learns (not one of
    #: :data:`BOOKKEEPING_KEYS`): a learning rate, its schedule, the seed, the batch size, a loss
    #: weight. A run trained to its end under other values is another experiment.
    recipe: List[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.model or self.training)

    @staticmethod
    def keys(lines: List[str]) -> List[str]:
        """The flattened key names of some of its lines (``model``, ``training`` or ``recipe``)."""
        return [line.split(" (", 1)[0] for line in lines]


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def config_drift(saved: Any, current: Any) -> Drift:
    """The keys in which ``current`` differs from ``saved`` (the checkpoint's config)."""
    a, b = flat_config(saved), flat_config(current)
    missing = object()
    drift = Drift()
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, missing), b.get(k, missing)
        if va != vb:
            show = lambda v: "absent" if v is missing else _show(v)
            line = f"{k} (checkpoint: {show(va)}, config: {show(vb)})"
            if is_model_defining(k):
                drift.model.append(line)
            else:
                drift.training.append(line)
                if k not in BOOKKEEPING_KEYS:
                    drift.recipe.append(line)
    return drift


#: Top-level keys that only set the learning rate of each iteration (:mod:`cnsr.schedules`). Two
#: recipes that differ in these alone (and in :data:`NEUTRAL_KEYS`) train alike up to the first
#: iteration whose rate differs: :func:`shared_iterations`.
RATE_KEYS = ("learning_rate", "learning_rate_schedule", "warmup_iterations", "final_learning_rate",
             "learning_rate_step", "learning_rate_decay")
#: Keys in which two runs that train alike may differ: how long they run (which moves a decay or a
#: cosine: the rates are compared), how often they save, their names and where their data lie (the
#: caller checks that those data are the same). Every other key, bookkeeping ones included
#: (``logging`` and the test batch draw from the random generators, ``cached_dataset`` changes the
#: data), may change what a run draws or sees.
NEUTRAL_KEYS = ("iterations", "checkpoint_interval", "job_name", "job_group", "train_data_dir", "test_data_dir")


def differences_beyond_rate(saved: Any, current: Any) -> List[str]:
    """The flattened keys in which two configs differ, other than :data:`RATE_KEYS` and
    :data:`NEUTRAL_KEYS`: empty when runs under the two train alike but for their rates."""
    drift = config_drift(saved, current)
    return [k for k in Drift.keys(drift.model + drift.training) if k not in RATE_KEYS + NEUTRAL_KEYS]


def _parsed(config: Any) -> Config:
    """``config`` as a :class:`Config` (a dict is validated; a Config is taken as it is)."""
    if isinstance(config, Config):
        return config
    return parse_config(json.loads(json.dumps(dict(config))))


def first_rate_difference(saved: Any, current: Any, start: int = 1, end: Optional[int] = None) -> Optional[int]:
    """The first iteration in ``start..end`` (default: to the shorter run's end) whose learning
    rate differs between the two configs, or None."""
    from .schedules import config_learning_rate
    a, b = _parsed(saved), _parsed(current)
    last = min(a.iterations, b.iterations) if end is None else end
    for i in range(max(start, 1), last + 1):
        if config_learning_rate(a, i) != config_learning_rate(b, i):
            return i
    return None


def shared_iterations(saved: Any, current: Any,
                      sessions: Optional[Sequence[Tuple[int, int, int]]] = None) -> int:
    """How many first iterations a run under ``current`` trains exactly as one under ``saved``
    did: 0 where the two differ in anything but the learning rate and :data:`NEUTRAL_KEYS`
    (:func:`differences_beyond_rate`); else the iterations before the first one whose rate
    differs, at most the shorter run's. Say ``saved`` holds the rate for 20,000 iterations and
    ``current`` anneals the last 5,000 (``learning_rate_decay``): 15,000, so the first's
    checkpoint at 15,000 is a checkpoint of the second too. Where the data lie is not compared:
    the caller makes sure they are the same.

    ``sessions``: how the saved run was trained, as ``(first iteration, last iteration, the
    iteration target that session was given)``, one per training session: a session given
    another target (``--iterations``) placed a decay or a cosine elsewhere, so each session's
    rates are those of ``saved`` with its own target, and the saved run ends where its last
    session did. Default: one session over ``saved``'s whole length."""
    if differences_beyond_rate(saved, current):
        return 0
    return iterations_at_same_rate(saved, current, sessions)


def iterations_at_same_rate(saved: Any, current: Any,
                            sessions: Optional[Sequence[Tuple[int, int, int]]] = None) -> int:
    """The learning-rate half of :func:`shared_iterations`, for a caller that has already found
    that the two configs differ in nothing else (:func:`differences_beyond_rate` empty): the
    iterations before the first one whose rate differs, session by session, at most the shorter
    run's; 0 where a config cannot be read."""
    try:
        a, b = _parsed(saved), _parsed(current)
        if sessions is None:
            sessions = [(1, a.iterations, a.iterations)]
        shared = min(max((last for _, last, _ in sessions), default=0), b.iterations)
        for first_it, last_it, target in sessions:
            as_run = a if target == a.iterations else dataclasses.replace(a, iterations=int(target))
            first = first_rate_difference(as_run, b, first_it, min(last_it, b.iterations))
            if first is not None:
                shared = min(shared, first - 1)
    except (ConfigError, TypeError, ValueError):
        return 0
    return max(shared, 0)


def config_differences(saved: Any, current: Any) -> List[str]:
    """``key (checkpoint: X, config: Y)`` for every model-defining key that differs."""
    return config_drift(saved, current).model

"""Training checkpoints: the reference's file layout plus what an exact resume needs.

A checkpoint ``<job_name>_<iteration>.pt`` is a dict with the reference's three keys

- ``iteration``: the next iteration to run (the reference stores ``i + 1`` in the file of
  iteration ``i``, and so do we, so either kind of file resumes where it stopped),
- ``model_state``: the model's ``state_dict()`` (never with DDP/DataParallel prefixes),
- ``optimizer_state``: the Adam ``state_dict()``,

and, in ours only, ``rng_state`` (python, numpy, torch and CUDA generators), ``config``
(the config dict it was trained with), ``seed`` (the run's base seed, which drives the
per-iteration choice of observations) and ``format``. The sharpness and sigma schedules are
functions of the iteration, so the iteration is all they need.

Files are written atomically (temporary file + ``os.replace``): a crash or Ctrl-C while
writing never leaves a truncated checkpoint under the final name.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from ..io.atomic import atomic_path

#: Marks files written by this module (reference checkpoints have no ``format`` key).
FORMAT = "cnsr-checkpoint-1"

PathLike = Union[str, os.PathLike]


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit the model; the message names the file."""


# ---------------------------------------------------------------------------- names
def checkpoint_path(folder: PathLike, job_name: str, iteration: int) -> Path:
    """``<folder>/<job_name>_<iteration>.pt``, the reference's naming."""
    return Path(folder) / f"{job_name}_{int(iteration)}.pt"


def list_checkpoints(folder: PathLike, job_name: str) -> List[Tuple[int, Path]]:
    """The checkpoints of ``job_name`` in ``folder`` as ``(iteration, path)``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(re.escape(job_name) + r"_(\d+)\.pt")
    found = []
    for p in folder.iterdir():
        m = pattern.fullmatch(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(folder: PathLike, job_name: str) -> Optional[Path]:
    """The newest checkpoint of ``job_name`` in ``folder``, or None."""
    found = list_checkpoints(folder, job_name)
    return found[-1][1] if found else None


#: A hidden temporary checkpoint this much older than now is a leftover of a killed writer.
STALE_TEMP_AGE_S = 300.0


def remove_stale_temp_files(folder: PathLike, job_name: str, min_age_s: float = STALE_TEMP_AGE_S) -> List[Path]:
    """Delete the hidden temporary files (``.<job_name>_<i>.pt.XXXX.tmp``) that a writer killed
    with SIGKILL (or a power cut) left behind, if not modified for ``min_age_s`` seconds (so
    a write in progress elsewhere is left alone). Returns the deleted paths."""
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(r"\." + re.escape(job_name) + r"_\d+\.pt\..+\.tmp")
    now, removed = time.time(), []
    for p in folder.iterdir():
        if pattern.fullmatch(p.name):
            try:
                if now - p.stat().st_mtime >= min_age_s and p.is_file():
                    p.unlink()
                    removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def prune_checkpoints(folder: PathLike, job_name: str, keep: int) -> List[Path]:
    """Delete all but the ``keep`` newest checkpoints of ``job_name``; returns the deleted paths.
    ``keep <= 0`` keeps everything."""
    if keep <= 0:
        return []
    old = list_checkpoints(folder, job_name)[:-keep]
    for _, p in old:
        try:
            p.unlink()
        except FileNotFoundError:  # another process pruned it first
            pass
    return [p for _, p in old]


# ---------------------------------------------------------------------------- RNG
def capture_rng_state() -> Dict[str, Any]:
    """The state of every random generator a training step draws from.

    NumPy's state is stored as plain lists/tensors so that the file loads with
    ``torch.load(weights_only=True)``.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        s = state["numpy"]
        keys = np.asarray(s["keys"].numpy() if torch.is_tensor(s["keys"]) else s["keys"], dtype=np.uint32)
        np.random.set_state((s["name"], keys, int(s["pos"]), int(s["has_gauss"]), float(s["cached_gaussian"])))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)


# ---------------------------------------------------------------------------- state dicts
def strip_parallel_prefixes(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove DataParallel/DDP wrappers from parameter names.

    The reference wraps each encoder and generator in ``DataParallel`` when trained with
    ``multi_gpu`` (``representation.representations.0.module.conv1.weight``); a whole wrapped
    model has a leading ``module.``; wrappers inside wrappers give several segments in a row.
    All are removed (:func:`cnsr.models.reference_key`).
    """
    from ..models.model import reference_key

    return {reference_key(k): v for k, v in state.items()}


def model_state_from(checkpoint: Mapping[str, Any], source: str = "<checkpoint>") -> Dict[str, torch.Tensor]:
    """The model parameters in a loaded checkpoint, whatever its layout.

    Accepts our files and the reference's (``model_state``), the reference's older split
    layout (``representation_state`` + ``generator_state``) and a bare state dict.
    Prefixes of (Distributed)DataParallel are removed.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{source}: not a checkpoint (a {type(checkpoint).__name__}, expected a dict)")
    if "model_state" in checkpoint:
        state = checkpoint["model_state"]
    elif "representation_state" in checkpoint and "generator_state" in checkpoint:
        # generator first: the reference model's parameter order (its optimizer state follows it)
        state = {f"generator.{k}": v for k, v in checkpoint["generator_state"].items()}
        state.update({f"representation.{k}": v for k, v in checkpoint["representation_state"].items()})
    elif checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        state = checkpoint
    else:
        raise CheckpointError(f"{source}: no 'model_state' in the checkpoint (keys: {', '.join(map(str, checkpoint))})")
    return strip_parallel_prefixes(state)


def describe_mismatch(model_state: Mapping[str, torch.Tensor], loaded: Mapping[str, torch.Tensor],
                      limit: int = 8) -> Optional[str]:
    """A readable list of the keys missing, unexpected and of different shape, or None if they fit."""
    missing = [k for k in model_state if k not in loaded]
    unexpected = [k for k in loaded if k not in model_state]
    shapes = [(k, tuple(loaded[k].shape), tuple(model_state[k].shape)) for k in model_state
              if k in loaded and tuple(loaded[k].shape) != tuple(model_state[k].shape)]
    if not (missing or unexpected or shapes):
        return None

    def listing(items: List[str]) -> str:
        more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more

    parts = []
    if shapes:
        parts.append("shape mismatch: " + listing([f"{k} {tuple(a)} in file vs {tuple(b)} in model"
                                                    for k, a, b in shapes]))
    if missing:
        parts.append("missing in file: " + listing(missing))
    if unexpected:
        parts.append("not in model: " + listing(unexpected))
    return "; ".join(parts)


def check_compatible(model: torch.nn.Module, loaded: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise :class:`CheckpointError` naming the file and the mismatching keys/shapes if
    ``loaded`` does not fit ``model``."""
    problem = describe_mismatch(model.state_dict(), loaded)
    if problem:
        raise CheckpointError(f"{source}: the checkpoint does not fit the model of this config "
                              f"(was it trained with another config?): {problem}")


# ---------------------------------------------------------------------------- config
#: Top-level config keys that change what a trained model computes (besides everything under
#: ``model``): the partitioning switches.
MODEL_TOP_KEYS = ("latent_separation", "adaptive_separation", "empty_partition")
#: Keys under ``model`` that only shape training (losses, their schedules, gradient flow), so a
#: checkpoint may be resumed or evaluated under other values of them.
TRAINING_ONLY_KEYS = ("loss", "sigma_start", "sigma_end", "sigma_steps", "discard_loss", "detach",
                      "override_train", "gradient_reg")


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k not in TRAINING_ONLY_KEYS:
                _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def model_defining_config(config: Any) -> Dict[str, Any]:
    """The keys of a config (a :class:`~cnsr.config.Config` or its dict) that define what the
    trained model computes, flattened to ``model.generators[0].query_passes``-style names:
    everything under ``model`` except :data:`TRAINING_ONLY_KEYS`, and :data:`MODEL_TOP_KEYS`.
    A dict is validated first so that keys left out take their defaults."""
    from ..config import Config, ConfigError, parse_config

    if isinstance(config, Mapping):
        try:
            config = parse_config(dict(config))
        except (ConfigError, TypeError):
            pass   # compare what is there
    d = config.to_dict() if isinstance(config, Config) else dict(config)
    out: Dict[str, Any] = {}
    _flatten(d.get("model", {}), "model", out)
    for key in MODEL_TOP_KEYS:
        if key in d:
            out[key] = d[key]
    return out


def config_differences(saved: Any, current: Any) -> List[str]:
    """``key (checkpoint: X, config: Y)`` for every model-defining key that differs."""
    a, b = model_defining_config(saved), model_defining_config(current)
    missing = object()
    diffs = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, missing), b.get(k, missing)
        if va != vb:
            show = lambda v: "absent" if v is missing else json_repr(v)
            diffs.append(f"{k} (checkpoint: {show(va)}, config: {show(vb)})")
    return diffs


def json_repr(v: Any) -> str:
    import json
    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def check_config(checkpoint: Mapping[str, Any], config: Any, source: str, allow_change: bool = False,
                 limit: int = 8) -> List[str]:
    """Compare the config a checkpoint was trained with (ours carry it; the reference's do not)
    with ``config``; a difference in a model-defining key (see :func:`model_defining_config`)
    raises :class:`CheckpointError` naming the file and the keys, or with ``allow_change``
    prints a warning naming them. Returns the differences."""
    saved = checkpoint.get("config") if isinstance(checkpoint, Mapping) else None
    if not isinstance(saved, Mapping) or config is None:
        return []
    diffs = config_differences(saved, config)
    if not diffs:
        return []
    more = f"; ... ({len(diffs) - limit} more)" if len(diffs) > limit else ""
    listing = "; ".join(diffs[:limit]) + more
    if not allow_change:
        raise CheckpointError(f"{source}: the checkpoint was trained with another model config; the networks "
                              f"would compute something else: {listing}. Use the config it was trained with "
                              f"(stored in the checkpoint under 'config'), or allow the change explicitly "
                              f"(train-gqn.py --allow_config_change, load_model(..., allow_config_change=True))")
    import sys
    print(f"WARNING: {source}: loading a checkpoint trained with another model config: {listing}",
          file=sys.stderr, flush=True)
    return diffs


# ---------------------------------------------------------------------------- files
def read_checkpoint(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """Load a checkpoint file (ours or the reference's) with ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, not a torch file, pickled objects we do not trust
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e


def atomic_torch_save(obj: Any, path: PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` it into place."""
    path = Path(path)
    with atomic_path(path, fsync=True) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return path


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DDP/DataParallel/``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
            model = model.module
        else:
            return model


def make_checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer, next_iteration: int,
                    config: Optional[Dict[str, Any]] = None, seed: Optional[int] = None,
                    extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The checkpoint dict (see the module docstring); ``next_iteration`` is the iteration to resume at."""
    state = {
        "iteration": int(next_iteration),
        "model_state": unwrap(model).state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "format": FORMAT,
        "rng_state": capture_rng_state(),
    }
    if config is not None:
        state["config"] = config
    if seed is not None:
        state["seed"] = int(seed)
    if extra:
        state.update(extra)
    return state


def save_checkpoint(folder: PathLike, job_name: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    iteration: int, config: Optional[Dict[str, Any]] = None, seed: Optional[int] = None,
                    keep_last: int = 0, extra: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``<folder>/<job_name>_<iteration>.pt`` after iteration ``iteration`` completed
    (stored ``iteration`` is ``iteration + 1``), atomically; then keep only the ``keep_last``
    newest checkpoints of the job (0 keeps all). Returns the path."""
    state = make_checkpoint(model, optimizer, iteration + 1, config=config, seed=seed, extra=extra)
    path = atomic_torch_save(state, checkpoint_path(folder, job_name, iteration))
    prune_checkpoints(folder, job_name, keep_last)
    remove_stale_temp_files(folder, job_name)
    return path


def optimizer_state_in_model_order(optimizer_state: Mapping[str, Any], file_keys: Iterable[str],
                                   model: torch.nn.Module, source: str = "<checkpoint>") -> Dict[str, Any]:
    """Re-index an optimizer state saved with another parameter order for ``model``'s order.

    An optimizer state refers to parameters by their position in ``model.parameters()`` of
    the model that wrote it. The reference's model registered its generators before its
    encoders, ours the other way round, so positions differ; the file's ``model_state``
    lists the parameters in the writer's order, which gives the mapping. For our own files
    the mapping is the identity. ``file_keys``: the file's model_state keys (prefixes stripped),
    in file order. Returns a state dict for an optimizer over ``model.parameters()``
    (one parameter group).
    """
    by_name = dict(model.named_parameters(remove_duplicate=False))
    ours = {id(p): i for i, p in enumerate(model.parameters())}
    file_order, seen = [], set()
    for key in file_keys:
        p = by_name.get(key)
        if p is not None and id(p) not in seen:   # a shared (Copy) generator appears twice
            seen.add(id(p))
            file_order.append(p)
    groups = optimizer_state.get("param_groups", [])
    n_file = sum(len(g["params"]) for g in groups)
    if n_file != len(ours) or len(file_order) != len(ours):
        raise CheckpointError(f"{source}: the optimizer state has {n_file} parameters, the model {len(ours)}")
    file_index = [i for g in groups for i in g["params"]]       # positions in the writer's order
    state = {}
    for pos, idx in enumerate(file_index):
        if idx in optimizer_state.get("state", {}):
            param = file_order[pos]
            entry = optimizer_state["state"][idx]
            for name, value in entry.items():
                if torch.is_tensor(value) and value.dim() > 0 and tuple(value.shape) != tuple(param.shape):
                    raise CheckpointError(f"{source}: optimizer state {name!r} of parameter {pos} has shape "
                                          f"{tuple(value.shape)}, the parameter {tuple(param.shape)}")
            state[ours[id(param)]] = entry
    group = {k: v for k, v in groups[0].items() if k != "params"} if groups else {}
    group["params"] = list(range(len(ours)))
    return {"state": state, "param_groups": [group]}


def load_into(model: torch.nn.Module, checkpoint: Mapping[str, Any], source: str,
              optimizer: Optional[torch.optim.Optimizer] = None, config: Any = None,
              allow_config_change: bool = False) -> None:
    """Load a read checkpoint's parameters (and optimizer state) into ``model``; a checkpoint
    for another config raises :class:`CheckpointError` naming the keys/shapes and the file.
    With ``config`` (the config the model was built from), a checkpoint that carries its own
    config must agree on the model-defining keys (:func:`check_config`), even where the shapes
    fit. The optimizer state is re-indexed to this model's parameter order (see
    :func:`optimizer_state_in_model_order`); ``optimizer`` must be over ``model.parameters()``."""
    state = model_state_from(checkpoint, source)
    check_config(checkpoint, config, source, allow_config_change)
    target = unwrap(model)
    check_compatible(target, state, source)
    target.load_state_dict(state)
    opt_state = checkpoint.get("optimizer_state") if optimizer is not None else None
    if opt_state and opt_state.get("param_groups"):
        try:
            optimizer.load_state_dict(optimizer_state_in_model_order(opt_state, list(state), target, source))
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{source}: the optimizer state does not fit the model ({e})") from e

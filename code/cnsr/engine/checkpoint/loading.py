"""Loading a read checkpoint into a model (and its optimizer): the one path every load takes.

Parameters go through :mod:`cnsr.models.state_dicts` (layouts, names, shapes); the config the
checkpoint carries is compared with the current one through :mod:`cnsr.config_drift` (one list of
model-defining keys); the optimizer state must be there to resume unless the caller resets it.
"""
from __future__ import annotations

import sys
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch

from ...config import Config, ConfigError
from ...config_drift import Drift, config_drift
from ...overrides import with_overrides
from ...models.state_dicts import (CheckpointError, check_compatible, model_state_from,
                                   optimizer_state_in_model_order)
from ..devices import unwrap
from .files import stored_config


def check_config(checkpoint: Mapping[str, Any], config: Any, source: str, allow_change: bool = False,
                 limit: int = 8) -> Drift:
    """Compare the config a checkpoint was trained with (ours carry it; the reference's do not)
    with ``config``: a difference in a model-defining key raises :class:`CheckpointError` naming
    the file and the keys, or with ``allow_change`` prints a warning naming them. Returns every
    difference (:class:`~cnsr.config_drift.Drift`: model-defining and training keys)."""
    saved = checkpoint.get("config") if isinstance(checkpoint, Mapping) else None
    if not isinstance(saved, Mapping) or config is None:
        return Drift()
    drift = config_drift(saved, config)
    if not drift.model:
        return drift
    diffs = drift.model
    more = f"; ... ({len(diffs) - limit} more)" if len(diffs) > limit else ""
    listing = "; ".join(diffs[:limit]) + more
    if not allow_change:
        raise CheckpointError(f"{source}: the checkpoint was trained with another model config; the networks "
                              f"would compute something else: {listing}. Use the config it was trained with "
                              f"(leave --config out: the checkpoint's own config is the default), or allow the "
                              f"change explicitly (--allow_config_change, load_model(..., allow_config_change=True))")
    print(f"WARNING: {source}: loading a checkpoint trained with another model config: {listing}",
          file=sys.stderr, flush=True)
    return drift


def require_optimizer_state(checkpoint: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """The optimizer state a resume needs, or :class:`CheckpointError` saying how to go on without."""
    opt_state = checkpoint.get("optimizer_state")
    if not opt_state or not opt_state.get("param_groups"):
        raise CheckpointError(f"{source}: holds no optimizer state, so training cannot resume exactly (Adam's "
                              f"moments would start from zero); to go on with a fresh optimizer anyway, pass "
                              f"--reset_optimizer (Trainer(reset_optimizer=True))")
    return opt_state


def load_into(model: torch.nn.Module, checkpoint: Mapping[str, Any], source: str,
              optimizer: Optional[torch.optim.Optimizer] = None, config: Any = None,
              allow_config_change: bool = False, reset_optimizer: bool = False) -> Drift:
    """Load a read checkpoint's parameters (and, with ``optimizer``, its optimizer state) into
    ``model``. A checkpoint for another config raises :class:`CheckpointError` naming the
    keys/shapes and the file; with ``config`` (the config the model was built from), a
    checkpoint that carries its own config must agree on the model-defining keys
    (:func:`check_config`), even where the shapes fit. To resume (``optimizer`` given), the
    checkpoint must hold an optimizer state, unless ``reset_optimizer`` starts a fresh one on
    purpose; it is re-indexed to this model's parameter order. Returns the config drift."""
    state = model_state_from(checkpoint, source)
    drift = check_config(checkpoint, config, source, allow_config_change)
    target = unwrap(model)
    check_compatible(target, state, source)
    target.load_state_dict(state)
    if optimizer is None or reset_optimizer:
        return drift
    opt_state = require_optimizer_state(checkpoint, source)
    try:
        groups = [g["params"] for g in optimizer.param_groups]
        factors = [g.get("lr_factor", 1.0) for g in optimizer.param_groups]
        optimizer.load_state_dict(optimizer_state_in_model_order(opt_state, list(state), target, source, groups))
        for g, factor in zip(optimizer.param_groups, factors):   # this run's config decides, not the file
            g["lr_factor"] = factor
    except (ValueError, KeyError, TypeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{source}: the optimizer state does not fit the model ({e})") from None
    return drift


def config_for_checkpoint(config: Union[None, Config, Dict[str, Any], str, os.PathLike],
                          checkpoint: Optional[Mapping[str, Any]], source: Optional[str],
                          overrides: Sequence[str] = ()) -> Config:
    """The config a run or a tool uses: ``config`` when given (it overrides), else the one the
    checkpoint was trained with; ``overrides`` (``--set KEY=VALUE``) applied and validated like a
    file. A reference checkpoint carries no config: then ``config`` is needed."""
    if config is not None:
        return with_overrides(config, overrides)
    if checkpoint is None:
        raise ConfigError("no config: give --config (or a checkpoint of ours, which carries its config)")
    saved = stored_config(checkpoint)
    if saved is None:
        raise CheckpointError(f"{source}: carries no config (a checkpoint of the paper's release, or a bare "
                              f"state dict): give the config it was trained with, --config")
    return with_overrides(saved, overrides, f"{source} (its config)")

"""Model state dicts as checkpoints hold them: ours and the paper's layouts, and fitting one to a model.

Every checkpoint, ours or the paper's, goes through here on its way into a model
(:func:`cnsr.engine.checkpoint.load_into` for training and tools, :func:`load_reference_state_dict`
for a bare state dict):

- layouts: ``{'model_state': ...}`` (ours and the reference's), the reference's older split
  ``{'representation_state', 'generator_state'}``, or a bare state dict;
- names: the ``module.`` segments of (Distributed)DataParallel removed (:func:`reference_key`);
- fit: names and shapes compared with the model, a mismatch listed (:func:`describe_mismatch`);
- optimizer: an Adam state re-indexed from the writer's parameter order to the model's.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import torch


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit the model; the message names the file."""


#: a ``module.`` path segment (at the start or after a dot; nested wrappers give several)
_MODULE = re.compile(r"(?<![^.])module\.")


def reference_key(key: str) -> str:
    """A state-dict key with every DataParallel/DDP ``module.`` segment removed."""
    return _MODULE.sub("", key)


def strip_parallel_prefixes(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove DataParallel/DDP wrappers from parameter names.

    The reference wraps each encoder and generator in ``DataParallel`` when trained with
    ``multi_gpu`` (``representation.representations.0.module.conv1.weight``); a whole wrapped
    model has a leading ``module.``; wrappers inside wrappers give several segments in a row.
    All are removed (:func:`reference_key`).
    """
    return {reference_key(k): v for k, v in state.items()}


def model_state_from(checkpoint: Mapping[str, Any], source: str = "<checkpoint>") -> Dict[str, torch.Tensor]:
    """The model parameters in a loaded checkpoint, whatever its layout, in the writer's order.

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
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CheckpointError(f"{source}: 'model_state' must map parameter names to tensors")
    return strip_parallel_prefixes(state)


def describe_mismatch(model_state: Mapping[str, torch.Tensor], loaded: Mapping[str, torch.Tensor],
                      limit: int = 8, strict: bool = True) -> Optional[str]:
    """A readable list of the keys missing, unexpected and of different shape, or None if they fit.
    ``strict=False``: only shapes must agree (missing and unexpected keys are allowed)."""
    missing = [k for k in model_state if k not in loaded] if strict else []
    unexpected = [k for k in loaded if k not in model_state] if strict else []
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


def check_compatible(model: torch.nn.Module, loaded: Mapping[str, torch.Tensor], source: str,
                     strict: bool = True) -> None:
    """Raise :class:`CheckpointError` naming the file and the mismatching keys/shapes if
    ``loaded`` does not fit ``model``."""
    problem = describe_mismatch(model.state_dict(), loaded, strict=strict)
    if problem:
        raise CheckpointError(f"{source}: the checkpoint does not fit the model of this config "
                              f"(was it trained with another config?): {problem}")


def optimizer_state_for_file(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> Dict[str, Any]:
    """``optimizer.state_dict()`` in the layout files hold: one parameter group, parameters by their
    position in ``model.parameters()`` (what an optimizer over ``model.parameters()`` writes, and
    the reference's layout). An optimizer with more groups (the partition logits' own rate) is
    folded into one, keeping the first group's hyperparameters; each run's config sets the rates
    again when it loads (:func:`optimizer_state_in_model_order` splits the groups again)."""
    saved = optimizer.state_dict()
    if len(saved["param_groups"]) == 1:
        return saved
    position = {id(p): i for i, p in enumerate(model.parameters())}
    live = [p for g in optimizer.param_groups for p in g["params"]]
    index_of = {i: position[id(p)] for i, p in enumerate(live)}   # the optimizer's index -> model position
    hyper = {k: v for k, v in saved["param_groups"][0].items() if k != "params"}
    return {"state": {index_of[i]: entry for i, entry in saved["state"].items()},
            "param_groups": [dict(hyper, params=list(range(len(position))))]}


def optimizer_state_in_model_order(optimizer_state: Mapping[str, Any], file_keys: Iterable[str],
                                   model: torch.nn.Module, source: str = "<checkpoint>",
                                   groups: Optional[Sequence[Sequence[torch.nn.Parameter]]] = None) -> Dict[str, Any]:
    """Re-index an optimizer state saved with another parameter order for ``model``'s order.

    An optimizer state refers to parameters by their position in ``model.parameters()`` of
    the model that wrote it. The reference's model registered its generators before its
    encoders, ours the other way round, so positions differ; the file's ``model_state``
    lists the parameters in the writer's order, which gives the mapping. For our own files
    the mapping is the identity. ``file_keys``: the file's model_state keys (prefixes stripped),
    in file order. Returns a state dict for an optimizer over ``model.parameters()`` (one
    parameter group), or, with ``groups`` (the parameters of each group of the optimizer to load
    into, e.g. the partition logits in a group of their own), for an optimizer with those groups,
    whatever grouping wrote the file; the groups' hyperparameters are the file's first group's.
    """
    by_name = dict(model.named_parameters(remove_duplicate=False))
    ours = {id(p): i for i, p in enumerate(model.parameters())}
    file_order, seen = [], set()
    for key in file_keys:
        p = by_name.get(key)
        if p is not None and id(p) not in seen:   # a shared (Copy) generator appears twice
            seen.add(id(p))
            file_order.append(p)
    file_groups = optimizer_state.get("param_groups", [])
    n_file = sum(len(g["params"]) for g in file_groups)
    if n_file != len(ours) or len(file_order) != len(ours):
        raise CheckpointError(f"{source}: the optimizer state has {n_file} parameters, the model {len(ours)}")
    file_index = [i for g in file_groups for i in g["params"]]       # positions in the writer's order
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
    hyper = {k: v for k, v in file_groups[0].items() if k != "params"} if file_groups else {}
    if groups is None:
        return {"state": state, "param_groups": [dict(hyper, params=list(range(len(ours))))]}
    target = [p for g in groups for p in g]
    if sorted(id(p) for p in target) != sorted(ours):
        raise CheckpointError(f"{source}: the optimizer's parameter groups do not hold the model's parameters")
    params = list(model.parameters())
    position = {id(p): i for i, p in enumerate(target)}
    state = {position[id(params[i])]: entry for i, entry in state.items()}
    out, start = [], 0
    for g in groups:
        out.append(dict(hyper, params=list(range(start, start + len(g)))))
        start += len(g)
    return {"state": state, "param_groups": out}


def load_state(model: torch.nn.Module, checkpoint: Mapping[str, Any], source: str = "<checkpoint>",
               strict: bool = True) -> Dict[str, torch.Tensor]:
    """Load the parameters of a checkpoint (any layout above) into ``model``; a state that does
    not fit raises :class:`CheckpointError` naming ``source`` and the keys. Returns the state
    dict as loaded (names cleaned, in the file's order)."""
    state = model_state_from(checkpoint, source)
    check_compatible(model, state, source, strict=strict)
    model.load_state_dict(state, strict=strict)
    return state

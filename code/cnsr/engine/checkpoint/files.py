"""Checkpoint files: the reference's keys plus what an exact resume needs, written atomically,
checked when read.

A checkpoint ``<job_name>_<iteration>.pt`` is a dict with the reference's three keys

- ``iteration``: the next iteration to run (the reference stores ``i + 1`` in the file of
  iteration ``i``, and so do we, so either kind of file resumes where it stopped; what a
  checkpoint *reports* is the completed iteration, the number in its name:
  :func:`completed_iterations`),
- ``model_state``: the model's ``state_dict()`` (never with DDP/DataParallel prefixes),
- ``optimizer_state``: the Adam ``state_dict()``,

and, in ours only, ``rng_state`` (python, numpy, torch and CUDA generators), ``config``
(the config dict it was trained with), ``seed`` (the run's base seed, which drives the
per-iteration choice of observations), ``run_id`` (the run folder's run), ``train_seconds`` (time in
training steps over the whole run) and ``format``.
The sharpness and sigma schedules are functions of the iteration, so the iteration is all
they need.

Files are written atomically (temporary file + ``os.replace``): a crash or Ctrl-C while
writing never leaves a truncated checkpoint under the final name. Reading checks every key's
type and range (:func:`validate_checkpoint`), so a damaged or hand-made file is refused with
the file and the key named instead of training on from iteration -5.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import torch

from ...io.atomic import atomic_path
from ...io.outputs import is_disk_full
from ...models.state_dicts import CheckpointError, optimizer_state_for_file
from ..devices import unwrap
from ..seeding import capture_rng_state, rng_state_problem
from .naming import checkpoint_path

#: Marks files written by this module (reference checkpoints have no ``format`` key).
FORMAT = "cnsr-checkpoint-1"

PathLike = Union[str, os.PathLike]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_checkpoint(state: Any, source: str) -> Dict[str, Any]:
    """Check the keys of a read checkpoint (ours or the reference's): :class:`CheckpointError`
    naming ``source`` and the key when one has the wrong type or range. Returns ``state``."""
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{source}: not a checkpoint (a {type(state).__name__}, expected a dict)")
    it = state.get("iteration")
    if it is not None:
        if torch.is_tensor(it) and it.numel() == 1 and not it.is_floating_point():
            it = int(it.item())
        if not _is_int(it) or it < 0:
            raise CheckpointError(f"{source}: 'iteration' must be an integer >= 0 (the next iteration to run), "
                                  f"got {it!r}")
        state = dict(state, iteration=it)
    opt = state.get("optimizer_state")
    if opt is not None and not (isinstance(opt, Mapping) and isinstance(opt.get("param_groups", []), list)
                                and isinstance(opt.get("state", {}), Mapping)):
        raise CheckpointError(f"{source}: 'optimizer_state' is not an optimizer state (a dict with "
                              f"'state' and 'param_groups')")
    if "rng_state" in state:
        problem = rng_state_problem(state["rng_state"])
        if problem:
            raise CheckpointError(f"{source}: 'rng_state': {problem}")
    if "config" in state and not isinstance(state["config"], Mapping):
        raise CheckpointError(f"{source}: 'config' must be a config dict, got {type(state['config']).__name__}")
    if "seed" in state and not _is_int(state["seed"]):
        raise CheckpointError(f"{source}: 'seed' must be an integer, got {state['seed']!r}")
    seconds = state.get("train_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not 0 <= seconds < float("inf")):
        raise CheckpointError(f"{source}: 'train_seconds' must be a number >= 0, got {seconds!r}")
    return dict(state)


def next_iteration(state: Mapping[str, Any]) -> int:
    """The iteration a run resumed from this checkpoint starts at (1 without the key)."""
    return max(1, int(state.get("iteration", 1)))


def completed_iterations(state: Mapping[str, Any]) -> int:
    """The iterations a checkpoint was trained for: the number in its name (``_600`` -> 600)."""
    return next_iteration(state) - 1


def stored_config(state: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The config dict a checkpoint of ours carries (None for the reference's)."""
    cfg = state.get("config")
    return dict(cfg) if isinstance(cfg, Mapping) else None


def read_checkpoint(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """Load and check a checkpoint file (ours or the reference's) with ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found" if not path.exists() else
                              f"{path}: not a checkpoint file (a folder?)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise CheckpointError(f"{path}: not enough memory to load this checkpoint") from None
    except Exception as e:  # truncated zip, not a torch file, pickled objects we do not trust
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return validate_checkpoint(state, str(path))


class CheckpointWriteError(CheckpointError, OSError):
    """A checkpoint could not be written (disk full, folder gone); the message says what to do."""


def atomic_torch_save(obj: Any, path: PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` it into place.
    A failure (disk full) leaves no temporary file and the previous file under ``path`` as it was,
    and raises :class:`CheckpointWriteError` naming the file."""
    path = Path(path)
    try:
        with atomic_path(path, fsync=True) as tmp, open(tmp, "wb") as f:
            torch.save(obj, f)
    except OSError as e:
        full = is_disk_full(e) or "No space left" in str(e)
        hint = ("the disk is full: free space there (or give another folder) and resume from the last "
                "checkpoint written" if full else "check that the folder exists and can be written")
        raise CheckpointWriteError(f"{path}: cannot write the checkpoint ({e.strerror or e}); {hint}") from None
    except RuntimeError as e:   # torch wraps a failed write of its zip writer in a RuntimeError
        raise CheckpointWriteError(f"{path}: cannot write the checkpoint ({str(e).splitlines()[0]}); "
                                   f"is the disk full?") from None
    return path


def make_checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer, next_iteration: int,
                    config: Optional[Dict[str, Any]] = None, seed: Optional[int] = None,
                    extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The checkpoint dict (see the module docstring); ``next_iteration`` is the iteration to resume at."""
    state = {
        "iteration": int(next_iteration),
        "model_state": unwrap(model).state_dict(),
        "optimizer_state": optimizer_state_for_file(optimizer, unwrap(model)),
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
                    extra: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``<folder>/<job_name>_<iteration>.pt`` after iteration ``iteration`` completed
    (stored ``iteration`` is ``iteration + 1``), atomically. Returns the path. (Pruning old
    checkpoints is the run folder's: :meth:`cnsr.engine.runfolder.RunFolder.record`.)"""
    state = make_checkpoint(model, optimizer, iteration + 1, config=config, seed=seed, extra=extra)
    return atomic_torch_save(state, checkpoint_path(folder, job_name, iteration))


def estimate_checkpoint_bytes(model: torch.nn.Module) -> int:
    """About the size of a checkpoint of ``model`` with Adam: the parameters and buffers, the two
    moments per parameter, and a margin for the rest (RNG states, config)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return 3 * params + buffers + (1 << 20)

"""Checkpoints: one path for writing, reading and loading them, in separate modules.

- :mod:`.files`: the file's keys (the reference's plus ours), atomic writes, checks on reading;
- :mod:`.naming`: ``<job_name>_<iteration>.pt``, listing, leftovers of killed writers;
- :mod:`.loading`: a read checkpoint into a model and optimizer, with the config-drift check;
- :mod:`cnsr.models.state_dicts`: the layouts of ours and the paper's state dicts;
- :mod:`cnsr.config_drift`: the one list of model-defining config keys;
- :mod:`cnsr.engine.runfolder`: which folder a run writes, its lock, and pruning its own files.

The names below are those this package has always offered (``from cnsr.engine import
checkpoint as ckpt; ckpt.read_checkpoint(p)``).
"""
from ...config_drift import MODEL_TOP_KEYS, TRAINING_ONLY_KEYS, config_differences, model_defining_config
from ...models.state_dicts import (CheckpointError, check_compatible, describe_mismatch, model_state_from,
                                   optimizer_state_in_model_order, strip_parallel_prefixes)
from ..devices import unwrap
from ..seeding import capture_rng_state, restore_rng_state
from .files import (FORMAT, CheckpointWriteError, atomic_torch_save, completed_iterations,
                    estimate_checkpoint_bytes, make_checkpoint, next_iteration, read_checkpoint, save_checkpoint, stored_config, validate_checkpoint)
from .loading import check_config, config_for_checkpoint, load_into, require_optimizer_state
from .naming import (STALE_TEMP_AGE_S, checkpoint_iteration, checkpoint_path, latest_checkpoint, list_checkpoints,
                     remove_stale_temp_files)

__all__ = [
    "CheckpointError", "CheckpointWriteError", "FORMAT", "MODEL_TOP_KEYS", "STALE_TEMP_AGE_S", "TRAINING_ONLY_KEYS",
    "atomic_torch_save", "capture_rng_state", "check_compatible", "check_config", "checkpoint_iteration",
    "checkpoint_path", "completed_iterations", "config_differences", "config_for_checkpoint",
    "estimate_checkpoint_bytes", "describe_mismatch", "latest_checkpoint",
    "list_checkpoints", "load_into", "make_checkpoint", "model_defining_config", "model_state_from",
    "next_iteration", "optimizer_state_in_model_order", "read_checkpoint", "remove_stale_temp_files",
    "require_optimizer_state",
    "restore_rng_state", "save_checkpoint", "stored_config", "strip_parallel_prefixes", "unwrap",
    "validate_checkpoint",
]

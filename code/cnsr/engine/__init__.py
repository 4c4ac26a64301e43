"""Training: the loop (:class:`Trainer`), checkpoints, TensorBoard monitoring, DDP, and the
Python entry point :func:`load_model`."""
from .api import load_model
from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from .trainer import Trainer

__all__ = ["Trainer", "load_model", "CheckpointError", "read_checkpoint", "save_checkpoint"]

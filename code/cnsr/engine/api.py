"""The Python entry point for notebooks and tools: a trained model from a config and a checkpoint.

>>> import cnsr
>>> model = cnsr.load_model("configs/room_beauty.json", "checkpoints/room_beauty_1000000.pt")
>>> outputs = model.sample(batch)          # batch: the layout of cnsr.data (docs/ARCHITECTURE.md)
>>> outputs[-1]["beauty"].shape            # one dict pass -> [B, C, H, W] per generator, linear
"""
from __future__ import annotations

import os
from typing import Optional, Union

import torch

from ..config import Config, load_config
from . import checkpoint as ckpt


def load_model(config: Union[Config, dict, str, os.PathLike],
               checkpoint: Optional[Union[str, os.PathLike]] = None,
               device: Union[str, torch.device] = "cpu", allow_config_change: bool = False) -> torch.nn.Module:
    """Build the model of ``config`` and load ``checkpoint`` into it, in eval mode on ``device``.

    ``checkpoint`` may be ours or the reference's (``{'iteration', 'model_state', ...}``),
    with or without the ``module.`` prefixes of (Distributed)DataParallel, or a bare state
    dict. A checkpoint of another config raises :class:`~cnsr.engine.checkpoint.CheckpointError`
    naming the file and the mismatching keys and shapes. The checkpoint's ``iteration`` is
    passed to the model (``model.iteration``) so that schedules that depend on it (the
    partition sharpness) are those it was trained to.

    Our checkpoints carry the config they were trained with: if a model-defining key differs
    (say the order of ``query_passes``, which leaves every shape the same), loading is refused
    with the keys named; ``allow_config_change=True`` loads anyway with a warning.
    """
    from ..models import build_model
    from .trainer import move_to

    cfg = load_config(config)
    model = build_model(cfg)
    if checkpoint is not None:
        state = ckpt.read_checkpoint(checkpoint)
        ckpt.load_into(model, state, str(checkpoint), config=cfg, allow_config_change=allow_config_change)
        if isinstance(state, dict) and "iteration" in state:
            model.set_iteration(int(state["iteration"]))
    return move_to(model, torch.device(device)).eval()

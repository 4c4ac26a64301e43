"""The Python entry point for notebooks and tools: a trained model from a checkpoint (and a config).

>>> import cnsr
>>> model = cnsr.load_model(checkpoint="checkpoints/quickstart/version_0/quickstart_600.pt")   # its own config
>>> model = cnsr.load_model("configs/room_beauty.json", "checkpoints/room_beauty_1000000.pt")  # the paper's
>>> outputs = model.sample(batch)          # batch: the layout of cnsr.data (docs/ARCHITECTURE.md)
>>> outputs[-1]["beauty"].shape            # one dict pass -> [B, C, H, W] per generator, linear
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import torch

from ..config import Config
from ..models import build_model
from . import checkpoint as ckpt
from .devices import check_device, move_to


def load_model(config: Union[None, Config, dict, str, os.PathLike] = None,
               checkpoint: Optional[Union[str, os.PathLike]] = None,
               device: Union[str, torch.device] = "cpu", allow_config_change: bool = False,
               overrides: Sequence[str] = ()) -> torch.nn.Module:
    """Build the model of ``config`` and load ``checkpoint`` into it, in eval mode on ``device``.

    ``config`` may be left out when the checkpoint is ours: it carries the config it was trained
    with, which is then used (a given ``config`` overrides it); ``overrides`` are ``KEY=VALUE``
    changes (``--set``), validated like a file. The config is ``model.cfg``.

    ``checkpoint`` may be ours or the reference's (``{'iteration', 'model_state', ...}``),
    with or without the ``module.`` prefixes of (Distributed)DataParallel, or a bare state
    dict. A checkpoint of another config raises :class:`~cnsr.engine.checkpoint.CheckpointError`
    naming the file and the mismatching keys and shapes. ``model.iteration`` is the iteration the
    checkpoint was trained to (the number in its name), so that schedules that depend on it (the
    partition sharpness) are those it was trained to.

    Our checkpoints carry the config they were trained with: if a model-defining key of a given
    ``config`` differs (say the order of ``query_passes``, which leaves every shape the same),
    loading is refused with the keys named; ``allow_config_change=True`` loads anyway with a warning.
    A ``device`` this machine lacks is refused (:class:`~cnsr.engine.devices.DeviceError`).
    """
    device = check_device(device)
    state = ckpt.read_checkpoint(checkpoint) if checkpoint is not None else None
    cfg = ckpt.config_for_checkpoint(config, state, str(checkpoint) if checkpoint is not None else None, overrides)
    model = build_model(cfg)
    if state is not None:
        ckpt.load_into(model, state, str(checkpoint), config=cfg, allow_config_change=allow_config_change)
        model.set_iteration(ckpt.completed_iterations(state))
    return move_to(model, device).eval()

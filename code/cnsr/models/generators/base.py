"""Common interface of the generators: query G-buffer + pose + representation -> shading."""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses as L


def broadcast_spatial(t: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B, C, 1, 1] -> [B, C, h, w] as a view; a spatial [B, C, h', w'] is resized (nearest)."""
    if t.shape[-2:] == (h, w):
        return t
    if t.shape[-2:] == (1, 1):
        return t.expand(-1, -1, h, w)
    return F.interpolate(t, size=(h, w), mode="nearest")


class Generator(nn.Module):
    """A generator maps the query buffers ``x`` [B, x_dim, H, W], the query pose ``v``
    [B, 16, 1, 1] and the scene representation ``r`` [B, r_dim, h, w] to output passes.

    ``train_forward`` returns the linear prediction and a dict of named scalar losses;
    ``sample`` returns the linear prediction only (test time). A generator a config can name
    registers with its settings (``@register_generator(name, settings=...)``, see
    :mod:`cnsr.registry`) and builds itself in ``from_config(settings, io, previous)``.
    """

    def train_forward(self, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, r: torch.Tensor,
                      iteration: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        raise NotImplementedError

    def sample(self, x: torch.Tensor, v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ImageGenerator(Generator):
    """A deterministic generator trained with image losses (``settings.loss``); with a log loss it
    predicts ``log1p`` values and returns ``exp(Y) - 1``."""

    def __init__(self, losses: Sequence[str], end_relu: bool = True):
        super().__init__()
        self.losses = list(losses)
        self.log_space = L.predicts_log(self.losses)
        self.end_relu = end_relu

    def predict(self, x: torch.Tensor, v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Raw network output Y [B, out_dim, H, W] (log1p space for log losses)."""
        raise NotImplementedError

    def to_linear(self, Y: torch.Tensor) -> torch.Tensor:
        return torch.expm1(Y) if self.log_space else Y

    def train_forward(self, x, y, v, r, iteration):
        Y = self.predict(x, v, r)
        return self.to_linear(Y), L.image_losses(self.losses, Y, y, iteration)

    def sample(self, x, v, r):
        return self.to_linear(self.predict(x, v, r))

"""U-Net generator: an encoder-decoder with skip connections that sees r and v at every level.

Down path: blocks of [3x3 conv, relu, 3x3 conv, relu] with 2x2 max pooling between them
(the reference: 128, 256, 512, 512, 512, 512, 512 channels, 64 px -> 1 px); every down block's
input is cat(X, r, v) with r and v tiled to its resolution. Up path: [ConvTranspose k4 s2 p1,
cat(skip), block] back to full resolution, then a 1x1 conv (and optionally a ReLU).

Module names follow the reference checkpoints: ``down_block1..L``, ``upscaleN``/``up_blockN``,
``final``. The reference numbers the up path, deepest first, 4, 5, 6, 1, 2, 3 (for L = 7).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import loss_setting, register_generator
from ...settings import SettingError, Settings, setting
from .base import ImageGenerator, broadcast_spatial

#: Channels of the down blocks of the paper's U-net (64 px -> 1 px).
REFERENCE_CHANNELS = (128, 256, 512, 512, 512, 512, 512)


@dataclass
class UnetSettings(Settings):
    """``settings`` of a ``Unet`` generator (the reference's keys and defaults; ``channels`` is ours)."""
    loss: List[str] = loss_setting(["l1", "ssim"])
    end_relu: bool = setting(True, "ReLU after the final 1x1 conv (non-negative output)")
    channels: List[int] = setting(list(REFERENCE_CHANNELS), "channels of the down blocks, one per level; "
                                  "the reference's are fixed to these 7 levels (64 px -> 1 px)", min=1, ours=True)

    def check(self, spec, position):
        levels = len(self.channels)
        size = getattr(spec, "render_size", None)
        if levels < 2 or (size is not None and size % (1 << (levels - 1))):
            raise SettingError("channels", f"{levels} U-net levels need a render_size divisible by "
                                           f"{1 << max(levels - 1, 1)} (and at least 2 levels), render_size is {size}")


class UnetBlock(nn.Module):
    """[3x3 conv, relu, 3x3 conv, relu]; parameters ``model.0`` and ``model.2``."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(in_dim, out_dim, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(out_dim, out_dim, 3, padding=1), nn.ReLU())

    def forward(self, x):
        return self.model(x)


def up_path_names(levels: int) -> List[int]:
    """Indices of the up-path modules, deepest first (the reference's 4, 5, 6, 1, 2, 3 for 7 levels)."""
    n = levels - 1
    if n <= 3:
        return list(range(4 - n, 4))
    return list(range(4, n + 1)) + [1, 2, 3]


@register_generator("Unet", settings=UnetSettings)
class UnetGenerator(ImageGenerator):
    """U-Net: x [B, x_dim, H, W], v [B, v_dim, 1, 1], r [B, r_dim, h, w] -> [B, out_dim, H, W].

    H must be divisible by 2^(levels - 1) (64 for the reference's 7 levels).
    """

    def __init__(self, x_dim: int, r_dim: int, out_dim: int, v_dim: int = 16,
                 channels: Sequence[int] = REFERENCE_CHANNELS, end_relu: bool = UnetSettings.end_relu,
                 losses: Sequence[str] = tuple(UnetSettings().loss)):
        super().__init__(losses, end_relu)
        self.channels = list(channels)
        if len(self.channels) < 2:
            raise ValueError("a U-net needs at least two levels")
        cond = r_dim + v_dim
        prev = x_dim
        for i, c in enumerate(self.channels):
            setattr(self, f"down_block{i + 1}", UnetBlock(prev + cond, c))
            prev = c
        self.up_names = up_path_names(len(self.channels))
        for j, name in zip(range(len(self.channels) - 2, -1, -1), self.up_names):
            c = self.channels[j]
            setattr(self, f"upscale{name}", nn.ConvTranspose2d(self.channels[j + 1], c, 4, stride=2, padding=1))
            setattr(self, f"up_block{name}", UnetBlock(2 * c, c))
        self.final = nn.Conv2d(self.channels[0], out_dim, 1)

    @classmethod
    def from_config(cls, s: UnetSettings, io, previous) -> "UnetGenerator":
        return cls(io.x_dim, io.r_dim, io.out_dim, io.v_dim, channels=s.channels, end_relu=s.end_relu,
                   losses=s.loss)

    def predict(self, x, v, r):
        h, w = x.shape[-2:]
        levels = len(self.channels)
        if h % (1 << (levels - 1)) or w % (1 << (levels - 1)):
            raise ValueError(f"U-net with {levels} levels needs images divisible by {1 << (levels - 1)}, got {h}x{w}")
        skips = []
        X = x
        for i in range(levels):
            if i > 0:
                X = F.max_pool2d(X, 2)
            hh, ww = X.shape[-2:]
            X = torch.cat([X, broadcast_spatial(r, hh, ww), broadcast_spatial(v, hh, ww)], dim=1)
            X = getattr(self, f"down_block{i + 1}")(X)
            skips.append(X)
        for j, name in zip(range(levels - 2, -1, -1), self.up_names):
            X = getattr(self, f"upscale{name}")(X)
            X = getattr(self, f"up_block{name}")(torch.cat([X, skips[j]], dim=1))
        X = self.final(X)
        return F.relu(X) if self.end_relu else X

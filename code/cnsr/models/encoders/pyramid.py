"""The pyramid encoder: strided 2x2 convolutions down to 16 x 16, then one 8x8 convolution.

Parameter names match the reference checkpoints (``in_conv``, ``conv_list.N``, ``out_conv``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_encoder
from ...settings import SettingError, Settings, setting
from .base import Encoder, tile_pose

#: the last layer is an 8x8 convolution after a stride-2 one
MIN_RENDER_SIZE = 16


@dataclass
class PyramidSettings(Settings):
    """``settings`` of a ``Pyramid`` encoder (ours: the reference fixed the width at 32)."""
    filters: int = setting(32, "channels of the first convolution, doubled by every further stride-2 one",
                           min=1, ours=True)

    def check(self, spec, position):
        if spec is not None and spec.render_size < MIN_RENDER_SIZE:
            raise SettingError("render_size", f"a Pyramid encoder needs at least {MIN_RENDER_SIZE} (its last "
                                              f"layer is an 8x8 convolution after a stride-2 one), got "
                                              f"{spec.render_size}", of_entry=True)


@register_encoder("Pyramid", settings=PyramidSettings)
class PyramidEncoder(Encoder):
    """Pyramid encoder: cat(images, pose tiled to w) -> strided 2x2 convs -> 8x8 conv -> [r, 1, 1]."""

    def __init__(self, x_dim: int, r_dim: int, v_dim: int = 16, render_size: int = 64,
                 filters: int = PyramidSettings.filters, **kw):
        super().__init__(x_dim, r_dim, v_dim, render_size, **kw)
        f = filters
        self.in_conv = nn.Conv2d(x_dim + v_dim, f, 2, stride=2)
        self.conv_list = nn.ModuleList()
        d = render_size
        while d > MIN_RENDER_SIZE:
            self.conv_list.append(nn.Conv2d(f, 2 * f, 2, stride=2))
            f, d = 2 * f, d // 2
        self.out_conv = nn.Conv2d(f, r_dim, 8, stride=8)

    def encode_views(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.in_conv(torch.cat([x, tile_pose(v, x.shape[-1])], dim=1)))
        for conv in self.conv_list:
            x = F.relu(conv(x))
        return F.relu(self.out_conv(x))

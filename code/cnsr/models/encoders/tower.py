"""The GQN "tower" encoder and the "pool" encoder (the tower followed by average pooling).

Parameter names match the reference checkpoints (``conv1`` ... ``conv6``, ``skip_conv1/2``).
Neither has settings of its own: the keys of a ``representations[i]`` entry are all they read.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_encoder
from .base import Encoder, tile_pose


@register_encoder("Tower", default=True)   # the reference's default type
class TowerEncoder(Encoder):
    """GQN "tower" encoder: [x_dim, w, w] + pose -> [r, w/4, w/4]."""

    pool = False

    def __init__(self, x_dim: int, r_dim: int, v_dim: int = 16, render_size: int = 64, **kw):
        super().__init__(x_dim, r_dim, v_dim, render_size, **kw)
        r, h = r_dim, r_dim // 2
        self.conv1 = nn.Conv2d(x_dim, r, 2, stride=2)
        self.conv2 = nn.Conv2d(r, h, 3, padding=1)
        self.conv3 = nn.Conv2d(h, r, 2, stride=2)
        self.skip_conv1 = nn.Conv2d(r, r, 2, stride=2)
        self.skip_conv2 = nn.Conv2d(r + v_dim, r, 3, padding=1)
        self.conv4 = nn.Conv2d(r + v_dim, h, 3, padding=1)
        self.conv5 = nn.Conv2d(h, r, 3, padding=1)
        self.conv6 = nn.Conv2d(r, r, 1)

    def encode_views(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        skip_in = F.relu(self.conv1(x))
        skip_out = F.relu(self.skip_conv1(skip_in))
        x = F.relu(self.conv2(skip_in))
        x = F.relu(self.conv3(x)) + skip_out
        skip_in = torch.cat([x, tile_pose(v, x.shape[-1])], dim=1)
        skip_out = F.relu(self.skip_conv2(skip_in))
        x = F.relu(self.conv4(skip_in))
        x = F.relu(self.conv5(x)) + skip_out
        x = F.relu(self.conv6(x))
        if self.pool:
            x = x.mean(dim=(2, 3), keepdim=True)
        return x


@register_encoder("Pool")
class PoolEncoder(TowerEncoder):
    """GQN "pool" encoder: the tower followed by average pooling -> [r, 1, 1]."""

    pool = True

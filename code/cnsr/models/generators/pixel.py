"""The pixel generator ("PixelCNN" in configs): a per-pixel MLP of 1x1 convolutions.

Layer inputs (reference order, which the checkpoints' weight columns follow):
``input``: cat(x, v, r); each of ``layers.N``: cat(h, x?, r?, v?) with x, r, v included when
propagate_buffers / propagate_representation / propagate_viewpoint; ``final``: h.

A 1x1 convolution is a matrix product per pixel, so the network runs pixel-major
([B, H, W, C] and ``F.linear``): one GEMM per layer. A pose or a pooled representation is
the same for every pixel of an image, so its share of each layer, ``W_r r + W_v v``, is
computed once per image and added as a bias instead of being tiled over H x W and
concatenated (for a 256-d representation that is a third of the work of every layer).
The parameters stay ``nn.Conv2d`` so that checkpoint keys and shapes match the reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import loss_setting, register_generator
from ...settings import Settings, setting
from .base import ImageGenerator


@dataclass
class PixelSettings(Settings):
    """``settings`` of a ``PixelCNN`` generator (the reference's keys and defaults)."""
    loss: List[str] = loss_setting(["logl1", "logssim"])
    end_relu: bool = setting(True, "ReLU after the final layer (non-negative output)")
    layers: int = setting(8, "hidden 1x1-conv layers after the input layer", min=0)
    hidden_units: int = setting(512, "channels of every hidden layer", min=1)
    propagate_buffers: bool = setting(False, "every hidden layer also reads the query buffers x")
    propagate_representation: bool = setting(True, "every hidden layer also reads the representation r")
    propagate_viewpoint: bool = setting(True, "every hidden layer also reads the query pose v")
    fourier_features: int = setting(0, "(ours) octaves of sin/cos features of the query buffers for the input "
                                       "layer (0: the raw buffers, as the paper's)", min=0)


_DEFAULT = PixelSettings()


def fourier(x: torch.Tensor, octaves: int) -> torch.Tensor:
    """``cat(x, sin(2^k pi x), cos(2^k pi x) for k < octaves)`` along the last dimension (channels
    of a pixel-major tensor): the query buffers as features an MLP can fit sharp changes of (shadow
    edges, one surface id next to another) with; ``x`` itself when ``octaves`` is 0."""
    if octaves <= 0:
        return x
    scaled = x.unsqueeze(-1) * (math.pi * 2.0 ** torch.arange(octaves, dtype=x.dtype, device=x.device))
    scaled = scaled.flatten(-2)
    return torch.cat([x, torch.sin(scaled), torch.cos(scaled)], dim=-1)


@register_generator("PixelCNN", settings=PixelSettings, per_pixel=True)
class PixelGenerator(ImageGenerator):
    """Per-pixel MLP: [x_dim + v + r] -> hidden x (1 + layers) -> out_dim.

    Shapes: x [B, x_dim, H, W], v [B, v_dim, 1, 1], r [B, r_dim, 1, 1] (or spatial
    [B, r_dim, h, w], resized nearest to H x W) -> [B, out_dim, H, W].
    """

    def __init__(self, x_dim: int, r_dim: int, out_dim: int, v_dim: int = 16, layers: int = _DEFAULT.layers,
                 hidden_units: int = _DEFAULT.hidden_units, propagate_buffers: bool = _DEFAULT.propagate_buffers,
                 propagate_representation: bool = _DEFAULT.propagate_representation,
                 propagate_viewpoint: bool = _DEFAULT.propagate_viewpoint, end_relu: bool = _DEFAULT.end_relu,
                 losses: Sequence[str] = tuple(_DEFAULT.loss), fourier_features: int = _DEFAULT.fourier_features):
        super().__init__(losses, end_relu)
        self.x_dim, self.r_dim, self.v_dim, self.out_dim = x_dim, r_dim, v_dim, out_dim
        self.propagate_buffers = propagate_buffers
        self.propagate_representation = propagate_representation
        self.propagate_viewpoint = propagate_viewpoint
        prop = (x_dim if propagate_buffers else 0) + (r_dim if propagate_representation else 0) \
            + (v_dim if propagate_viewpoint else 0)
        self.fourier_features = int(fourier_features)
        self.input = nn.Conv2d(x_dim * (1 + 2 * self.fourier_features) + v_dim + r_dim, hidden_units, 1)
        self.layers = nn.ModuleList(nn.Conv2d(hidden_units + prop, hidden_units, 1) for _ in range(layers))
        self.final = nn.Conv2d(hidden_units, out_dim, 1)

    @classmethod
    def from_config(cls, s: PixelSettings, io, previous) -> "PixelGenerator":
        return cls(io.x_dim, io.r_dim, io.out_dim, io.v_dim, layers=s.layers, hidden_units=s.hidden_units,
                   propagate_buffers=s.propagate_buffers, propagate_representation=s.propagate_representation,
                   propagate_viewpoint=s.propagate_viewpoint, end_relu=s.end_relu, losses=s.loss,
                   fourier_features=s.fourier_features)

    @staticmethod
    def _layer(conv: nn.Conv2d, segments: List[Tuple[str, torch.Tensor]], size: Tuple[int, int, int]
               ) -> torch.Tensor:
        """``conv`` applied to the channel concatenation of ``segments`` without building it.

        Each segment is ("pixel", [B, H, W, c]) or ("image", [B, c]) in the weight's column
        order; ``size`` = (B, H, W). Returns [B, H, W, out].
        """
        weight = conv.weight.flatten(1)
        out, const, c = None, conv.bias, 0
        for kind, t in segments:
            k = t.shape[-1]
            if k == 0:
                continue
            y = F.linear(t, weight[:, c:c + k])
            c += k
            if kind == "pixel":
                out = y if out is None else out + y
            else:
                const = const + y
        if c != weight.shape[1]:
            raise ValueError(f"inputs have {c} channels, the layer expects {weight.shape[1]}")
        if const.dim() == 2:
            const = const[:, None, None, :]
        if out is None:  # no per-pixel input (no query buffers): a constant image
            return const.expand(*size, -1)
        return out + const

    def predict(self, x, v, r):
        b, _, h, w = x.shape
        size = (b, h, w)
        xp = x.permute(0, 2, 3, 1)
        vi = v.reshape(b, self.v_dim)
        if r.shape[-2:] == (1, 1):
            rseg = ("image", r.reshape(b, self.r_dim))
        else:
            rseg = ("pixel", F.interpolate(r, size=(h, w), mode="nearest").permute(0, 2, 3, 1))
        hidden = F.leaky_relu(self._layer(self.input, [("pixel", fourier(xp, self.fourier_features)), ("image", vi),
                                                        rseg], size))
        for layer in self.layers:
            segs = [("pixel", hidden)]
            if self.propagate_buffers:
                segs.append(("pixel", xp))
            if self.propagate_representation:
                segs.append(rseg)
            if self.propagate_viewpoint:
                segs.append(("image", vi))
            hidden = F.leaky_relu(self._layer(layer, segs, size))
        out = F.linear(hidden, self.final.weight.flatten(1), self.final.bias)
        if self.end_relu:
            out = F.relu(out)
        return out.permute(0, 3, 1, 2)

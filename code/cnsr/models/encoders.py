"""Encoders: observations (G-buffer passes + camera pose) -> a partitioned scene representation.

``PoolEncoder`` is the GQN "pool" network, ``TowerEncoder`` the same without the final
average pooling (a spatial representation at w/4), ``PyramidEncoder`` a strided-conv pyramid.
Each encodes every observation, then aggregates the N views of a scene (mean or max), or,
when training on a batch that varies a single factor, partitions the representation
(:mod:`cnsr.models.partition`). Parameter names match the reference checkpoints
(``deltas``, ``conv1`` ... ``conv6``, ``skip_conv1/2``; ``in_conv``, ``conv_list.N``, ``out_conv``).
Each registers under its config name (``@register_encoder("Tower")``, see :mod:`.registry`).
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import partition as P
from .registry import register_encoder
from .sharpness import DEFAULT_SHARPNESS


class Encoder(nn.Module):
    """Base class: per-view encoding (subclasses' ``encode_views``), aggregation and partitioning.

    Args:
        x_dim: channels of the concatenated observation passes.
        r_dim: representation dimensionality ``r``.
        v_dim: pose dimensionality (16).
        render_size: observation image size ``w``.
        aggregation: "mean" or "max" over the views of a scene (when not partitioning).
        latent_separation / adaptive_separation / empty_partition / partition_loss: the
            top-level config keys of the same names.
        sharpness: dict with any of start, end, sharpen, sharpening, final_sharpening (the k
            schedule; the others keep :data:`~cnsr.models.sharpness.DEFAULT_SHARPNESS`'s values).
        gradient_reg: weight ``g`` of the gradient regularization (0 = off).
    """

    def __init__(self, x_dim: int, r_dim: int, v_dim: int = 16, render_size: int = 64,
                 aggregation: str = "mean", latent_separation: bool = False,
                 adaptive_separation: bool = True, empty_partition: bool = False,
                 partition_loss: float = 0.01, sharpness: Dict[str, float] = None,
                 gradient_reg: float = 0.0):
        super().__init__()
        self.x_dim, self.r_dim, self.v_dim, self.w = x_dim, r_dim, v_dim, render_size
        self.aggregation = aggregation.lower()
        self.latent_separation = latent_separation
        self.adaptive_separation = adaptive_separation
        self.empty_partition = empty_partition
        self.partition_loss_weight = partition_loss
        self.sharpness_schedule = dataclasses.replace(DEFAULT_SHARPNESS, **(sharpness or {}))
        self.gradient_reg = gradient_reg
        # The reference always carries the deltas (3, or 4 with the null partition), also when
        # partitioning is off, so checkpoints and parameter counts include them.
        self.deltas = nn.Parameter(torch.ones(4 if empty_partition else 3))

    # ------------------------------------------------------------------ encoding
    def encode_views(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """[M, x_dim, w, w] images and [M, v_dim, 1, 1] poses -> [M, r, h, h]."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        """Encode each view: images [B, N, x_dim, w, w], poses [B, N, v_dim, 1, 1] -> [B, N, r, h, h]."""
        b, n = images.shape[:2]
        rk = self.encode_views(images.reshape(b * n, *images.shape[2:]),
                               poses.reshape(b * n, *poses.shape[2:]))
        return rk.reshape(b, n, *rk.shape[1:])

    # ------------------------------------------------------------------ partitioning
    @property
    def adaptive(self) -> bool:
        return self.latent_separation and self.adaptive_separation

    def sharpness(self, iteration: int) -> float:
        """Sharpness k of the partition masks at ``iteration``."""
        return self.sharpness_schedule(iteration)

    def fractions(self) -> torch.Tensor:
        """Partition fractions ``softmax(deltas)`` (lighting, geometry, material[, empty])."""
        return P.partition_fractions(self.deltas)

    def factor_mask(self, factor: int, iteration: int, dtype=torch.float32) -> torch.Tensor:
        """Mask [r] that is ~1 outside the partition of ``factor`` (the shared dimensions)."""
        if self.adaptive:
            bounds = P.partition_boundaries(self.fractions()).to(dtype)
            return P.factor_mask(self.r_dim, bounds, factor, self.sharpness(iteration))
        return P.static_factor_mask(self.r_dim, factor, dtype, self.deltas.device)

    def gradient_mask(self, factor: int, iteration: int, dtype=torch.float32) -> torch.Tensor:
        """Mask [r] used by gradient regularization (static partitions: bounds 0.33/0.66/1, k=1e5)."""
        if self.adaptive:
            return self.factor_mask(factor, iteration, dtype)
        bounds = torch.tensor(P.STATIC_BOUNDARIES, dtype=dtype, device=self.deltas.device)
        return P.factor_mask(self.r_dim, bounds, factor, P.STATIC_SHARPNESS)

    def stats(self) -> Dict[str, float]:
        """Partition fractions and active size ``(1 - p_null) * r`` (plain floats)."""
        with torch.no_grad():
            p = self.fractions().tolist()
        out = {f"{name}_percentage": p[i] for i, name in enumerate(P.PARTITIONS[:len(p)])}
        out["active_size"] = (1 - p[3]) * self.r_dim if len(p) > 3 else float(self.r_dim)
        return out

    def aggregate(self, rk: torch.Tensor, factor: int = -1, iteration: int = 0
                  ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Aggregate the views [B, N, r, h, w] of each scene into [B, r, h, w].

        ``factor`` is the factor the batch varies (0, 1, 2) or -1 (test; plain aggregation).
        Returns ``(r, logs, loss)``: logs are detached tensors (fractions, active size), loss
        the null-partition loss (0 without a null partition).
        """
        logs: Dict[str, torch.Tensor] = {}
        loss = rk.new_zeros(())
        partitioned = self.latent_separation and factor != -1
        if partitioned:
            r = P.aggregate_factor(rk, self.factor_mask(factor, iteration, rk.dtype))
        elif self.aggregation == "max":
            r = rk.max(dim=1).values
        else:
            r = rk.mean(dim=1)

        if self.adaptive:
            p = self.fractions()
            for i, name in enumerate(P.PARTITIONS[:p.shape[0]]):
                logs[f"{name}_percentage"] = p[i].detach()
            if self.empty_partition:
                k = self.sharpness(iteration)
                bounds = P.partition_boundaries(p).to(rk.dtype)
                r = r * P.null_partition_mask(self.r_dim, bounds, k).view(1, -1, 1, 1)
                logs["active_size"] = ((1 - p[3]) * self.r_dim).detach()
                if partitioned:
                    loss = P.null_partition_loss(p, self.r_dim, self.partition_loss_weight)
            else:
                logs["active_size"] = torch.tensor(float(self.r_dim))

        if partitioned and self.gradient_reg != 0 and torch.is_grad_enabled():
            P.register_gradient_regularization(r, self.gradient_mask(factor, iteration, r.dtype),
                                               self.gradient_reg)
        return r, logs, loss


def _tile(v: torch.Tensor, size: int) -> torch.Tensor:
    """Poses [M, v, 1, 1] -> [M, v, size, size] (a view; materialised only by a following cat)."""
    return v.expand(-1, -1, size, size)


@register_encoder("Tower")
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
        skip_in = torch.cat([x, _tile(v, x.shape[-1])], dim=1)
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


@register_encoder("Pyramid")
class PyramidEncoder(Encoder):
    """Pyramid encoder: cat(images, pose tiled to w) -> strided 2x2 convs -> 8x8 conv -> [r, 1, 1]."""

    filters = 32

    def __init__(self, x_dim: int, r_dim: int, v_dim: int = 16, render_size: int = 64, **kw):
        super().__init__(x_dim, r_dim, v_dim, render_size, **kw)
        f = self.filters
        self.in_conv = nn.Conv2d(x_dim + v_dim, f, 2, stride=2)
        self.conv_list = nn.ModuleList()
        d = render_size
        while d > 16:
            self.conv_list.append(nn.Conv2d(f, 2 * f, 2, stride=2))
            f, d = 2 * f, d // 2
        self.out_conv = nn.Conv2d(f, r_dim, 8, stride=8)

    def encode_views(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.in_conv(torch.cat([x, _tile(v, x.shape[-1])], dim=1)))
        for conv in self.conv_list:
            x = F.relu(conv(x))
        return F.relu(self.out_conv(x))


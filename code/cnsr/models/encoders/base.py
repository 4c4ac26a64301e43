"""The encoders' base class: per-view encoding (each subclass), aggregation of the views and
partitioning of the representation (:mod:`cnsr.models.partition`).

An encoder maps observations (G-buffer passes + camera pose) to a scene representation. It
encodes every observation, then aggregates the N views of a scene (mean or max), or, when
training on a batch that varies a single factor, partitions the representation. The options
every encoder shares are the keys of a ``representations[i]`` entry and the top-level
partitioning keys (:meth:`Encoder.__init__`); what one encoder type adds is its ``settings``
dataclass, beside its class.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn

from .. import partition as P
from ...schedules import DEFAULT_SHARPNESS


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
            schedule; the others keep :data:`~cnsr.schedules.DEFAULT_SHARPNESS`'s values).
        gradient_reg: weight ``g`` of the gradient regularization (0 = off).
        invariance_reg: weight of the invariance penalty (ours; 0 = off), see
            :func:`~cnsr.models.partition.invariance_penalty`.
        composite_training: probability (ours; 0 = off) that a one-factor training batch is
            aggregated as composites, see :func:`~cnsr.models.partition.aggregate_composite`.
    """

    def __init__(self, x_dim: int, r_dim: int, v_dim: int = 16, render_size: int = 64,
                 aggregation: str = "mean", latent_separation: bool = False,
                 adaptive_separation: bool = True, empty_partition: bool = False,
                 partition_loss: float = 0.01, sharpness: Dict[str, float] = None,
                 gradient_reg: float = 0.0, invariance_reg: float = 0.0,
                 composite_training: float = 0.0):
        super().__init__()
        self.x_dim, self.r_dim, self.v_dim, self.w = x_dim, r_dim, v_dim, render_size
        self.aggregation = aggregation.lower()
        self.latent_separation = latent_separation
        self.adaptive_separation = adaptive_separation
        self.empty_partition = empty_partition
        self.partition_loss_weight = partition_loss
        self.sharpness_schedule = dataclasses.replace(DEFAULT_SHARPNESS, **(sharpness or {}))
        self.gradient_reg = gradient_reg
        self.invariance_reg = invariance_reg
        self.composite_training = composite_training
        # The reference always carries the deltas (3, or 4 with the null partition), also when
        # partitioning is off, so checkpoints and parameter counts include them.
        self.deltas = nn.Parameter(torch.ones(4 if empty_partition else 3))

    @classmethod
    def from_config(cls, settings, io, **options: Any) -> "Encoder":
        """Build from a registry entry: ``settings`` (the type's Settings dataclass, its fields
        passed as keyword arguments), ``io`` (:class:`~cnsr.registry.EncoderIO`) and the shared
        ``options`` (the keyword arguments of :meth:`__init__`)."""
        return cls(io.x_dim, io.r_dim, io.v_dim, io.render_size, **options, **settings.to_dict())

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
    def _composite_shift(self, batch: int) -> Optional[int]:
        """The batch shift of :func:`~cnsr.models.partition.aggregate_composite` for this training
        batch, 0 for the paper's aggregation, or None when composite training does not apply
        (off, or autograd disabled). Drawn from torch's global generator; a batch of one scene
        gets 0."""
        if self.composite_training == 0 or not torch.is_grad_enabled():
            return None
        if batch < 2 or torch.rand(()).item() >= self.composite_training:
            return 0
        return int(torch.randint(1, batch, ()).item())

    @property
    def adaptive(self) -> bool:
        return self.latent_separation and self.adaptive_separation

    def sharpness(self, iteration: int) -> float:
        """Sharpness k of the partition masks at ``iteration``."""
        return self.sharpness_schedule(iteration)

    def fractions(self) -> torch.Tensor:
        """Partition fractions ``softmax(deltas)`` (lighting, geometry, material[, null])."""
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
        Returns ``(r, logs, loss)``: logs are detached tensors (fractions, active size, the
        invariance penalty's share when it is on), loss the null-partition loss (0 without a
        null partition) plus the weighted invariance penalty.
        With ``composite_training`` on, a training batch (autograd enabled) is aggregated as
        composites with that probability (logged as ``composite``, 1 or 0).
        """
        logs: Dict[str, torch.Tensor] = {}
        loss = rk.new_zeros(())
        partitioned = self.latent_separation and factor != -1
        if partitioned:
            mask = self.factor_mask(factor, iteration, rk.dtype)
            shift = self._composite_shift(rk.shape[0])
            r = P.aggregate_composite(rk, mask, shift) if shift else P.aggregate_factor(rk, mask)
            if shift is not None:
                logs["composite"] = torch.tensor(float(shift != 0))
            if self.invariance_reg != 0 and torch.is_grad_enabled():
                share = P.invariance_penalty(rk, mask)
                logs["invariance"] = share.detach()
                loss = loss + self.invariance_reg * share
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
                    loss = loss + P.null_partition_loss(p, self.r_dim, self.partition_loss_weight)
            else:
                logs["active_size"] = torch.tensor(float(self.r_dim))

        if partitioned and self.gradient_reg != 0 and torch.is_grad_enabled():
            P.register_gradient_regularization(r, self.gradient_mask(factor, iteration, r.dtype),
                                               self.gradient_reg)
        return r, logs, loss


def tile_pose(v: torch.Tensor, size: int) -> torch.Tensor:
    """Poses [M, v, 1, 1] -> [M, v, size, size] (a view; materialised only by a following cat)."""
    return v.expand(-1, -1, size, size)

"""Partitioning of a scene representation into lighting | geometry | material [| null].

The representation's ``r`` dimensions are split into contiguous partitions. With adaptive
partitioning the split is learned: ``p = softmax(deltas)`` are the partition fractions and
``s = cumsum(p)`` their boundaries; dimension ``i`` sits at ``t_i = (i + 1) / r``. A smooth
"basket" mask is ~0 inside ``[a, b]`` and ~1 outside; it is the product of three copies
shifted by -1, 0 and +1 so that it stays ~1 away from the basket for t in [0, 1]::

    m(t; a, b, k) = prod_{o in {-1, 0, 1}} [(1 - sigmoid(k (t - (a + o)))) + sigmoid(k (t - (b + o)))]

Training on a batch where only factor ``f`` varies (0 lighting, 1 geometry, 2 material),
dimensions outside f's partition are replaced by the batch mean so that only f's partition
can carry scene-specific information. Every function here is pure and works on tensors.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch

from ..schedules import DEFAULT_SHARPNESS, SharpnessSchedule

#: Partition names in representation order; the null partition only exists with the config's
#: ``empty_partition`` (the reference's key; its logs called the partition "empty").
PARTITIONS = ("lighting", "geometry", "material", "null")
#: The partitions of the three factors (0 lighting, 1 geometry, 2 material).
FACTOR_PARTITIONS = PARTITIONS[:3]

#: Boundaries and sharpness the reference uses for gradient regularization with static partitions.
STATIC_BOUNDARIES = (0.33, 0.66, 1.0)
STATIC_SHARPNESS = 1e5


def partition_fractions(deltas: torch.Tensor) -> torch.Tensor:
    """Fractions of the representation given to each partition: ``softmax(deltas)``, shape [P]."""
    return torch.softmax(deltas, dim=0)


def partition_boundaries(fractions: torch.Tensor) -> torch.Tensor:
    """Right boundary of each partition in [0, 1]: ``cumsum(fractions)``, shape [P]."""
    return torch.cumsum(fractions, dim=0)


def dimension_positions(r_dim: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Position ``t_i = (i + 1) / r`` of each representation dimension, shape [r]."""
    return torch.arange(1, r_dim + 1, dtype=dtype, device=device) / r_dim


def basket_mask(t: torch.Tensor, a, b, k: float) -> torch.Tensor:
    """Smooth mask that is ~0 for ``a < t < b`` and ~1 elsewhere (``k`` = sharpness); shape of ``t``."""
    mask = None
    for o in (-1.0, 0.0, 1.0):
        term = (1 - torch.sigmoid(k * (t - (a + o)))) + torch.sigmoid(k * (t - (b + o)))
        mask = term if mask is None else mask * term
    return mask


def sharpness(iteration: int, start: float = DEFAULT_SHARPNESS.start, end: float = DEFAULT_SHARPNESS.end,
              sharpen: float = DEFAULT_SHARPNESS.sharpen, sharpening: float = DEFAULT_SHARPNESS.sharpening,
              final_sharpening: float = DEFAULT_SHARPNESS.final_sharpening) -> float:
    """Sharpness ``k`` of the partition masks at ``iteration`` (see :class:`SharpnessSchedule`).

    Ramps linearly from ``start`` to ``end`` over ``sharpening`` iterations, then from ``end``
    to ``sharpen`` over ``final_sharpening`` iterations, and stays there.
    """
    return SharpnessSchedule(start, end, sharpen, sharpening, final_sharpening)(iteration)


def factor_bounds(boundaries: Sequence, factor: int) -> Tuple:
    """Interval ``[a, b]`` of factor ``factor``'s partition given the boundaries ``s``."""
    if factor == 0:
        return 0.0, boundaries[0]
    if factor == 1:
        return boundaries[0], boundaries[1]
    if factor == 2:
        return boundaries[1], boundaries[2]
    raise ValueError(f"factor: expected 0 (lighting), 1 (geometry) or 2 (material), got {factor}")


def factor_mask(r_dim: int, boundaries: torch.Tensor, factor: int, k: float) -> torch.Tensor:
    """Adaptive mask for a batch varying ``factor``: ~0 inside its partition, ~1 outside; shape [r]."""
    t = dimension_positions(r_dim, boundaries.dtype, boundaries.device)
    a, b = factor_bounds(boundaries, factor)
    return basket_mask(t, a, b, k)


def static_factor_mask(r_dim: int, factor: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Hard mask for static partitioning (thirds split at ``r//3`` and ``2r//3``); shape [r]."""
    third = r_dim // 3
    if factor not in (0, 1, 2):
        raise ValueError(f"factor: expected 0 (lighting), 1 (geometry) or 2 (material), got {factor}")
    lo, hi = ((0, third), (third, 2 * third), (2 * third, r_dim))[factor]
    mask = torch.ones(r_dim, dtype=dtype, device=device)
    mask[lo:hi] = 0
    return mask


def aggregate_factor(rk: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Aggregate per-view representations for a batch that varies one factor.

    ``rk``: [B, N, r, h, w] per-view representations; ``mask``: [r] (0 = scene-specific).
    Returns ``(1 - mask) * mean_views(rk) + mask * mean_batch_and_views(rk)``, shape [B, r, h, w].
    """
    per_scene = rk.mean(dim=1)
    shared = rk.mean(dim=(0, 1), keepdim=False).unsqueeze(0)
    m = mask.view(1, -1, 1, 1).to(rk.dtype)
    return (1 - m) * per_scene + m * shared


def aggregate_composite(rk: torch.Tensor, mask: torch.Tensor, shift: int) -> torch.Tensor:
    """Aggregate a one-factor batch as composites (ours; the ``composite_training`` key).

    Scene ``b`` keeps its own varying partition (``1 - mask``) and takes the shared dimensions
    (``mask``) from scene ``(b - shift) mod B`` of the same batch, as the compositing benchmark
    builds ``r(S)`` with a partition swapped in from ``S_f``. The scenes of the batch share every
    factor but the varying one, so a representation that keeps each factor in its partition
    gives the same composite as :func:`aggregate_factor`; whatever the shared partitions say
    of the varying factor now describes another scene, and the generator is trained to ignore
    it. ``rk``: [B, N, r, h, w]; ``mask``: [r]; ``shift`` in [1, B - 1] (0 or B < 2: each scene
    its own). Returns [B, r, h, w].
    """
    per_scene = rk.mean(dim=1)
    other = torch.roll(per_scene, shifts=int(shift), dims=0)
    m = mask.view(1, -1, 1, 1).to(rk.dtype)
    return (1 - m) * per_scene + m * other


def null_partition_mask(r_dim: int, boundaries: torch.Tensor, k: float) -> torch.Tensor:
    """Mask zeroing the null partition ``[s2, 1]``: ``clamp(m(t; s2, 1, k), 0, 1)``, shape [r]."""
    t = dimension_positions(r_dim, boundaries.dtype, boundaries.device)
    return basket_mask(t, boundaries[2], 1.0, k).clamp(0, 1)


def null_partition_loss(fractions: torch.Tensor, r_dim: int, beta: float) -> torch.Tensor:
    """Loss pushing dimensions into the null partition: ``beta * r / 256 * (1 - p_null)`` (scalar)."""
    return beta * r_dim / 256 * (1 - fractions[3])


def regularize_gradient(grad: torch.Tensor, mask: torch.Tensor, weight: float) -> torch.Tensor:
    """Gradient regularization after Kulkarni et al. 2015 for a batch varying one factor.

    ``grad``: [B, r, h, w] gradient of the aggregated representation; ``mask``: [r], 1 outside
    the varying partition. Returns ``g*mask*(mean_batch(grad) - grad) + (1 - g*mask)*grad``:
    with ``g = 1`` the dimensions outside the varying partition receive the difference of
    the batch-mean gradient and their own, which pushes the shared partitions to agree
    across the batch; inside the varying partition the gradient is unchanged.
    """
    m = weight * mask.view(1, -1, 1, 1).to(grad.dtype)
    grad_mean = grad.mean(dim=0, keepdim=True)
    return m * (grad_mean - grad) + (1 - m) * grad


def register_gradient_regularization(r: torch.Tensor, mask: torch.Tensor, weight: float) -> Optional[object]:
    """Apply :func:`regularize_gradient` to the gradient flowing into ``r`` during backward.

    Returns the hook handle, or None when ``r`` needs no gradient or ``weight`` is 0.
    """
    if weight == 0 or not r.requires_grad:
        return None
    mask = mask.detach()
    return r.register_hook(lambda g: regularize_gradient(g, mask, weight))


def invariance_penalty(rk: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Share of the representation's variance across a one-factor batch that lies outside the
    varying factor's partition (ours; the ``invariance_reg`` key).

    In a batch that varies one factor, the other factors are shared, so the partitions that
    describe them should not change from scene to scene; whatever variance they show describes
    the varying factor in the wrong place (the compositing benchmark's leak).
    ``rk``: [B, N, r, h, w] per-view representations; ``mask``: [r], ~1 outside the varying
    factor's partition (detached here: the penalty moves the encoder, not the boundaries).
    Returns ``sum_i mask_i v_i / sum_i v_i`` with ``v_i`` the variance over the batch of
    dimension i of the per-scene mean (averaged over h, w): 0 when only the varying partition
    differs between scenes, the masked share of the dimensions when all vary alike; a scalar
    in [0, 1] for masks in [0, 1], unchanged by a rescaling of the representation.
    """
    per_scene = rk.mean(dim=1)                                         # [B, r, h, w]
    if per_scene.shape[0] < 2:
        return per_scene.new_zeros(())
    v = per_scene.var(dim=0, unbiased=False).mean(dim=(-2, -1))         # [r]
    m = mask.detach().to(v.dtype).view(-1)
    return (m * v).sum() / (v.sum() + eps)


#: The name of the partition logits (``deltas``, an encoder's parameter) in ``named_parameters()``.
PARTITION_LOGITS = "deltas"


def is_partition_logits(name: str) -> bool:
    """Whether the parameter called ``name`` (as ``model.named_parameters()`` names it) holds partition logits."""
    return name == PARTITION_LOGITS or name.endswith("." + PARTITION_LOGITS)


def parameter_groups(model: torch.nn.Module, logits_factor: float = 1.0) -> list:
    """Adam's parameter groups for ``model``: one group, or, with ``logits_factor`` != 1, the
    partition logits in a second group whose ``lr_factor`` scales the run's learning rate (the
    config's ``partition_learning_rate_factor``). Under Adam a parameter moves by about the
    learning rate per step whatever its gradient, so the logits' own rate sets how fast the
    partition sizes can change. Each group also holds its ``lr_factor``; one group keeps a
    checkpoint's optimizer state in the layout the reference wrote."""
    if logits_factor == 1.0:
        return [{"params": list(model.parameters()), "lr_factor": 1.0}]
    rest, logits = [], []
    for name, p in model.named_parameters():     # each shared parameter once, as model.parameters()
        (logits if is_partition_logits(name) else rest).append(p)
    return [{"params": rest, "lr_factor": 1.0}, {"params": logits, "lr_factor": float(logits_factor)}]

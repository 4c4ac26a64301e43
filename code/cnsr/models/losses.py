"""Image losses of the generators (``settings.loss``).

``Y`` is the network output, ``y`` the linear ground truth, both [B, C, H, W]. For the log
losses (``logl1``, ``logssim``, ``logl2``) the network predicts ``log1p`` values, so these
compare ``Y`` with ``log1p(y)``; ``relmse`` (ours) also has the network predict ``log1p``
values and compares their ``expm1`` with ``y``; the others compare ``Y`` with ``y`` directly. Each returns a
scalar (mean over the batch and pixels). SSIM is ``pytorch_msssim``'s with a gaussian
window of 11 pixels and sigma 1.5 (data range 1, as the reference's SSIM constants).

Each loss registers itself (``@register_loss(name, log_space)``) in the one loss registry,
:data:`cnsr.registry.LOSSES`, which config validation and the generators both read. A new loss
is one registered function here.
"""
from __future__ import annotations

import math
from typing import Dict, Sequence

import torch
from pytorch_msssim import ssim as _ssim

from ..registry import LOSSES, register_loss


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two image batches [B, C, H, W] (gaussian window 11, sigma 1.5, data range 1)."""
    return _ssim(a.float(), b.float(), data_range=1.0, size_average=True, win_size=11, win_sigma=1.5)


@register_loss("logl1", log_space=True)
def logl1(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """``mean(2 |Y - log1p(y)|)``."""
    return 2 * (Y - torch.log1p(y)).abs().mean()


@register_loss("logssim", log_space=True)
def logssim(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """``1 - SSIM(log1p(y), Y)``."""
    return 1 - ssim(torch.log1p(y), Y)


@register_loss("logl2", log_space=True)
def logl2(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """``250 * mean(2 (Y - log1p(y))^2)`` (the reference's weighting)."""
    return 250 * 2 * (Y - torch.log1p(y)).square().mean()


@register_loss("relmse", log_space=True)
def relmse(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """(ours) ``mean((x - y)^2 / (x + 0.01)^2)`` with ``x = expm1(Y)``, the linear prediction, and
    the denominator held constant (no gradient through it; a negative ``x`` counts as 0 there).

    Relative squared error, weighted per pixel as the benchmark's MAPE (eps 0.01), so dark pixels
    count as much as bright ones (log-L1 is nearly absolute below 1). Its expected value over a
    noisy target is smallest at the target's mean, since the weight does not depend on the target:
    trained on Monte Carlo renders, the prediction tends to the converged image, where an L1 loss
    tends to the noisy samples' median (darker than the mean for skewed path-tracing noise). The
    network still predicts ``log1p`` values.
    """
    x = torch.expm1(Y)
    weight = (x.detach().clamp(min=0) + 0.01).square()      # a negative output (no end ReLU) weighs as 0
    return ((x - y).square() / weight).mean()


@register_loss("l1", log_space=False)
def l1(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """``mean(2 |Y - y|)`` on linear values."""
    return 2 * (Y - y).abs().mean()


@register_loss("ssim", log_space=False)
def ssim_loss(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """``1 - SSIM(y, Y)`` on linear values."""
    return 1 - ssim(y, Y)


def annealed_sigma(iteration: int, start: float, end: float, steps: float) -> float:
    """Standard deviation annealed linearly from ``start`` to ``end`` over ``steps`` iterations."""
    return max(end + (start - end) * (1 - iteration / steps), end)


def gaussian_nll(mean: torch.Tensor, target: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-element negative log-likelihood of ``target`` under N(mean, sigma^2)."""
    return 0.5 * ((target - mean) / sigma).square() + math.log(sigma) + 0.5 * math.log(2 * math.pi)


@register_loss("nll", log_space=False)
def nll(Y: torch.Tensor, y: torch.Tensor, iteration: int = 0) -> torch.Tensor:
    """``0.2 * mean(-log N(y; Y, sigma))`` with sigma annealed 2.0 -> 0.1 over 2e5 iterations."""
    return 0.2 * gaussian_nll(Y, y, annealed_sigma(iteration, 2.0, 0.1, 2e5)).mean()


def predicts_log(losses: Sequence[str]) -> bool:
    """Whether a generator trained with ``losses`` predicts log1p values (any of them is a log loss)."""
    return any(LOSSES[name].log_space for name in losses)


def image_losses(names: Sequence[str], Y: torch.Tensor, y: torch.Tensor, iteration: int = 0
                 ) -> Dict[str, torch.Tensor]:
    """Evaluate each named loss on (Y, y): name -> scalar tensor."""
    return {name: LOSSES[name].function(Y, y, iteration) for name in names}

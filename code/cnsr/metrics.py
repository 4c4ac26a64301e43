"""Image metrics of predicted passes against references, by name: the paper's MAPE, RMSE,
SSIM, PSNR and FLIP, and L1.

One registry, :data:`cnsr.registry.METRICS` (name -> :class:`~cnsr.registry.Metric`; also
``cnsr.metrics.METRICS``); the TensorBoard monitor, ``evaluate.py`` and the tools score with
:func:`score_outputs` and name metrics by their registry key. A new metric is one function
registered with :func:`register_metric`, here or in any module imported before it is named::

    @register_metric("rmse", label="RMSE", higher_is_better=False)
    def rmse(prediction, reference):
        return (prediction - reference).pow(2).mean().sqrt().item()

Every metric takes the prediction and the reference as linear float tensors ``[B, C, H, W]``
of the same shape (detached) and returns the mean over the batch as a Python float.

* ``ssim``: structural similarity with the paper's gaussian window (11 pixels, sigma 1.5, via
  ``pytorch_msssim``) on values clipped to [0, 1] (the displayable range, data range 1); images
  smaller than the window get one global window over the whole image;
* ``psnr``: ``10 log10(1 / MSE)`` on values clipped to [0, 1] (MSE floored at 1e-10);
* ``l1``: mean absolute difference of the linear values;
* ``mape``: mean absolute percentage error of the linear values,
  ``mean(|p - r| / (|r| + 0.01))`` over pixels and channels (``MAPE_EPSILON`` = 0.01 keeps
  black reference pixels from dominating; a fraction, not percent);
* ``rmse``: root mean squared error of the linear values, ``sqrt(mean((p - r)^2))``;
* ``flip``: mean LDR-FLIP error (NVIDIA's perceptual difference metric, through the
  ``flip-evaluator`` package, default 67 pixels per degree) of the images as they are shown:
  both tone-mapped with the radiance display mapping (Reinhard ``x / (1 + x)``, then sRGB:
  :func:`cnsr.io.png.tonemap`), one-channel passes repeated to RGB. LDR, not HDR-FLIP: HDR-FLIP
  picks its exposure range from the reference image and averages LDR-FLIP over many
  exposures (several times slower, and the range moves with each reference), while every
  picture cnsr shows (grids, previews, the viewer) is this tone-mapped image; SSIM and PSNR
  are on display-range values too. 0 = identical, 1 = maximal difference; the mean over
  the batch's images.

``mape``, ``rmse``, ``ssim``, ``psnr`` and ``flip`` are the defaults (:data:`DEFAULT_METRICS`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim as _windowed_ssim

from .registry import METRICS, Metric, register_metric  # noqa: F401 - the metric API, re-exported

#: what the monitor and ``evaluate.py`` report unless told otherwise
DEFAULT_METRICS: Tuple[str, ...] = ("mape", "rmse", "ssim", "psnr", "flip")
#: MAPE's denominator offset: |p - r| / (|r| + MAPE_EPSILON)
MAPE_EPSILON = 0.01

#: the paper's SSIM window (pixels)
SSIM_WINDOW = 11


def check_metrics(names: Sequence[str]) -> Tuple[str, ...]:
    """``names`` as a tuple; a ValueError naming the unknown ones and the known ones."""
    names = tuple(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(map(repr, unknown))}: expected some of {list(METRICS)}")
    return names


def global_ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """SSIM with one window covering each whole image (per image and channel, then the mean)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    dims = (-2, -1)
    mx, my = x.mean(dims), y.mean(dims)
    vx, vy = x.var(dims, unbiased=False), y.var(dims, unbiased=False)
    cov = ((x - mx[..., None, None]) * (y - my[..., None, None])).mean(dims)
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.mean().item()


@register_metric("ssim", label="SSIM", higher_is_better=True, fmt=".4f")
def ssim(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    p, r = prediction.clamp(0, 1), reference.clamp(0, 1)
    if min(p.shape[-2:]) >= SSIM_WINDOW:
        return _windowed_ssim(p, r, data_range=1.0, size_average=True, win_size=SSIM_WINDOW,
                              win_sigma=1.5).item()
    return global_ssim(p, r)   # too small for the window


@register_metric("psnr", label="PSNR", higher_is_better=True, fmt=".2f")
def psnr(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    mse = F.mse_loss(prediction.clamp(0, 1), reference.clamp(0, 1)).item()
    return 10 * math.log10(1.0 / max(mse, 1e-10))


@register_metric("l1", label="L1", higher_is_better=False, fmt=".4f")
def l1(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    return (prediction - reference).abs().mean().item()


@register_metric("mape", label="MAPE", higher_is_better=False, fmt=".4f")
def mape(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    return ((prediction - reference).abs() / (reference.abs() + MAPE_EPSILON)).mean().item()


@register_metric("rmse", label="RMSE", higher_is_better=False, fmt=".4f")
def rmse(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    return (prediction - reference).pow(2).mean().sqrt().item()


def _ldr_rgb(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` linear -> ``(H, W, 3)`` float32 tone-mapped sRGB in [0, 1] (FLIP's input)."""
    a = np.nan_to_num(image.detach().double().cpu().numpy(), nan=0.0, posinf=0.0, neginf=0.0)
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    x = np.maximum(np.moveaxis(a[:3], 0, -1), 0.0)
    x = x / (1.0 + x)                                        # Reinhard
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.ascontiguousarray(np.clip(srgb, 0.0, 1.0), dtype=np.float32)


def flip_error(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean LDR-FLIP error of one linear image ``[C, H, W]`` against its reference."""
    import flip_evaluator
    _, mean, _ = flip_evaluator.evaluate(_ldr_rgb(reference), _ldr_rgb(prediction), "LDR",
                                         inputsRGB=True, applyMagma=False, computeMeanError=True)
    return float(mean)


@register_metric("flip", label="FLIP", higher_is_better=False, fmt=".4f")
def flip(prediction: torch.Tensor, reference: torch.Tensor) -> float:
    return float(np.mean([flip_error(p, r) for p, r in zip(prediction, reference)]))


def image_metrics(prediction: torch.Tensor, reference: torch.Tensor,
                  metrics: Sequence[str] = DEFAULT_METRICS) -> Dict[str, float]:
    """``{name: value}`` of the metrics ``metrics`` for linear images ``[B, C, H, W]`` (means
    over the batch)."""
    p = prediction.detach().float()
    r = reference.detach().float()
    return {name: METRICS[name].fn(p, r) for name in check_metrics(metrics)}


Scored = Tuple[str, int, torch.Tensor, torch.Tensor, Dict[str, float]]


def score_outputs(batch: Mapping[str, Any], outputs: List[Mapping[str, torch.Tensor]],
                  metrics: Sequence[str] = DEFAULT_METRICS) -> List[Scored]:
    """``(pass, generator, reference, prediction, {metric: value})`` for every predicted pass the
    batch has a reference of; the reference is resized (nearest) to the prediction's size (a
    generator may run below the dataset's resolution)."""
    metrics = check_metrics(metrics)
    out = []
    for g, passes in enumerate(outputs):
        for name, pred in passes.items():
            ref = batch["query_images"].get(name)
            if ref is None:
                continue
            if pred.shape[-2:] != ref.shape[-2:]:
                ref = F.interpolate(ref.float(), size=pred.shape[-2:], mode="nearest")
            out.append((name, g, ref, pred, image_metrics(pred, ref, metrics)))
    return out


def flat_metrics(results: Sequence[Scored]) -> Dict[str, float]:
    """:func:`score_outputs` as scalars named ``<metric>/<pass>_<generator>``."""
    return {f"{k}/{name}_{g}": v for name, g, _, _, m in results for k, v in m.items()}


def per_image_metrics(prediction: torch.Tensor, reference: torch.Tensor,
                      metrics: Sequence[str] = DEFAULT_METRICS) -> Dict[str, List[float]]:
    """``{name: [value of image 0, image 1, ...]}``: each metric of each image of ``[B, C, H, W]``
    on its own (for means with standard errors over scenes)."""
    metrics = check_metrics(metrics)
    p, r = prediction.detach().float(), reference.detach().float()
    return {name: [METRICS[name].fn(p[i:i + 1], r[i:i + 1]) for i in range(p.shape[0])] for name in metrics}

"""What a training run shows in TensorBoard: losses, partition sizes, test metrics, images.

Everything lives under ``runs/<job_name>``: ``loss/*`` (every loss the model reports, averaged
over the interval), ``partition/*`` (fractions and active size from ``model.partition_stats()``),
``test/{ssim,psnr,l1}/<pass>_<generator>`` on a fixed test batch, ``perf/*`` and, per generator
and output pass, an image grid whose rows are test scenes: reference | prediction | observations.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F

from ..passes import SHADING_PASSES


def flatten_stats(stats: Any, prefix: str = "") -> Dict[str, float]:
    """Nested dicts/lists of numbers -> ``{'a/b': float}`` (for ``partition_stats()``)."""
    out: Dict[str, float] = {}
    if isinstance(stats, Mapping):
        items = stats.items()
    elif isinstance(stats, (list, tuple)):
        items = enumerate(stats)
    else:
        value = float(stats.item() if torch.is_tensor(stats) else stats)
        return {prefix or "value": value}
    for k, v in items:
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, (Mapping, list, tuple)):
            out.update(flatten_stats(v, key))
        elif torch.is_tensor(v) and v.numel() > 1:
            out.update(flatten_stats(v.tolist(), key))
        elif v is not None:
            try:
                out[key] = float(v.item() if torch.is_tensor(v) else v)
            except (TypeError, ValueError):
                pass
    return out


def image_metrics(prediction: torch.Tensor, reference: torch.Tensor) -> Dict[str, float]:
    """SSIM, PSNR and L1 of linear images ``[B, C, H, W]``.

    SSIM (gaussian window 11, sigma 1.5, as the paper's) and PSNR are taken on values clipped
    to [0, 1] (the displayable range, data range 1); L1 on the linear values.
    """
    from pytorch_msssim import ssim

    p = prediction.detach().float()
    r = reference.detach().float()
    l1 = (p - r).abs().mean().item()
    pc, rc = p.clamp(0, 1), r.clamp(0, 1)
    mse = F.mse_loss(pc, rc).item()
    psnr = 10 * math.log10(1.0 / max(mse, 1e-10))
    if min(p.shape[-2:]) >= 11:
        s = ssim(pc, rc, data_range=1.0, size_average=True).item()
    else:  # too small for the 11-px window: a single-window SSIM over the whole image
        s = _global_ssim(pc, rc)
    return {"ssim": s, "psnr": psnr, "l1": l1}


def score_outputs(batch: Mapping[str, Any], outputs: List[Mapping[str, torch.Tensor]]
                 ) -> List[Tuple[str, int, torch.Tensor, torch.Tensor, Dict[str, float]]]:
    """``(pass, generator, reference, prediction, metrics)`` for every predicted pass the batch
    has a reference of; the reference is resized (nearest) to the prediction's size."""
    out = []
    for g, passes in enumerate(outputs):
        for name, pred in passes.items():
            ref = batch["query_images"].get(name)
            if ref is None:
                continue
            if pred.shape[-2:] != ref.shape[-2:]:
                ref = F.interpolate(ref.float(), size=pred.shape[-2:], mode="nearest")
            out.append((name, g, ref, pred, image_metrics(pred, ref)))
    return out


def flat_metrics(results) -> Dict[str, float]:
    """:func:`score_outputs` as scalars named ``<metric>/<pass>_<generator>``."""
    return {f"{k}/{name}_{g}": v for name, g, _, _, m in results for k, v in m.items()}


def _global_ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    dims = (-2, -1)
    mx, my = x.mean(dims), y.mean(dims)
    vx, vy = x.var(dims, unbiased=False), y.var(dims, unbiased=False)
    cov = ((x - mx[..., None, None]) * (y - my[..., None, None])).mean(dims)
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.mean().item()


def displayable(image: torch.Tensor, pass_name: str) -> torch.Tensor:
    """``[..., C, H, W]`` linear pass -> RGB in [0, 1] for display (gamma 2.2 for shading
    passes, [-1, 1] -> [0, 1] for directions, min-max for the rest)."""
    x = image.detach().float()
    if x.shape[-3] == 1:
        x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    if pass_name in SHADING_PASSES or pass_name in ("albedo", "shadows", "ao", "roughness"):
        return x.clamp(0, 1) ** (1 / 2.2)
    if pass_name in ("normal", "mirror", "mirror_normal"):
        return (x * 0.5 + 0.5).clamp(0, 1)
    lo, hi = x.amin(), x.amax()
    return ((x - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)


def comparison_grid(reference: torch.Tensor, prediction: torch.Tensor, observations: Optional[torch.Tensor],
                    pass_name: str, observation_pass: Optional[str] = None, max_rows: int = 4) -> torch.Tensor:
    """A ``[3, rows*H, cols*W]`` image: one row per scene, reference | prediction | observations.

    reference, prediction: ``[B, C, H, W]``; observations: ``[B, N, C', H', W']`` or None
    (resized to H x W, nearest).
    """
    rows = []
    b = min(reference.shape[0], max_rows)
    h, w = reference.shape[-2:]
    pred = prediction
    if pred.shape[-2:] != (h, w):
        pred = F.interpolate(pred.float(), size=(h, w), mode="nearest")
    for i in range(b):
        tiles = [displayable(reference[i], pass_name), displayable(pred[i], pass_name)]
        if observations is not None:
            obs = observations[i].float()
            if obs.shape[-2:] != (h, w):
                obs = F.interpolate(obs, size=(h, w), mode="nearest")
            tiles += [displayable(o, observation_pass or pass_name) for o in obs]
        rows.append(torch.cat(tiles, dim=-1))
    return torch.cat(rows, dim=-2).cpu()


class TensorBoardMonitor:
    """Writes a run's scalars and images to ``log_dir`` (rank 0 only)."""

    def __init__(self, log_dir, output_pass: Optional[str] = None):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = str(log_dir)
        self.writer = SummaryWriter(log_dir=self.log_dir)
        self.output_pass = output_pass

    def scalars(self, group: str, values: Mapping[str, float], step: int) -> None:
        for k, v in values.items():
            if v is not None and math.isfinite(float(v)):
                self.writer.add_scalar(f"{group}/{k}", float(v), step)

    def test_batch(self, batch: Mapping[str, Any], outputs: List[Mapping[str, torch.Tensor]], step: int,
                   observation_pass: Optional[str] = None) -> Dict[str, float]:
        """Log SSIM/PSNR/L1 per generator and output pass and the comparison images; returns the metrics."""
        obs_images = batch.get("observation_images", {})
        if observation_pass is None and obs_images:
            observation_pass = "beauty" if "beauty" in obs_images else next(iter(obs_images))
        observations = obs_images.get(observation_pass) if observation_pass else None
        results = score_outputs(batch, outputs)
        for name, g, ref, pred, _ in results:
            grid = comparison_grid(ref, pred, observations, name, observation_pass)
            self.writer.add_image(f"images/{name}_{g}", grid, step)
        metrics = flat_metrics(results)
        self.scalars("test", metrics, step)
        return metrics

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

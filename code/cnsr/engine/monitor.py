"""What a training run shows in TensorBoard: losses, partition sizes, test metrics, images.

Everything lives under ``runs/<job_name>``: ``loss/*`` (every loss the model reports, averaged
over the interval), ``partition/*`` (fractions and active size from ``model.partition_stats()``),
``test/<metric>/<pass>_<generator>`` (:mod:`cnsr.metrics`) on a fixed test batch, ``perf/*``
and, per generator and output pass, an image whose rows are test scenes: reference |
prediction | LDR-FLIP error | observations, upscaled and labelled like ``evaluate.py``'s grids,
with the error map's colour bar (:func:`cnsr.metrics.comparison_figure`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

import torch

from ..metrics import comparison_figure, flat_metrics, score_outputs


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


def comparison_grid(reference: torch.Tensor, prediction: torch.Tensor, observations: Optional[torch.Tensor],
                    pass_name: str, observation_pass: Optional[str] = None, max_rows: int = 4,
                    title: Optional[str] = None) -> torch.Tensor:
    """The TensorBoard image ``[3, H, W]``: :func:`cnsr.metrics.comparison_figure` (one row
    per scene, reference | prediction | LDR-FLIP error | observations, labelled, every tile
    upscaled to at least 128 pixels, the error's colour bar under it).

    reference, prediction: ``[B, C, H, W]``; observations: ``[B, N, C', H', W']`` or None
    (every tile is resized to H x W, nearest).
    """
    img = comparison_figure(reference, prediction, pass_name, observations, observation_pass,
                            max_rows=max_rows, title=title)
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


class TensorBoardMonitor:
    """Writes a run's scalars and images to ``log_dir`` (rank 0 only)."""

    def __init__(self, log_dir, output_pass: Optional[str] = None):
        # tensorboard takes a second to import: only runs that log pay for it
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
        """Log the metrics (:data:`cnsr.metrics.DEFAULT_METRICS`: MAPE, RMSE, SSIM, PSNR, FLIP) per generator
        and output pass and the comparison images; returns the metrics."""
        obs_images = batch.get("observation_images", {})
        if observation_pass is None and obs_images:
            observation_pass = "beauty" if "beauty" in obs_images else next(iter(obs_images))
        observations = obs_images.get(observation_pass) if observation_pass else None
        results = score_outputs(batch, outputs)
        for name, g, ref, pred, _ in results:
            grid = comparison_grid(ref, pred, observations, name, observation_pass,
                                   title=f"{name} of generator {g}, iteration {step}")
            self.writer.add_image(f"images/{name}_{g}", grid, step)
        metrics = flat_metrics(results)
        self.scalars("test", metrics, step)
        return metrics

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

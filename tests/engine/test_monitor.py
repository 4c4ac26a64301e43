"""Test metrics and the TensorBoard comparison image."""
import math

import pytest
import torch

from cnsr.engine.monitor import (comparison_grid, displayable, flat_metrics, flatten_stats, image_metrics,
                                 score_outputs)


def test_metrics_of_identical_and_known_images():
    x = torch.rand(2, 3, 16, 16)
    m = image_metrics(x, x)
    assert m["ssim"] == pytest.approx(1.0, abs=1e-5) and m["l1"] == 0 and m["psnr"] >= 99
    y = (x + 0.1).clamp(0, 1)
    # PSNR of a known error: 10 log10(1 / mse) on the clipped values
    mse = ((x.clamp(0, 1) - y) ** 2).mean().item()
    assert image_metrics(y, x)["psnr"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert image_metrics(torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16))["l1"] == 1
    # too small for the 11-pixel window: a global SSIM, still 1 for identical images
    s = torch.rand(1, 1, 6, 6)
    assert image_metrics(s, s)["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert image_metrics(s, 1 - s)["ssim"] < 0.5


def test_score_outputs_names_and_resizes_the_reference():
    """Every predicted pass with a reference is scored against the reference resized to the
    prediction (a generator may run below the dataset's resolution); others are skipped."""
    ref = torch.rand(2, 3, 32, 32)
    batch = {"query_images": {"beauty": ref}}
    outputs = [{"beauty": ref[..., ::2, ::2].clone(), "diffuse": torch.rand(2, 3, 16, 16)}, {"beauty": ref}]
    results = score_outputs(batch, outputs)
    assert [(name, g) for name, g, *_ in results] == [("beauty", 0), ("beauty", 1)]
    assert results[0][2].shape[-2:] == (16, 16)
    metrics = flat_metrics(results)
    assert sorted(metrics) == sorted(f"{k}/beauty_{g}" for k in ("ssim", "psnr", "l1") for g in (0, 1))
    assert metrics["l1/beauty_0"] == 0 and metrics["l1/beauty_1"] == 0


def test_comparison_grid_layout():
    ref = torch.zeros(5, 3, 8, 8)
    pred = torch.ones(5, 3, 4, 4)                       # a generator at a lower resolution
    obs = torch.full((5, 2, 3, 16, 16), 0.5)
    grid = comparison_grid(ref, pred, obs, "beauty", max_rows=3)
    assert grid.shape == (3, 3 * 8, 4 * 8)              # 3 scenes x (reference, prediction, 2 observations)
    assert torch.all(grid[:, :, :8] == 0) and torch.all(grid[:, :, 8:16] == 1)
    assert torch.allclose(grid[:, :, 16:], torch.full_like(grid[:, :, 16:], 0.5 ** (1 / 2.2)))


def test_displayable_passes():
    depth = torch.tensor([[[0.0, 2.0], [4.0, 4.0]]])   # one channel, min-max normalised, grey
    d = displayable(depth, "depth")
    assert d.shape == (3, 2, 2) and d.max() == 1 and d.min() == 0
    n = displayable(torch.tensor([-1.0, 0.0, 1.0]).view(3, 1, 1), "normal")
    assert n.flatten().tolist() == [0.0, 0.5, 1.0]


def test_flatten_stats():
    stats = {"lighting_percentage": torch.tensor(0.25), "per": {"a": 1, "b": [2.0, 3.0]}, "skip": None}
    assert flatten_stats(stats) == {"lighting_percentage": 0.25, "per/a": 1.0, "per/b/0": 2.0, "per/b/1": 3.0}

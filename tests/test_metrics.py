"""cnsr.metrics: MAPE, RMSE, SSIM (the paper's window), PSNR, FLIP, L1 by name; score_outputs; the registry."""
import math

import flip_evaluator
import numpy as np

import pytest
import torch
import torch.nn.functional as F

from cnsr.metrics import (DEFAULT_METRICS, METRICS, check_metrics, flat_metrics, image_metrics, register_metric,
                          score_outputs)


def test_metrics_of_identical_and_known_images():
    x = torch.rand(2, 3, 16, 16)
    m = image_metrics(x, x)
    assert list(m) == list(DEFAULT_METRICS) == ["mape", "rmse", "ssim", "psnr", "flip"]
    assert m["ssim"] == pytest.approx(1.0, abs=1e-5) and m["psnr"] >= 99
    assert m["mape"] == 0 and m["rmse"] == 0 and m["flip"] == 0
    y = (x + 0.1).clamp(0, 1)
    # PSNR of a known error: 10 log10(1 / mse) on the clipped values
    mse = ((x.clamp(0, 1) - y) ** 2).mean().item()
    assert image_metrics(y, x)["psnr"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert image_metrics(torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16), ["l1"])["l1"] == 1
    # too small for the 11-pixel window: a global SSIM, still 1 for identical images
    s = torch.rand(1, 1, 6, 6)
    assert image_metrics(s, s)["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert image_metrics(s, 1 - s)["ssim"] < 0.5


def _ssim_by_hand(x, y):
    """SSIM with an 11-tap gaussian window (sigma 1.5), valid positions only, float64."""
    t = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-t ** 2 / (2 * 1.5 ** 2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).expand(x.shape[1], 1, 11, 11)

    def blur(a):
        return F.conv2d(a, w, groups=x.shape[1])

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))).mean().item()


def test_ssim_is_the_papers_gaussian_window():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 24, 24, dtype=torch.float64)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    assert image_metrics(y.float(), x.float(), ["ssim"])["ssim"] == pytest.approx(_ssim_by_hand(y, x), abs=1e-4)


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
    assert sorted(metrics) == sorted(f"{k}/beauty_{g}" for k in DEFAULT_METRICS for g in (0, 1))
    assert metrics["rmse/beauty_0"] == 0 and metrics["rmse/beauty_1"] == 0
    only = score_outputs(batch, outputs, metrics=["l1"])
    assert all(list(m) == ["l1"] for *_, m in only)


def test_a_registered_metric_is_scored_by_name():
    name = "max_abs_test"

    @register_metric(name, label="MAX", higher_is_better=False)
    def max_abs(p, r):
        return (p - r).abs().max().item()

    try:
        ref = torch.zeros(1, 3, 8, 8)
        pred = ref.clone()
        pred[0, 1, 2, 3] = 0.75
        (_, _, _, _, m), = score_outputs({"query_images": {"beauty": ref}}, [{"beauty": pred}], ["l1", name])
        assert m[name] == 0.75 and m["l1"] == pytest.approx(0.75 / (3 * 64))
        assert METRICS[name].label == "MAX" and not METRICS[name].higher_is_better
        with pytest.raises(ValueError, match="already"):
            register_metric(name)(max_abs)
    finally:
        METRICS.remove(name)


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(ValueError, match="'nope'.*ssim"):
        check_metrics(["ssim", "nope"])


def test_mape_and_rmse_by_hand():
    # reference 0, 1, 3, -2 (one channel, 2x2); prediction off by 0.5, -1, 0, 2
    ref = torch.tensor([0.0, 1.0, 3.0, -2.0]).view(1, 1, 2, 2)
    pred = ref + torch.tensor([0.5, -1.0, 0.0, 2.0]).view(1, 1, 2, 2)
    m = image_metrics(pred, ref, ["mape", "rmse"])
    # |p - r| / (|r| + 0.01): 0.5 / 0.01, 1 / 1.01, 0, 2 / 2.01
    assert m["mape"] == pytest.approx((50 + 1 / 1.01 + 0 + 2 / 2.01) / 4, rel=1e-6)
    assert m["rmse"] == pytest.approx(math.sqrt((0.25 + 1 + 0 + 4) / 4), rel=1e-6)


def _tonemapped(img):
    """[C, H, W] linear -> (H, W, 3) Reinhard + sRGB, as the docstring says FLIP sees images."""
    from cnsr.io.png import tonemap
    a = img.numpy()
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    return np.ascontiguousarray(tonemap(np.moveaxis(a, 0, -1)), dtype=np.float32)


def test_flip_is_ldr_flip_of_the_tonemapped_images():
    torch.manual_seed(1)
    ref = torch.rand(2, 3, 20, 24) * 2
    pred = (ref + 0.3 * torch.randn_like(ref)).clamp_min(0)
    assert image_metrics(ref, ref, ["flip"])["flip"] == 0
    # the package's own mean LDR-FLIP of the same tone-mapped pair, image by image
    want = [flip_evaluator.evaluate(_tonemapped(r), _tonemapped(p), "LDR", applyMagma=False)[1]
            for p, r in zip(pred, ref)]
    assert image_metrics(pred, ref, ["flip"])["flip"] == pytest.approx(np.mean(want), rel=1e-5)
    assert 0 < np.mean(want) < 1
    # a known pair: black against white is (close to) FLIP's maximal error 1
    black, white = torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 1e6)
    assert image_metrics(black, white, ["flip"])["flip"] > 0.9
    # one channel is repeated to RGB
    g = torch.rand(1, 1, 12, 12)
    assert image_metrics(g, g * 0.5, ["flip"])["flip"] == pytest.approx(
        image_metrics(g.expand(1, 3, 12, 12), g.expand(1, 3, 12, 12) * 0.5, ["flip"])["flip"], rel=1e-6)


def test_per_image_metrics_are_the_batch_means_parts():
    from cnsr.metrics import per_image_metrics
    torch.manual_seed(2)
    ref = torch.rand(3, 3, 12, 12)
    pred = ref + 0.1 * torch.randn_like(ref)
    per = per_image_metrics(pred, ref, ["mape", "l1", "flip"])
    assert all(len(v) == 3 for v in per.values())
    whole = image_metrics(pred, ref, ["mape", "l1", "flip"])
    for k in per:
        assert np.mean(per[k]) == pytest.approx(whole[k], rel=1e-5)

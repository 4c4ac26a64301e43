"""Encoders: shapes, parameter names, aggregation and partitioning."""
import pytest
import torch

from cnsr.models.encoders import PoolEncoder, PyramidEncoder, TowerEncoder
from cnsr.models import partition as P


def views(b=3, n=2, c=4, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, c, w, w, generator=g), torch.randn(b, n, 16, 1, 1, generator=g)


@pytest.mark.parametrize("cls,w,out", [(PoolEncoder, 16, 1), (PoolEncoder, 32, 1), (TowerEncoder, 16, 4),
                                       (TowerEncoder, 32, 8), (PyramidEncoder, 16, 1),
                                       (PyramidEncoder, 64, 1), (PyramidEncoder, 128, 1)])
def test_shapes(cls, w, out):
    enc = cls(4, 12, render_size=w)
    x, v = views(w=w)
    rk = enc(x, v)
    assert rk.shape == (3, 2, 12, out, out)
    r, logs, loss = enc.aggregate(rk)
    assert r.shape == (3, 12, out, out) and loss.item() == 0


def test_parameter_names_match_reference():
    names = {n for n, _ in PoolEncoder(10, 8).named_parameters()}
    expected = {"deltas"} | {f"{c}.{p}" for c in ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6",
                                                   "skip_conv1", "skip_conv2"] for p in ("weight", "bias")}
    assert names == expected
    pyr = {n for n, _ in PyramidEncoder(10, 8, render_size=64).named_parameters()}
    assert {"in_conv.weight", "conv_list.0.weight", "conv_list.1.weight", "out_conv.bias"} <= pyr
    assert "conv_list.2.weight" not in pyr        # 64 -> 32 -> 16: two halvings
    assert PoolEncoder(10, 8, empty_partition=True).deltas.shape == (4,)


def test_mean_and_max_aggregation():
    rk = torch.tensor([1.0, 5.0, 3.0]).view(1, 3, 1, 1, 1).repeat(2, 1, 4, 1, 1)
    assert PoolEncoder(3, 4).aggregate(rk)[0].unique().tolist() == [3.0]
    assert PoolEncoder(3, 4, aggregation="max").aggregate(rk)[0].unique().tolist() == [5.0]


@pytest.mark.parametrize("adaptive", [True, False])
def test_partitioned_aggregation_shares_all_but_the_varying_partition(adaptive):
    r_dim = 30
    enc = PoolEncoder(4, r_dim, latent_separation=True, adaptive_separation=adaptive,
                      sharpness=dict(start=1e5, end=1e5, sharpen=1e5))
    rk = torch.rand(4, 2, r_dim, 1, 1, generator=torch.Generator().manual_seed(1))
    for factor in range(3):
        r = enc.aggregate(rk, factor, 0)[0].view(4, r_dim)
        spread = (r - r.mean(0)).abs().amax(0)        # per dimension: differs across the batch?
        lo, hi = factor * 10, factor * 10 + 10          # thirds of 30 dims (adaptive: deltas all 1)
        if adaptive:                                    # dims on the soft edges are mixed; skip them
            inner = torch.arange(lo + 1, hi - 1)
            outer = torch.tensor([i for i in range(r_dim - 1) if i < lo - 1 or i > hi])
        else:
            inner = torch.arange(lo, hi)
            outer = torch.tensor([i for i in range(r_dim) if i < lo or i >= hi])
        assert torch.all(spread[outer] < 1e-5), factor
        assert torch.all(spread[inner] > 0), factor
    # factor -1 (test): plain per-scene mean
    assert torch.allclose(enc.aggregate(rk, -1)[0], rk.mean(1))


def test_null_partition_zeroes_tail_and_has_a_loss():
    enc = PoolEncoder(4, 16, latent_separation=True, empty_partition=True, partition_loss=0.5,
                      sharpness=dict(start=1e4, end=1e4, sharpen=1e4))
    x, v = views(w=16)
    rk = enc(x, v) + 1.0                               # make every dimension non-zero
    r, logs, loss = enc.aggregate(rk, 1, 0)
    # deltas all one: the null partition is the last quarter, t in [0.75, 1]
    assert torch.all(r[:, 13:15] == 0) and torch.all(r[:, :11].abs() > 0)
    assert loss.item() == pytest.approx(0.5 * 16 / 256 * 0.75)
    assert logs["null_percentage"].item() == pytest.approx(0.25)
    assert logs["active_size"].item() == pytest.approx(12.0)
    r_test, _, loss_test = enc.aggregate(rk, -1, 0)    # applied at test time too, without loss
    assert torch.all(r_test[:, 13:15] == 0) and loss_test.item() == 0
    loss.backward()
    assert enc.deltas.grad is not None and enc.deltas.grad[3] < 0   # the loss grows the null partition
    assert enc.stats()["active_size"] == pytest.approx(12.0)


def test_gradient_regularization_in_aggregate():
    torch.manual_seed(0)
    enc = PoolEncoder(4, 10, latent_separation=True, adaptive_separation=False, gradient_reg=1.0)
    rk = torch.rand(2, 2, 10, 1, 1, requires_grad=True)
    r, _, _ = enc.aggregate(rk, 1, 0)
    upstream = torch.randn_like(r)
    (r * upstream).sum().backward()
    # static partitions: hard thirds for the aggregation; for the gradient the reference's
    # bounds (0.33, 0.66) with k = 1e5, which agree on 10 dims: dims 3..5 vary, the rest shared
    m = torch.tensor([1.0] * 3 + [0.0] * 3 + [1.0] * 4)
    assert torch.allclose(enc.gradient_mask(1, 0), m, atol=1e-6)
    g = upstream.view(2, 10)
    corrected = m * (g.mean(0) - g) + (1 - m) * g
    # d r / d rk: per-scene dims get 1/N of their scene's gradient, shared dims 1/(B N) of the batch sum
    expected = (1 - m) * corrected / 2 + m * corrected.sum(0) / 4
    assert torch.allclose(rk.grad.view(2, 2, 10)[:, 0], expected, atol=1e-6)
    assert torch.allclose(rk.grad.view(2, 2, 10)[:, 1], expected, atol=1e-6)
    # no hook without partitioning of the batch (factor -1)
    rk.grad = None
    enc.aggregate(rk, -1, 0)[0].mul(upstream).sum().backward()
    assert torch.allclose(rk.grad.view(2, 2, 10)[:, 0], g / 2, atol=1e-6)


def test_invariance_penalty_in_aggregate_adds_to_the_null_loss():
    torch.manual_seed(0)
    enc = PoolEncoder(4, 16, latent_separation=True, empty_partition=True, partition_loss=0.5,
                      sharpness=dict(start=1e4, end=1e4, sharpen=1e4), invariance_reg=2.0)
    rk = torch.rand(3, 2, 16, 1, 1)
    r, logs, loss = enc.aggregate(rk, 2, 0)
    share = P.invariance_penalty(rk, enc.factor_mask(2, 0))
    assert 0 < share.item() < 1
    assert logs["invariance"].item() == pytest.approx(share.item())
    assert loss.item() == pytest.approx(0.5 * 16 / 256 * 0.75 + 2.0 * share.item(), rel=1e-6)
    # not at test time (factor -1), not without gradients (the measurements), not when off
    assert "invariance" not in enc.aggregate(rk, -1, 0)[1]
    with torch.no_grad():
        assert "invariance" not in enc.aggregate(rk, 2, 0)[1]
    enc.invariance_reg = 0.0
    assert enc.aggregate(rk, 2, 0)[2].item() == pytest.approx(0.5 * 16 / 256 * 0.75)


def test_composite_training_in_aggregate():
    enc = PoolEncoder(4, 16, latent_separation=True, sharpness=dict(start=1e4, end=1e4, sharpen=1e4),
                      composite_training=1.0)
    rk = torch.rand(3, 2, 16, 1, 1)
    mask = enc.factor_mask(2, 0)
    torch.manual_seed(5)
    r, logs, _ = enc.aggregate(rk, 2, 0)
    torch.manual_seed(5)
    shift = enc._composite_shift(3)
    assert shift in (1, 2) and logs["composite"].item() == 1.0
    assert torch.allclose(r, P.aggregate_composite(rk, mask, shift))
    assert not torch.allclose(r, P.aggregate_factor(rk, mask))
    # the paper's aggregation without gradients (the measurements), at test time, and when off
    with torch.no_grad():
        r0, logs0, _ = enc.aggregate(rk, 2, 0)
    assert torch.allclose(r0, P.aggregate_factor(rk, mask)) and "composite" not in logs0
    assert torch.allclose(enc.aggregate(rk, -1, 0)[0], rk.mean(dim=1))
    enc.composite_training = 0.0
    r1, logs1, _ = enc.aggregate(rk, 2, 0)
    assert torch.allclose(r1, P.aggregate_factor(rk, mask)) and "composite" not in logs1
    # one scene: nothing to composite with
    enc.composite_training = 1.0
    assert enc._composite_shift(1) == 0


def test_composite_training_probability():
    enc = PoolEncoder(4, 16, latent_separation=True, composite_training=0.25)
    torch.manual_seed(0)
    shifts = [enc._composite_shift(4) for _ in range(4000)]
    share = sum(s != 0 for s in shifts) / len(shifts)
    assert share == pytest.approx(0.25, abs=0.03)          # 5 standard errors
    assert set(shifts) == {0, 1, 2, 3}

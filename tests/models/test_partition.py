"""Partitioning math (cnsr.models.partition) against values worked out by hand."""
import math

import pytest
import torch

from cnsr.models import partition as P


def sig(x):
    return 1 / (1 + math.exp(-x))


def test_fractions_and_boundaries():
    deltas = torch.tensor([0.0, math.log(2.0), math.log(5.0)])   # softmax -> 1/8, 2/8, 5/8
    p = P.partition_fractions(deltas)
    assert torch.allclose(p, torch.tensor([0.125, 0.25, 0.625]))
    assert torch.allclose(P.partition_boundaries(p), torch.tensor([0.125, 0.375, 1.0]))
    # initial deltas (all ones) split evenly
    assert torch.allclose(P.partition_fractions(torch.ones(4)), torch.full((4,), 0.25))


def test_dimension_positions():
    assert torch.allclose(P.dimension_positions(4), torch.tensor([0.25, 0.5, 0.75, 1.0]))


def test_basket_mask_worked_example():
    # m(0.5; 0.25, 0.75, 10) = prod over shifts o of [(1 - s(k(t-a-o))) + s(k(t-b-o))]
    t, a, b, k = 0.5, 0.25, 0.75, 10.0
    expected = 1.0
    for o in (-1, 0, 1):
        expected *= (1 - sig(k * (t - a - o))) + sig(k * (t - b - o))
    got = P.basket_mask(torch.tensor([t]), a, b, k)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert got.item() == pytest.approx(0.15155, abs=1e-4)


def test_basket_mask_is_zero_inside_one_outside_when_sharp():
    t = P.dimension_positions(100)
    m = P.basket_mask(t, 0.3, 0.6, 1e4)
    inside = (t > 0.31) & (t < 0.59)
    outside = (t < 0.29) | (t > 0.61)
    assert m[inside].max() < 1e-6
    assert torch.allclose(m[outside], torch.ones(int(outside.sum())), atol=1e-5)


def test_sharpness_schedule():
    kw = dict(start=5, end=100, sharpen=10000, sharpening=500000, final_sharpening=100000)
    assert P.sharpness(0, **kw) == 5
    assert P.sharpness(250000, **kw) == pytest.approx(52.5)
    assert P.sharpness(500000, **kw) == pytest.approx(100)
    assert P.sharpness(550000, **kw) == pytest.approx(5050)
    assert P.sharpness(600000, **kw) == pytest.approx(10000)
    assert P.sharpness(2000000, **kw) == pytest.approx(10000)
    # defaults: 5 -> 100, then stays at 100
    assert P.sharpness(10 ** 7) == pytest.approx(100)


def test_factor_masks_select_each_partition():
    bounds = torch.tensor([0.25, 0.5, 1.0])
    t = P.dimension_positions(8)            # 0.125 ... 1.0
    for factor, (a, b) in enumerate([(0, 0.25), (0.25, 0.5), (0.5, 1.0)]):
        m = P.factor_mask(8, bounds, factor, 1e4)
        inside = (t > a + 1e-3) & (t < b - 1e-3)
        assert torch.all(m[inside] < 1e-4), factor
        outside = ((t < a - 1e-3) | (t > b + 1e-3)) & (t < 1)
        assert torch.all(m[outside] > 1 - 1e-4), factor
    # t = 1 (the last dimension) is where the shifted baskets meet: it lies on the edge of the
    # lighting partition (a = 0 wraps to 1) and of the material partition (b = 1), mask 1/2.
    assert P.factor_mask(8, bounds, 0, 1e4)[-1].item() == pytest.approx(0.5)
    assert P.factor_mask(8, bounds, 2, 1e4)[-1].item() == pytest.approx(0.5)
    assert P.factor_mask(8, bounds, 1, 1e4)[-1].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="factor"):
        P.factor_mask(8, bounds, 3, 10.0)


def test_static_mask_thirds():
    m = P.static_factor_mask(9, 1)
    assert m.tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 1]
    assert P.static_factor_mask(10, 2).tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert P.static_factor_mask(10, 0).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]


def test_factor_aggregation_by_hand():
    # B=2 scenes, N=2 views, r=2, 1x1
    rk = torch.tensor([[[1.0, 10.0], [3.0, 30.0]],
                       [[5.0, 50.0], [7.0, 70.0]]]).view(2, 2, 2, 1, 1)
    mask = torch.tensor([0.0, 1.0])          # dim 0 scene-specific, dim 1 shared
    r = P.aggregate_factor(rk, mask).view(2, 2)
    # dim 0: per-scene view means 2 and 6; dim 1: mean over all 4 = 40
    assert r.tolist() == [[2.0, 40.0], [6.0, 40.0]]
    half = P.aggregate_factor(rk, torch.tensor([0.5, 0.5])).view(2, 2)
    assert torch.allclose(half, torch.tensor([[3.0, 30.0], [5.0, 50.0]]))


def test_null_partition_mask_and_loss():
    fr = torch.tensor([0.25, 0.25, 0.25, 0.25])
    m = P.null_partition_mask(8, P.partition_boundaries(fr), 1e4)
    assert m.min() >= 0 and m.max() <= 1
    assert torch.allclose(m[:5], torch.ones(5), atol=1e-4)     # t <= 0.625 kept
    assert m[6] < 1e-4                                         # t = 0.875 zeroed
    assert m[7].item() == pytest.approx(0.5)                   # t = 1 sits on the edge b = 1
    loss = P.null_partition_loss(fr, 512, 0.01)
    assert loss.item() == pytest.approx(0.01 * 2 * 0.75)


def test_gradient_regularization_worked_example():
    grad = torch.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]).view(2, 3, 1, 1)
    mask = torch.tensor([1.0, 0.0, 1.0])   # dim 1 = the varying partition
    # g = 1: masked dims get mean - grad (means 2, 4), dim 1 untouched
    out = P.regularize_gradient(grad, mask, 1.0).view(2, 3)
    assert out.tolist() == [[1.0, 2.0, 1.0], [-1.0, 4.0, -1.0]]
    # g = 0.5: 0.5*(mean - grad) + 0.5*grad = 0.5*mean
    out = P.regularize_gradient(grad, mask, 0.5).view(2, 3)
    assert out.tolist() == [[1.0, 2.0, 2.0], [1.0, 4.0, 2.0]]
    # g = 0: identity
    assert torch.equal(P.regularize_gradient(grad, mask, 0.0), grad)


def test_gradient_regularization_hook_acts_during_backward():
    w = torch.ones(2, 3, 1, 1, requires_grad=True)
    r = w * 1.0
    P.register_gradient_regularization(r, torch.tensor([1.0, 0.0, 1.0]), 1.0)
    upstream = torch.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]).view(2, 3, 1, 1)
    (r * upstream).sum().backward()
    assert w.grad.view(2, 3).tolist() == [[1.0, 2.0, 1.0], [-1.0, 4.0, -1.0]]
    assert P.register_gradient_regularization(torch.ones(2), torch.ones(2), 1.0) is None


def test_invariance_penalty_worked_examples():
    # 3 scenes x 2 views x r = 4, 1 x 1; the varying factor owns dimensions 0 and 1 (mask 0 there)
    mask = torch.tensor([0.0, 0.0, 1.0, 1.0])
    rk = torch.zeros(3, 2, 4, 1, 1)
    rk[:, :, 0, 0, 0] = torch.tensor([1.0, 2.0, 3.0]).view(3, 1)        # varies only in its partition
    rk[:, :, 2, 0, 0] = 5.0                                               # shared: constant
    assert P.invariance_penalty(rk, mask).item() == pytest.approx(0.0, abs=1e-7)
    # dimension 3 varies with the same per-scene variance as dimension 0: half the variance outside
    rk[:, :, 3, 0, 0] = torch.tensor([7.0, 8.0, 9.0]).view(3, 1)
    assert P.invariance_penalty(rk, mask).item() == pytest.approx(0.5, rel=1e-6)
    # scale-free, and the views' differences within a scene do not count (per-scene means)
    assert P.invariance_penalty(10 * rk, mask).item() == pytest.approx(0.5, rel=1e-6)
    rk[:, 0, 2, 0, 0] += 1.0
    rk[:, 1, 2, 0, 0] -= 1.0
    assert P.invariance_penalty(rk, mask).item() == pytest.approx(0.5, rel=1e-6)
    # by hand: variances 2/3 (dim 0) and 8/3 (dim 3, twice the spread) -> (8/3) / (2/3 + 8/3) = 0.8
    rk[:, :, 3, 0, 0] = torch.tensor([0.0, 2.0, 4.0]).view(3, 1)
    assert P.invariance_penalty(rk, mask).item() == pytest.approx(0.8, rel=1e-6)
    # one scene has no variance to share out
    assert P.invariance_penalty(rk[:1], mask).item() == 0.0


def test_invariance_penalty_moves_the_features_not_the_mask():
    rk = torch.randn(4, 3, 6, 2, 2, requires_grad=True)
    deltas = torch.zeros(3, requires_grad=True)
    mask = P.factor_mask(6, P.partition_boundaries(P.partition_fractions(deltas)), 2, 100.0)
    P.invariance_penalty(rk, mask).backward()
    assert deltas.grad is None
    assert rk.grad is not None and rk.grad.abs().sum() > 0


def test_aggregate_composite_worked_examples():
    # 3 scenes x 2 views x r = 4; the varying factor owns dimensions 0 and 1 (mask 0 there)
    mask = torch.tensor([0.0, 0.0, 1.0, 1.0])
    rk = torch.zeros(3, 2, 4, 1, 1)
    rk[:, :, 0, 0, 0] = torch.tensor([1.0, 2.0, 3.0]).view(3, 1)        # the varying factor
    rk[:, :, 2, 0, 0] = 5.0                                               # shared and constant
    # a representation that keeps the factor in its partition: composites are the paper's aggregation
    for shift in (1, 2):
        assert torch.equal(P.aggregate_composite(rk, mask, shift), P.aggregate_factor(rk, mask))
    # dimension 3 also describes the varying factor (a leak): scene b reads scene b - shift's value there
    rk[:, :, 3, 0, 0] = torch.tensor([7.0, 8.0, 9.0]).view(3, 1)
    out = P.aggregate_composite(rk, mask, 1)[:, :, 0, 0]
    assert out[:, 0].tolist() == [1.0, 2.0, 3.0]                          # own varying partition
    assert out[:, 3].tolist() == [9.0, 7.0, 8.0]                          # the previous scene's shared part
    assert P.aggregate_factor(rk, mask)[:, 3, 0, 0].tolist() == [8.0, 8.0, 8.0]   # the mean, for contrast
    # shift 0: every scene its own (the per-scene mean over the views)
    assert torch.equal(P.aggregate_composite(rk, mask, 0), rk.mean(dim=1))
    # a soft mask blends the two
    half = torch.tensor([0.0, 0.0, 0.5, 0.5])
    assert P.aggregate_composite(rk, half, 1)[0, 3, 0, 0].item() == pytest.approx(0.5 * 7 + 0.5 * 9)


def test_aggregate_composite_sends_gradients_to_both_scenes():
    rk = torch.randn(2, 3, 4, 1, 1, requires_grad=True)
    mask = torch.tensor([0.0, 1.0, 1.0, 1.0])
    P.aggregate_composite(rk, mask, 1)[0].sum().backward()     # scene 0: its dim 0, scene 1's dims 1..3
    g = rk.grad[:, :, :, 0, 0]
    assert torch.allclose(g[0, :, 0], torch.full((3,), 1 / 3)) and g[0, :, 1:].abs().sum() == 0
    assert torch.allclose(g[1, :, 1:], torch.full((3, 3), 1 / 3)) and g[1, :, 0].abs().sum() == 0

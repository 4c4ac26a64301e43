"""Generator losses on inputs with known values."""
import math

import pytest
import torch

from cnsr.models import losses as L


def test_logl1_known_value():
    y = torch.full((1, 3, 4, 4), math.e - 1)          # log1p(y) = 1
    Y = torch.full((1, 3, 4, 4), 1.5)
    assert L.logl1(Y, y).item() == pytest.approx(2 * 0.5)


def test_l1_and_logl2_known_values():
    y = torch.zeros(2, 1, 4, 4)
    Y = torch.full((2, 1, 4, 4), 0.25)
    assert L.l1(Y, y).item() == pytest.approx(0.5)
    assert L.logl2(Y, y).item() == pytest.approx(250 * 2 * 0.0625)


def test_ssim_losses_zero_for_identical_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 32, 32, generator=g)
    assert L.ssim_loss(y, y).item() == pytest.approx(0.0, abs=1e-5)
    assert L.logssim(torch.log1p(y), y).item() == pytest.approx(0.0, abs=1e-5)
    noisy = y + 0.3 * torch.rand(2, 3, 32, 32, generator=g)
    assert L.ssim_loss(noisy, y).item() > 0.05


def test_ssim_of_constant_images_matches_formula():
    # For constant images mu_x=a, mu_y=b, sigmas 0: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b, c1 = 0.2, 0.6, 0.01 ** 2
    x = torch.full((1, 1, 24, 24), a)
    y = torch.full((1, 1, 24, 24), b)
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert L.ssim(x, y).item() == pytest.approx(expected, rel=1e-4)


def test_nll_and_annealing():
    assert L.annealed_sigma(0, 2.0, 0.1, 2e5) == pytest.approx(2.0)
    assert L.annealed_sigma(1e5, 2.0, 0.1, 2e5) == pytest.approx(1.05)
    assert L.annealed_sigma(1e6, 2.0, 0.1, 2e5) == pytest.approx(0.1)
    Y = torch.zeros(1, 1, 2, 2)
    y = torch.ones(1, 1, 2, 2)
    expected = 0.2 * (0.5 * (1 / 2.0) ** 2 + math.log(2.0) + 0.5 * math.log(2 * math.pi))
    assert L.nll(Y, y, 0).item() == pytest.approx(expected, rel=1e-6)
    ref = -torch.distributions.Normal(Y, 0.7).log_prob(y)
    assert torch.allclose(L.gaussian_nll(Y, y, 0.7), ref)


def test_log_space_and_dispatch():
    assert L.predicts_log(["logl1", "logssim"]) and L.predicts_log(["l1", "logl2"])
    assert not L.predicts_log(["l1", "ssim", "nll"])
    Y, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    out = L.image_losses(["logl1", "l1"], Y, y)
    assert set(out) == {"logl1", "l1"} and all(v.dim() == 0 for v in out.values())


def test_relmse_known_value_and_no_gradient_through_its_weight():
    y = torch.full((1, 1, 2, 2), 0.5)
    Y = torch.full((1, 1, 2, 2), math.log1p(0.99), requires_grad=True)     # x = 0.99
    loss = L.relmse(Y, y)
    assert loss.item() == pytest.approx((0.49 / 1.0) ** 2)
    loss.backward()
    # d/dY of (x - y)^2 / w with w held: 2 (x - y) / w * dx/dY, dx/dY = x + 1, averaged over 4 pixels
    assert Y.grad[0, 0, 0, 0].item() == pytest.approx(2 * 0.49 / 1.0 * 1.99 / 4, rel=1e-5)
    assert L.predicts_log(["relmse"])
    below = torch.full((1, 1, 2, 2), math.log1p(-0.02))                     # x = -0.02: weighs as x = 0
    assert L.relmse(below, y).item() == pytest.approx((0.52 / 0.01) ** 2)


@pytest.mark.parametrize("name, stat", [("relmse", "mean"), ("logl1", "median")])
def test_a_constant_fitted_to_skewed_noise_goes_to_the_mean_under_relmse_the_median_under_logl1(name, stat):
    """Fit one value to many samples of skewed (exponential, like path-tracing noise) targets:
    relmse's minimiser is the samples' mean, log-L1's their median (log 2 = 0.69 of the mean)."""
    g = torch.Generator().manual_seed(0)
    y = torch.empty(1, 1, 64, 64).exponential_(1.0, generator=g) * 0.3
    Y = torch.full((1, 1, 1, 1), math.log1p(0.1), requires_grad=True)
    opt = torch.optim.Adam([Y], lr=0.02)
    for _ in range(1500):
        opt.zero_grad()
        L.image_losses([name], Y.expand_as(y), y)[name].backward()
        opt.step()
    fitted = torch.expm1(Y).item()
    expected = y.mean().item() if stat == "mean" else y.median().item()
    assert fitted == pytest.approx(expected, rel=0.02)
    if stat == "median":                                  # well below the mean log-L1 does not reach
        assert fitted < 0.75 * y.mean().item()

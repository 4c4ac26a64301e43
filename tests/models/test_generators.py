"""Generators: shapes for every option, reference parameter layout, fast paths against naive ones."""
import pytest
import torch
import torch.nn.functional as F

from cnsr.models.generators import GQNGenerator, PixelGenerator, SumGenerator, UnetGenerator
from cnsr.models.generators.gqn import GRUCore, LSTMCore, normal_kl
from cnsr.models.generators.unet import REFERENCE_CHANNELS, UnetSettings, up_path_names


def inputs(b=2, x_dim=7, r_dim=12, w=16, r_size=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, x_dim, w, w, generator=g), torch.randn(b, 16, 1, 1, generator=g),
            torch.randn(b, r_dim, r_size, r_size, generator=g))


def naive_pixel(net: PixelGenerator, x, v, r):
    """The pixel generator written the reference's way: tile, concatenate, 1x1 conv."""
    h, w = x.shape[-2:]
    r = r.expand(-1, -1, h, w) if r.shape[-1] == 1 else F.interpolate(r, size=(h, w))
    v = v.expand(-1, -1, h, w)
    X = F.leaky_relu(net.input(torch.cat([x, v, r], 1)))
    for layer in net.layers:
        parts = [X] + ([x] if net.propagate_buffers else []) + ([r] if net.propagate_representation else []) \
            + ([v] if net.propagate_viewpoint else [])
        X = F.leaky_relu(layer(torch.cat(parts, 1)))
    X = net.final(X)
    return F.relu(X) if net.end_relu else X


@pytest.mark.parametrize("buffers", [False, True])
@pytest.mark.parametrize("representation", [False, True])
@pytest.mark.parametrize("viewpoint", [False, True])
def test_pixel_generator_matches_naive_for_every_propagate_option(buffers, representation, viewpoint):
    torch.manual_seed(0)
    net = PixelGenerator(7, 12, 3, layers=2, hidden_units=16, propagate_buffers=buffers,
                         propagate_representation=representation, propagate_viewpoint=viewpoint,
                         end_relu=False)
    x, v, r = inputs()
    Y = net.predict(x, v, r)
    assert Y.shape == (2, 3, 16, 16)
    assert torch.allclose(Y, naive_pixel(net, x, v, r), atol=1e-5)
    prop = 7 * buffers + 12 * representation + 16 * viewpoint
    assert net.layers[0].weight.shape == (16, 16 + prop, 1, 1)


def test_pixel_generator_spatial_representation_and_no_buffers_and_gradients():
    torch.manual_seed(0)
    net = PixelGenerator(7, 12, 3, layers=1, hidden_units=8, propagate_buffers=True)
    x, v, r = inputs(r_size=4)
    assert torch.allclose(net.predict(x, v, r), naive_pixel(net, x, v, r), atol=1e-5)
    empty = PixelGenerator(0, 12, 3, layers=1, hidden_units=8)
    x0 = torch.zeros(2, 0, 8, 8)
    out = empty.predict(x0, v, inputs()[2])
    assert out.shape == (2, 3, 8, 8) and torch.allclose(out, naive_pixel(empty, x0, v, inputs()[2]), atol=1e-5)
    # gradients agree with the naive formulation too
    x, v, r = inputs()
    naive_pixel(net, x, v, r).square().sum().backward()
    ref = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    net.predict(x, v, r).square().sum().backward()
    for a, p in zip(ref, net.parameters()):
        assert torch.allclose(a, p.grad, rtol=1e-4, atol=1e-5)


def test_pixel_generator_fourier_features_of_the_query_buffers():
    """The input layer reads cat(x, sin(2^k pi x), cos(2^k pi x)); the hidden layers the raw x."""
    from cnsr.models.generators.pixel import fourier

    x = torch.tensor([[0.25, -1.0]])
    f = fourier(x, 2)        # x0, x1, sin(pi x0), sin(2pi x0), sin(pi x1), sin(2pi x1), cos(...) likewise
    expected = [0.25, -1.0, 2 ** -0.5, 1.0, 0.0, 0.0, 2 ** -0.5, 0.0, -1.0, 1.0]
    assert torch.allclose(f, torch.tensor([expected]), atol=1e-6)
    assert fourier(x, 0) is x
    torch.manual_seed(0)
    net = PixelGenerator(7, 12, 3, layers=2, hidden_units=16, propagate_buffers=True, fourier_features=3,
                         end_relu=False)
    assert net.input.weight.shape == (16, 7 * 7 + 16 + 12, 1, 1)
    assert net.layers[0].weight.shape == (16, 16 + 7 + 12 + 16, 1, 1)
    x, v, r = inputs()
    h, w = x.shape[-2:]
    enc = fourier(x.permute(0, 2, 3, 1), 3).permute(0, 3, 1, 2)
    X = F.leaky_relu(net.input(torch.cat([enc, v.expand(-1, -1, h, w), r.expand(-1, -1, h, w)], 1)))
    for layer in net.layers:
        X = F.leaky_relu(layer(torch.cat([X, x, r.expand(-1, -1, h, w), v.expand(-1, -1, h, w)], 1)))
    assert torch.allclose(net.predict(x, v, r), net.final(X), atol=1e-5)


def test_pixel_generator_log_space_and_losses():
    net = PixelGenerator(7, 12, 3, layers=1, hidden_units=8, losses=["logl1", "logssim"])
    x, v, r = inputs()
    y = torch.rand(2, 3, 16, 16)
    Y, losses = net.train_forward(x, y, v, r, 0)
    assert set(losses) == {"logl1", "logssim"}
    assert torch.allclose(net.sample(x, v, r), torch.expm1(net.predict(x, v, r)))
    assert torch.allclose(Y, net.sample(x, v, r))
    lin = PixelGenerator(7, 12, 3, layers=1, hidden_units=8, losses=["l1"])
    assert torch.allclose(lin.sample(x, v, r), lin.predict(x, v, r))


def test_unet_shapes_and_names():
    net = UnetGenerator(7, 12, 3, channels=[4, 8, 8, 8], losses=["l1"])
    x, v, r = inputs(w=16)
    assert net.predict(x, v, r).shape == (2, 3, 16, 16)
    assert net.predict(*inputs(w=32)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="divisible"):
        net.predict(*inputs(w=12))
    names = {n.split(".")[0] for n, _ in net.named_parameters()}
    assert names == {"down_block1", "down_block2", "down_block3", "down_block4", "upscale1", "upscale2",
                     "upscale3", "up_block1", "up_block2", "up_block3", "final"}
    assert net.down_block2.model[0].weight.shape == (8, 4 + 12 + 16, 3, 3)
    assert up_path_names(7) == [4, 5, 6, 1, 2, 3]
    tower = UnetGenerator(7, 12, 3, channels=[4, 8, 8], losses=["l1"])
    assert tower.predict(*inputs(w=16, r_size=4)).shape == (2, 3, 16, 16)


def test_reference_unet_layout():
    net = UnetGenerator(7, 256, 3)
    assert net.down_block7.model[2].weight.shape == (512, 512, 3, 3)
    assert net.upscale4.weight.shape == (512, 512, 4, 4) and net.up_block4.model[0].weight.shape[1] == 1024
    assert net.upscale3.weight.shape == (256, 128, 4, 4) and net.up_block3.model[0].weight.shape[1] == 256
    assert net.final.weight.shape == (3, 128, 1, 1)


def test_lstm_core_matches_unfused_gates():
    torch.manual_seed(0)
    core = LSTMCore(5, 4)
    x, h, c = torch.randn(2, 5, 6, 6), torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    hx = torch.cat([h, x], 1)
    f, i, o, s = (torch.sigmoid(core.forget(hx)), torch.sigmoid(core.input(hx)),
                  torch.sigmoid(core.output(hx)), torch.tanh(core.state(hx)))
    c_ref = f * c + i * s
    h2, c2 = core(x, h, c)
    assert torch.allclose(c2, c_ref, atol=1e-6) and torch.allclose(h2, o * torch.tanh(c_ref), atol=1e-6)


def test_gru_core_matches_unfused_gates():
    torch.manual_seed(0)
    core = GRUCore(5, 4)
    x, h = torch.randn(2, 5, 6, 6), torch.randn(2, 4, 6, 6)
    hx = torch.cat([h, x], 1)
    reset, update = torch.sigmoid(core.reset(hx)), torch.sigmoid(core.update(hx))
    s = torch.tanh(core.state(torch.cat([h * reset, x], 1)))
    h2, _ = core(x, h)
    assert torch.allclose(h2, h * (1 - update) + s * update, atol=1e-6)


def test_normal_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mq, mp = torch.randn(10, generator=g), torch.randn(10, generator=g)
    sq, sp = torch.rand(10, generator=g) + 0.1, torch.rand(10, generator=g) + 0.1
    D = torch.distributions
    ref = D.kl_divergence(D.Normal(mq, sq), D.Normal(mp, sp))
    assert torch.allclose(normal_kl(mq, sq, mp, sp), ref, atol=1e-5)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("share,upshare", [(False, True), (True, False), (True, True), (False, False)])
def test_gqn_shapes_and_sharing(cell, share, upshare):
    net = GQNGenerator(7, 12, 3, render_size=16, cell_type=cell, state_dim=8, core_count=3,
                       weight_sharing=share, upscale_sharing=upshare)
    x, v, r = inputs(w=16)
    y = torch.rand(2, 3, 16, 16)
    Y, losses = net.train_forward(x, y, v, r, 0)
    assert Y.shape == (2, 3, 16, 16) and set(losses) == {"kl", "ll"}
    assert all(torch.isfinite(val) for val in losses.values())
    sum(losses.values()).backward()
    assert net.posterior.weight.grad is not None and net.downsample.weight.grad is not None
    assert net.sample(x, v, r).shape == (2, 3, 16, 16)
    assert isinstance(net.generator, torch.nn.ModuleList) != share
    assert isinstance(net.upsample, torch.nn.ModuleList) != upshare
    tower_r = torch.randn(2, 12, 4, 4)                  # a Tower representation at w/4
    assert net.sample(x, v, tower_r).shape == (2, 3, 16, 16)


def test_gqn_loss_normalisation_and_sigma_annealing():
    torch.manual_seed(0)
    net = GQNGenerator(0, 4, 3, render_size=8, state_dim=4, core_count=1)
    x, v, r = torch.zeros(2, 0, 8, 8), torch.randn(2, 16, 1, 1), torch.randn(2, 4, 1, 1)
    y = torch.rand(2, 3, 8, 8)
    torch.manual_seed(1)
    Y, early = net.train_forward(x, y, v, r, 0)
    torch.manual_seed(1)
    _, late = net.train_forward(x, y, v, r, 10 ** 6)
    mean = torch.log1p(Y)
    for loss, sigma in ((early, 2.0), (late, 0.7)):
        nll = -torch.distributions.Normal(mean, sigma).log_prob(torch.log1p(y)).sum((1, 2, 3)).mean()
        assert loss["ll"].item() == pytest.approx(nll.item() / (8 * 25), rel=1e-4)
    assert not hasattr(net, "downsample")


def test_sum_generator():
    net = SumGenerator([3, 3])
    a, b = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    Y, losses = net.train_forward(torch.cat([a, b], 1), None, None, None, 0)
    assert torch.allclose(Y, a + b) and losses == {} and not list(net.parameters())


def test_unet_config_default_is_the_reference_channels():
    """The model takes a U-net's channels from the config, whose default must stay the reference's."""
    assert tuple(UnetSettings().channels) == REFERENCE_CHANNELS

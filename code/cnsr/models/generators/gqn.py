"""The GQN generator (Eslami et al. 2018): a recurrent latent-variable model (DRAW-like).

``core_count`` steps of convolutional LSTM (or GRU) cores with 5x5 convolutions run at
render_size / downscaling. Each step samples a latent z (from the posterior while training,
the prior at test time), updates the generator state and adds its upsampled state to a
full-resolution canvas; a 1x1 conv maps the canvas to the output (log1p space). The loss is
the negative ELBO: KL(posterior || prior) + NLL of log1p(y) under N(mean, sigma), sigma
annealed 2.0 -> 0.7 over 2e5 iterations, both divided by (width * 25).

Concatenation orders and names follow the reference checkpoints: cores' gates act on
cat(h, input); inference input cat(h_gen, y_down, v, r); generator input cat(v, r, z, x_down);
prior/posterior outputs are (mean, raw std) with std = softplus(raw).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import loss_setting, register_generator
from ...settings import SettingError, Settings, setting
from ..losses import annealed_sigma, gaussian_nll
from .base import Generator, broadcast_spatial


@dataclass
class GQNSettings(Settings):
    """``settings`` of a ``GQN`` generator (the reference's keys and defaults; the sigma schedule is ours)."""
    cell_type: str = setting("LSTM", "recurrent core: convolutional LSTM or GRU", choices=("LSTM", "GRU"))
    latent_dim: int = setting(3, "channels of the latent z drawn at every step", min=1)
    state_dim: int = setting(128, "channels of the cores' hidden state and of the canvas", min=1)
    core_count: int = setting(12, "recurrent steps (cores)", min=1)
    downscaling: int = setting(4, "the cores run at render_size / downscaling", min=1)
    weight_sharing: bool = setting(False, "one inference and one generator core for all steps")
    upscale_sharing: bool = setting(True, "one transposed conv (state -> canvas) for all steps")
    # sigma annealing of the Gaussian likelihood (Eslami et al. 2018)
    sigma_start: float = setting(2.0, "likelihood sigma at iteration 0 (> 0)", ours=True)
    sigma_end: float = setting(0.7, "likelihood sigma after sigma_steps iterations (> 0)", ours=True)
    sigma_steps: int = setting(200000, "iterations of the linear sigma annealing", min=1, ours=True)
    loss: List[str] = loss_setting(["nll"], "accepted as in the reference configs; the GQN always "
                                            "trains on its ELBO (KL + NLL)")

    def check(self, spec, position):
        size = getattr(spec, "render_size", None)
        if size is not None and size % self.downscaling:
            raise SettingError("downscaling", f"must divide the render_size {size}, got {self.downscaling}")
        for key in ("sigma_start", "sigma_end"):
            if getattr(self, key) <= 0:
                raise SettingError(key, f"must be > 0, got {getattr(self, key)}")


_DEFAULT = GQNSettings()


def _fused_conv(x: torch.Tensor, convs, padding: int) -> torch.Tensor:
    """Apply several same-input convs as one (concatenated weights): one kernel, one GEMM."""
    weight = torch.cat([c.weight for c in convs], dim=0)
    bias = torch.cat([c.bias for c in convs], dim=0)
    return F.conv2d(x, weight, bias, padding=padding)


class LSTMCore(nn.Module):
    """Convolutional LSTM cell; gates ``forget, input, output, state`` on cat(h, x)."""

    def __init__(self, in_dim: int, h_dim: int, kernel_size: int = 5):
        super().__init__()
        pad = kernel_size // 2
        self.padding = pad
        self.forget = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)
        self.input = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)
        self.output = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)
        self.state = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)

    def forward(self, x, h, c):
        gates = _fused_conv(torch.cat([h, x], dim=1), (self.forget, self.input, self.output, self.state),
                            self.padding)
        f, i, o, s = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(s)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class GRUCore(nn.Module):
    """Convolutional GRU cell; ``reset, update`` on cat(h, x), ``state`` on cat(h * reset, x)."""

    def __init__(self, in_dim: int, h_dim: int, kernel_size: int = 5):
        super().__init__()
        pad = kernel_size // 2
        self.padding = pad
        self.reset = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)
        self.update = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)
        self.state = nn.Conv2d(in_dim + h_dim, h_dim, kernel_size, padding=pad)

    def forward(self, x, h, c=None):
        reset, update = _fused_conv(torch.cat([h, x], dim=1), (self.reset, self.update),
                                    self.padding).sigmoid().chunk(2, dim=1)
        s = torch.tanh(self.state(torch.cat([h * reset, x], dim=1)))
        return h * (1 - update) + s * update, None


def normal_kl(mq, sq, mp, sp) -> torch.Tensor:
    """Elementwise KL(N(mq, sq^2) || N(mp, sp^2))."""
    return torch.log(sp / sq) + (sq.square() + (mq - mp).square()) / (2 * sp.square()) - 0.5


@register_generator("GQN", settings=GQNSettings, log_space=True, default=True)   # the reference's default type
class GQNGenerator(Generator):
    """GQN generator. x [B, x_dim, H, W], v [B, v_dim, 1, 1], r [B, r_dim, h, w] -> [B, out_dim, H, W]."""

    def __init__(self, x_dim: int, r_dim: int, out_dim: int, v_dim: int = 16, render_size: int = 64,
                 cell_type: str = _DEFAULT.cell_type, latent_dim: int = _DEFAULT.latent_dim,
                 state_dim: int = _DEFAULT.state_dim, core_count: int = _DEFAULT.core_count,
                 downscaling: int = _DEFAULT.downscaling, weight_sharing: bool = _DEFAULT.weight_sharing,
                 upscale_sharing: bool = _DEFAULT.upscale_sharing, sigma_start: float = _DEFAULT.sigma_start,
                 sigma_end: float = _DEFAULT.sigma_end, sigma_steps: int = _DEFAULT.sigma_steps):
        super().__init__()
        self.x_dim, self.r_dim, self.out_dim, self.v_dim = x_dim, r_dim, out_dim, v_dim
        self.width = render_size
        self.h_dim, self.z_dim, self.core_count, self.scaling = state_dim, latent_dim, core_count, downscaling
        self.weight_sharing, self.upscale_sharing = weight_sharing, upscale_sharing
        self.sigma = (sigma_start, sigma_end, sigma_steps)
        self.lstm = cell_type == "LSTM"
        core = LSTMCore if self.lstm else GRUCore
        inference_dim = v_dim + r_dim + out_dim + state_dim
        generator_dim = v_dim + r_dim + latent_dim + x_dim
        if weight_sharing:
            self.inference = core(inference_dim, state_dim)
            self.generator = core(generator_dim, state_dim)
        else:
            self.inference = nn.ModuleList(core(inference_dim, state_dim) for _ in range(core_count))
            self.generator = nn.ModuleList(core(generator_dim, state_dim) for _ in range(core_count))
        self.prior = nn.Conv2d(state_dim, 2 * latent_dim, 5, padding=2)
        self.posterior = nn.Conv2d(state_dim, 2 * latent_dim, 5, padding=2)
        self.observation = nn.Conv2d(state_dim, out_dim, 1)
        if x_dim > 0:
            # No bias: the downsampled buffers should carry only what is in the buffers.
            self.downsample = nn.Conv2d(x_dim, x_dim, downscaling, stride=downscaling, bias=False)

        def up():
            return nn.ConvTranspose2d(state_dim, state_dim, downscaling, stride=downscaling, bias=False)
        self.upsample = up() if upscale_sharing else nn.ModuleList(up() for _ in range(core_count))

    @classmethod
    def from_config(cls, s: GQNSettings, io, previous) -> "GQNGenerator":
        kw = s.to_dict()
        kw.pop("loss")   # the GQN's loss is its ELBO
        return cls(io.x_dim, io.r_dim, io.out_dim, io.v_dim, io.render_size, **kw)

    def _core(self, cores, step):
        return cores if self.weight_sharing else cores[step]

    def _upsample(self, step):
        return self.upsample if self.upscale_sharing else self.upsample[step]

    def _distribution(self, conv, h) -> Tuple[torch.Tensor, torch.Tensor]:
        mean, raw = conv(h).chunk(2, dim=1)
        return mean, F.softplus(raw)

    def _inputs(self, x, v, r, size):
        ds = size // self.scaling
        b = v.shape[0]
        x_ds = self.downsample(x) if self.x_dim > 0 else v.new_zeros(b, 0, ds, ds)
        vr = torch.cat([broadcast_spatial(v, ds, ds), broadcast_spatial(r, ds, ds)], dim=1)
        zeros = v.new_zeros(b, self.h_dim, ds, ds)
        return ds, x_ds, vr, zeros

    def train_forward(self, x, y, v, r, iteration):
        size = y.shape[-1]
        ds, x_ds, vr, zeros = self._inputs(x, v, r, size)
        y_ds = F.interpolate(y, size=(ds, ds), mode="nearest")
        h_inf, c_inf, h_gen, c_gen = zeros, zeros, zeros, zeros
        canvas = v.new_zeros(y.shape[0], self.h_dim, size, size)
        kl = 0
        for step in range(self.core_count):
            mp, sp = self._distribution(self.prior, h_gen)
            inf_in = torch.cat([h_gen, y_ds, vr], dim=1)
            h_inf, c_inf = self._core(self.inference, step)(inf_in, h_inf, c_inf)
            mq, sq = self._distribution(self.posterior, h_inf)
            z = mq + sq * torch.randn_like(mq)
            h_gen, c_gen = self._core(self.generator, step)(torch.cat([vr, z, x_ds], dim=1), h_gen, c_gen)
            canvas = canvas + self._upsample(step)(h_gen)
            kl = kl + normal_kl(mq, sq, mp, sp)
        mean = self.observation(canvas)
        sigma = annealed_sigma(iteration, *self.sigma)
        nll = gaussian_nll(mean, torch.log1p(y), sigma).sum(dim=(1, 2, 3))
        kl = kl.sum(dim=(1, 2, 3))
        norm = self.width * 25
        losses = {"kl": (kl / norm).mean(), "ll": (nll / norm).mean()}
        return torch.expm1(mean), losses

    def sample(self, x, v, r):
        size = x.shape[-1]
        ds, x_ds, vr, zeros = self._inputs(x, v, r, size)
        h_gen, c_gen = zeros, zeros
        canvas = v.new_zeros(v.shape[0], self.h_dim, size, size)
        for step in range(self.core_count):
            mp, sp = self._distribution(self.prior, h_gen)
            z = mp + sp * torch.randn_like(mp)
            h_gen, c_gen = self._core(self.generator, step)(torch.cat([vr, z, x_ds], dim=1), h_gen, c_gen)
            canvas = canvas + self._upsample(step)(h_gen)
        return torch.expm1(self.observation(canvas))

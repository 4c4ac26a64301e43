"""Generators without weights of their own: ``Sum`` adds passes, ``Copy`` reuses an earlier generator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ...registry import register_generator
from ...settings import SettingError, Settings, setting
from .base import Generator


@dataclass
class SumSettings(Settings):
    """A ``Sum`` generator has no settings."""


@register_generator("Sum", settings=SumSettings, trainable=False, per_pixel=True)
class SumGenerator(Generator):
    """Adds its query passes (e.g. direct + indirect -> beauty); no parameters, no loss."""

    def __init__(self, pass_channels: Sequence[int]):
        super().__init__()
        self.pass_channels = list(pass_channels)

    @classmethod
    def from_config(cls, settings: SumSettings, io, previous) -> "SumGenerator":
        return cls(io.query_channels)

    def sample(self, x, v, r):
        parts = torch.split(x, self.pass_channels, dim=1)
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out

    def train_forward(self, x, y, v, r, iteration):
        return self.sample(x, v, r), {}


@dataclass
class CopySettings(Settings):
    """``settings`` of a ``Copy`` generator: which earlier generator it runs again (same weights)."""
    index: Optional[int] = setting(None, "index of the earlier generator to reuse (required)")

    def check(self, spec, position):
        if self.index is None:
            raise SettingError("index", "a Copy generator needs the index of the generator it reuses")
        if not 0 <= self.index < position:
            raise SettingError("index", "must name an earlier generator")


@register_generator("Copy", settings=CopySettings, trainable=False, reuses="index")
def copy_generator(settings: CopySettings, io, previous):
    """The earlier generator itself: its parameters are shared (and counted once)."""
    return previous[settings.index]

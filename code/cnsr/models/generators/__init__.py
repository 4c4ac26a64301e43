"""Generators: query G-buffer + pose + scene representation -> shading passes.

Every module of this package is imported here, so that a generator in a new file registers
itself (``@register_generator``) without being listed anywhere else.
"""
import importlib
import pkgutil

from .base import Generator, ImageGenerator, broadcast_spatial
from .gqn import GQNGenerator, GQNSettings, GRUCore, LSTMCore     # registration order: the order
from .pixel import PixelGenerator, PixelSettings                  # error messages list the types in
from .unet import UnetGenerator, UnetSettings
from .compose import CopySettings, SumGenerator, SumSettings      # noqa: I001

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Generator", "ImageGenerator", "broadcast_spatial", "SumGenerator", "SumSettings", "CopySettings",
           "GQNGenerator", "GQNSettings", "GRUCore", "LSTMCore", "PixelGenerator", "PixelSettings",
           "UnetGenerator", "UnetSettings"]

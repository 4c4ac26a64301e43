"""Generators: query G-buffer + pose + scene representation -> shading passes.

Each registers under its config name with its settings dataclass and capabilities
(``@register_generator``, see :mod:`cnsr.registry`); a new generator is one new file in this
package, found by the registry without being listed.
"""
from .base import Generator, ImageGenerator, broadcast_spatial
from .gqn import GQNGenerator, GQNSettings, GRUCore, LSTMCore     # registration order: the order
from .pixel import PixelGenerator, PixelSettings                  # error messages list the types in
from .unet import UnetGenerator, UnetSettings
from .compose import CopySettings, SumGenerator, SumSettings      # noqa: I001

__all__ = ["Generator", "ImageGenerator", "broadcast_spatial", "SumGenerator", "SumSettings", "CopySettings",
           "GQNGenerator", "GQNSettings", "GRUCore", "LSTMCore", "PixelGenerator", "PixelSettings",
           "UnetGenerator", "UnetSettings"]

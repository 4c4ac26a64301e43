"""Generators: query G-buffer + pose + scene representation -> shading passes."""
from .base import Generator, ImageGenerator, SumGenerator, broadcast_spatial
from .gqn import GQNGenerator, GRUCore, LSTMCore
from .pixel import PixelGenerator
from .unet import UnetGenerator

__all__ = ["Generator", "ImageGenerator", "SumGenerator", "broadcast_spatial", "GQNGenerator",
           "GRUCore", "LSTMCore", "PixelGenerator", "UnetGenerator"]

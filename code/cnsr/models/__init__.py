"""Networks: encoders, partitioning, generators, losses and the full model.

``build_model(cfg)`` builds the model of a config; ``load_reference_state_dict`` loads the
paper's checkpoints (and ours) into it. See docs/ARCHITECTURE.md for the batch layout.
"""
from .encoders import ENCODERS, Encoder, PoolEncoder, PyramidEncoder, TowerEncoder
from .generators import GQNGenerator, PixelGenerator, SumGenerator, UnetGenerator
from .model import (GeneratorChain, RepresentationNetworks, SceneRepresentationModel, build_model,
                    load_reference_state_dict, reference_key)

__all__ = ["ENCODERS", "Encoder", "PoolEncoder", "PyramidEncoder", "TowerEncoder", "GQNGenerator",
           "PixelGenerator", "SumGenerator", "UnetGenerator", "GeneratorChain",
           "RepresentationNetworks", "SceneRepresentationModel", "build_model",
           "load_reference_state_dict", "reference_key"]

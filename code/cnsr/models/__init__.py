"""Networks: encoders, partitioning, generators, losses and the full model.

``build_model(cfg)`` builds the model of a config; ``load_reference_state_dict`` loads the
paper's checkpoints (and ours) into it. See docs/ARCHITECTURE.md for the batch layout.
:mod:`.registry` holds the tables of encoders, generators and losses that configs name.
"""
import importlib

# Lazy: ``cnsr.config`` imports the torch-free ``cnsr.models.registry`` and ``.sharpness``,
# which must not pull torch in through this package's import.
_EXPORTS = {
    "Encoder": "encoders", "PoolEncoder": "encoders",
    "PyramidEncoder": "encoders", "TowerEncoder": "encoders",
    "GQNGenerator": "generators", "PixelGenerator": "generators", "SumGenerator": "generators",
    "UnetGenerator": "generators",
    "GeneratorChain": "model", "RepresentationNetworks": "model", "SceneRepresentationModel": "model",
    "build_model": "model", "load_reference_state_dict": "model", "reference_key": "state_dicts",
    "CheckpointError": "state_dicts",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

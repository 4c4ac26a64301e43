"""Networks: encoders, partitioning, generators, losses and the full model.

``build_model(cfg)`` builds the model of a config; ``load_reference_state_dict`` loads the
paper's checkpoints (and ours) into it. See docs/ARCHITECTURE.md for the batch layout.
The encoders, generators and losses register in :mod:`cnsr.registry`, where configs find them.
"""
import importlib

# Lazy: importing a subpackage (``cnsr.models.encoders`` from the registry, say) must not
# build every module of the package first.
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

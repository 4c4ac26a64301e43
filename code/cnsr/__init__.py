"""cnsr: compositional neural scene representations for shading inference.

Subpackages: ``render`` (the Embree path tracer and scene loading), ``assets`` (built-in
meshes and textures), ``io`` (EXR and PNG files, how passes are shown), ``scenes`` (scene
randomizers), ``data`` (datasets), ``models`` (encoders, partitioning, generators, losses),
``engine`` (training), ``analysis`` (evaluation, compositing, attributions), ``viewer``
(interactive viewers); ``metrics`` (image metrics by name). Command lines live in the
subpackages' ``cli.py`` modules.
"""
__version__ = "0.1.0"


def __getattr__(name):
    # lazy: ``import cnsr`` stays light (no torch) until the entry point is used
    if name == "load_model":
        from .engine.api import load_model
        return load_model
    raise AttributeError(f"module 'cnsr' has no attribute {name!r}")

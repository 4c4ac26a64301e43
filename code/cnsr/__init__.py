"""cnsr: compositional neural scene representations for shading inference.

Subpackages: ``render`` (the Embree path tracer and scene loading), ``assets`` (built-in
meshes and textures), ``scenes`` (scene randomizers), ``data`` (datasets), ``models``
(encoders, partitioning, generators, losses), ``engine`` (training).
"""
__version__ = "0.1.0"

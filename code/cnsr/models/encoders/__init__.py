"""Encoders: observations (G-buffer passes + camera pose) -> a partitioned scene representation.

``PoolEncoder`` is the GQN "pool" network, ``TowerEncoder`` the same without the final average
pooling (a spatial representation at w/4), ``PyramidEncoder`` a strided-conv pyramid. Each
registers under its config name with its settings dataclass
(``@register_encoder("Pyramid", settings=PyramidSettings)``, see :mod:`cnsr.registry`); a new
encoder is one new file in this package, found by the registry without being listed.
"""
from .base import Encoder, tile_pose
from .tower import PoolEncoder, TowerEncoder          # registration order: the order error
from .pyramid import PyramidEncoder, PyramidSettings  # messages list the types in  # noqa: I001

__all__ = ["Encoder", "PoolEncoder", "PyramidEncoder", "PyramidSettings", "TowerEncoder", "tile_pose"]

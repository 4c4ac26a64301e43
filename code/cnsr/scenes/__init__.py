"""Scene randomizers: the PrimitiveRoom family and ArchViz.

```python
from cnsr.scenes import make_randomizer, DATASETS
rz = make_randomizer("room", seed=0)    # a scene is drawn at construction
rz.random_scene()                       # geometry, materials, lighting and view
rz.randomize_lighting(); rz.randomize_geometry(); rz.randomize_materials()   # one factor each
rz.random_view(); rz.animate_view(0.25)                                      # camera only
scene = rz.to_json()                    # dict in the reference scene-file layout, camera included
rz.settings                             # {"bounces", "hide_lights", "cache", "top_level_acceleration"}
```

Reproducibility: a randomizer owns a ``numpy.random.Generator`` seeded with ``seed``; the same
seed and the same calls give the same scenes.

Factors and batches (partition training). Factor ids are ``LIGHTING = 0``, ``GEOMETRY = 1``,
``MATERIAL = 2`` and ``ALL = -1`` (test batches: everything random):

* ``rz.randomize_factor(f)`` re-randomizes factor ``f`` in place; the other two factors and
  the camera are left exactly as they were.
* ``rz.with_factor(f)`` returns a *new* randomizer holding the current scene with factor ``f``
  re-randomized and a fresh random view. It draws from its own random stream, seeded from
  ``rz``'s (so calling it B times gives B different scenes, reproducibly); ``rz``'s scene is
  untouched.
* ``rz.factor_batch(f, batch_size, views_per_scene)`` does what a dataset batch needs: it draws
  a new base scene, then ``batch_size`` scenes via ``with_factor(f)``, each seen from
  ``views_per_scene`` random views, returning ``[scene][view] -> scene dict``. Equivalent to::

      rz.random_scene()
      for b in range(batch_size):
          s = rz.with_factor(f)
          views = []
          for v in range(views_per_scene):
              s.random_view(); views.append(s.to_json())

* ``rz.copy()`` is a deep copy that continues the same random sequence; ``rz.spawn()`` a copy
  with its own stream; ``rz.state()`` / ``rz.load_state(s)`` save and restore a scene;
  ``rz.factor_parts(scene)`` splits a scene dict into what each factor controls (used by tests).

Datasets (``DATASETS``, the names of :data:`cnsr.registry.SCENE_FAMILIES`): ``room``,
``manylightroom``, ``manymaterialroom``, ``manymanyroom``, ``fewmaterialroom``
(:mod:`cnsr.scenes.room`) and ``archviz`` (:mod:`cnsr.scenes.archviz`). A family registers
where its randomizer is defined (``@register_scene_family(name, summary)``); a new family is
one new file in this package, found by the registry without being listed.
Meshes are referenced by file name (``teapot2.obj``, ``sofa_b.obj``); the renderer resolves a
name that is not a file in the built-in asset registry (:mod:`cnsr.assets`).
"""
from __future__ import annotations

from typing import Optional, Tuple

from ..registry import SCENE_FAMILIES
from .base import ALL, FACTORS, GEOMETRY, LIGHTING, MATERIAL, SceneRandomizer
from .room import PrimitiveRoom          # registration order: the order the datasets are listed in
from .archviz import ArchViz  # noqa: I001


def make_randomizer(name: str, seed: Optional[int] = None, **options) -> SceneRandomizer:
    """The randomizer of dataset ``name`` (one of ``DATASETS``), seeded with ``seed``.

    ``options`` go to the randomizer: ``snap_to_grid`` for the rooms; ``models`` and
    ``wallpapers`` (user OBJ/image files) for ArchViz.
    """
    return SCENE_FAMILIES.lookup(name).build(seed, **options)


def __getattr__(name: str) -> Tuple[str, ...]:
    # DATASETS is read from the registry when asked for, so that families registered later count
    if name == "DATASETS":
        return SCENE_FAMILIES.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["make_randomizer", "DATASETS", "FACTORS", "LIGHTING", "GEOMETRY", "MATERIAL", "ALL",
           "SceneRandomizer", "PrimitiveRoom", "ArchViz"]

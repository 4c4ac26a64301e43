"""Factor batches: which scenes a dataset batch holds, reproducibly, batch by batch.

A training batch is one base scene re-randomized ``batch_size`` times in a single factor
(0 lighting, 1 geometry, 2 material; :meth:`cnsr.scenes.base.SceneRandomizer.factor_batch`),
each scene seen from ``views_per_scene`` random cameras, the last one being the query. Test
batches hold fully random scenes (factor -1).

Which factor a training batch gets: a uniformly random one of {0, 1, 2} when the config has
``latent_separation`` (partitioned training; the reference's dataset configs ``save_room`` and
``save_archviz`` set it), else -1. A dataset made for partitioned training also serves
unpartitioned training (the model ignores the factor), not the other way round, so the
loader warns when a partitioned config meets factor -1 files.

Every batch is drawn from its own random stream, seeded by (seed, split, batch index): batch
``i`` is the same whichever shard, worker or rerun makes it, and ``create-dataset-json-files.py``
followed by ``generate-dataset.py`` gives the same scenes as the one-step path.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from ..scenes import make_randomizer
from ..scenes.base import ALL

SPLITS = {"train": 0, "test": 1}


def batch_seed(seed: int, split: str, index: int) -> int:
    """The seed of batch ``index`` of ``split`` in a dataset generated with ``seed`` (31 bits)."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, SPLITS[split], int(index)])
    return int(ss.generate_state(1)[0] & 0x7FFFFFFF)


def choose_factor(rng: np.random.Generator, split: str, latent_separation: bool) -> int:
    """The factor of a batch: random in {0, 1, 2} for partitioned training batches, else -1."""
    if split == "train" and latent_separation:
        return int(rng.integers(0, 3))
    return ALL


def make_batch(dataset: str, seed: int, split: str, index: int, batch_size: int, views_per_scene: int,
               latent_separation: bool) -> Tuple[List[List[dict]], int]:
    """The scenes of one dataset batch: (``[scene][view] -> scene JSON dict``, factor).

    Deterministic in all its arguments (see the module docstring).
    """
    s = batch_seed(seed, split, index)
    factor = choose_factor(np.random.default_rng(s), split, latent_separation)
    randomizer = make_randomizer(dataset, seed=s)
    return randomizer.factor_batch(factor, batch_size, views_per_scene), factor

"""The one tiny training config the tests build models, viewers and tools from.

``tiny_config()`` is a small partition-free PixelCNN-on-Pool model on the room dataset, rendered
on the fly at 16 px with 1 spp (fast on a CPU); tests override what they are about::

    tiny_config(representation={"representation_dim": 9}, generator={"query_passes": ["normal", "albedo"]},
                latent_separation=True, job_name="attrview")

``representation`` / ``generator`` update the single encoder / generator entry (``settings``
is replaced whole when given), ``generators`` replaces the generator list, the other keywords
are top-level keys. Each call returns a fresh dict.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

#: the image size of the networks and of the data, unless a test asks for another
SIZE = 16


def tiny_config(size: int = SIZE, *, representation: Optional[Dict[str, Any]] = None,
                generator: Optional[Dict[str, Any]] = None, generators: Optional[List[Dict[str, Any]]] = None,
                **top: Any) -> Dict[str, Any]:
    rep = {"type": "Pool", "observation_passes": ["beauty", "normal"], "representation_dim": 12,
           "render_size": size}
    rep.update(representation or {})
    gen = {"type": "PixelCNN", "query_passes": ["normal"], "output_passes": ["beauty"], "render_size": size,
           "settings": {"layers": 1, "hidden_units": 8}}
    gen.update(generator or {})
    cfg = {"job_name": "tiny", "seed": 0, "cached_dataset": False, "dataset": "room", "samples_per_pixel": 1,
           "batch_size": 2, "test_batch_size": 2, "views_per_scene": 3, "num_workers": 0, "logging": False,
           "model": {"representations": [rep], "generators": copy.deepcopy(generators) if generators else [gen]}}
    cfg.update(top)
    return cfg

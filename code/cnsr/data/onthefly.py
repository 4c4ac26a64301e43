"""Batches rendered while training (``cached_dataset: false``), as the reference could.

Each loader worker process owns a renderer and renders whole batches: batch ``k`` of the
stream is :func:`cnsr.data.batches.make_batch` (config dataset, seed, split, k), so the
stream is reproducible and the same as a generated dataset with that seed would hold. Only
the passes the config needs are rendered, at ``cfg.samples_per_pixel`` spp and
``cfg.max_render_size()`` pixels. The stream is endless.
"""
from __future__ import annotations

import os
from typing import Iterator

import torch

from ..config import Config
from ..render import Renderer
from .batches import make_batch
from .layout import split_views
from .views import render_views


class RenderedBatches(torch.utils.data.IterableDataset):
    """Endless stream of training batches rendered on the fly (see the module docstring).

    Batch ``start + i`` of the stream is the ``i``-th yielded; with several DataLoader workers,
    worker ``w`` of ``n`` renders batches ``start + w, start + w + n, ...`` and the DataLoader
    interleaves them back in order.
    """

    def __init__(self, cfg: Config, split: str, batch_size: int, seed: int = 0, dtype=torch.float32,
                 num_workers: int = 0, start: int = 0, threads: int = 0):
        self.cfg, self.split, self.batch_size = cfg, split, batch_size
        self.seed, self.dtype, self.start = seed, dtype, max(0, start)
        self.passes = cfg.needed_passes()
        self.size = cfg.max_render_size()
        # share the cores among the worker processes, each rendering whole batches
        self.threads = threads or max(1, (os.cpu_count() or 1) // max(1, num_workers))

    def batch(self, renderer, k: int):
        """Render batch ``k`` of the stream into the training batch layout."""
        cfg = self.cfg
        scenes, factor = make_batch(cfg.dataset, self.seed, self.split, k, self.batch_size,
                                    cfg.views_per_scene, cfg.latent_separation)
        images, poses = render_views(renderer, scenes, self.size, cfg.samples_per_pixel, self.passes)
        return split_views(images, poses, factor, cfg.views_per_scene - 1, self.dtype)

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        w, n = (info.id, info.num_workers) if info is not None else (0, 1)
        renderer = Renderer(threads=self.threads)
        k = self.start + w
        while True:
            yield self.batch(renderer, k)
            k += n

"""Clean references: the query views of test batches re-rendered at many samples per pixel.

A test batch's query images are rendered at the dataset's samples per pixel (8 for the
quick-start): scoring against them measures the render noise as much as the model. Every
test batch can be re-created, so its query views can be rendered again at ``N`` spp:

* batch files written by ``generate-dataset.py`` record ``cnsr.dataset``, ``cnsr.seed``,
  ``cnsr.split`` and ``cnsr.index`` in their header: their scenes are
  :func:`cnsr.data.batches.make_batch` of those (the file's scene and view counts), the query
  view being each scene's last view;
* on-the-fly test batches (``cached_dataset: false``) are ``make_batch(cfg.dataset, seed,
  "test", k, test_batch_size, views_per_scene, ...)`` with the loader's seed (the config's
  ``seed``, 0 when negative), batch ``k`` being the ``k``-th the loader yields.

Files without that provenance (converted ``.npz`` batches, batches rendered from JSON
folders) raise :class:`CleanReferenceError` naming the file.

The re-rendered views use the dataset's seed rule (:func:`cnsr.data.views.render_seed`, with
the query's place in its batch), so at the dataset's own spp they reproduce the batch file's
query images exactly (up to the file's half floats); at ``N`` spp they are the same views with
``N`` samples. Only the passes a model predicts are re-rendered; the model's inputs (the
observations and the query G-buffer) stay those of the batch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..data.batches import make_batch
from ..data.exrbatch import DatasetError, read_batch_meta
from ..data.loader import list_batch_files
from ..data.views import render_seed, render_views

PathLike = Union[str, os.PathLike]


class CleanReferenceError(ValueError):
    """A test batch whose scenes cannot be re-created (no provenance in its file)."""


def _query_seed(position: int, views: int):
    """Seed rule that renders scene b's single view as view ``position`` of ``views`` of the batch
    (the dataset's rule for the batch's query view)."""
    return lambda desc, b, v, V: render_seed(desc, b, position, views)


class ReferenceRenderer:
    """``references(k, batch)`` -> ``{pass: [B, C, H, W]}``: the query views of test batch ``k``
    of ``cfg``'s ``split`` re-rendered at ``spp`` (see the module docstring).

    cfg: the model's :class:`cnsr.config.Config`; passes: what to render (default: the output
    passes of the config's generators); data_dir: the batch-file folder (default the config's);
    seed: the loader's seed for on-the-fly batches (default: as :func:`cnsr.data.build_loader`).
    ``describe()`` is the ``references`` entry of ``metrics.json``.
    """

    def __init__(self, cfg, spp: int, split: str = "test", passes: Optional[Sequence[str]] = None,
                 data_dir: Optional[PathLike] = None, seed: Optional[int] = None, renderer=None):
        if int(spp) < 1:
            raise ValueError(f"reference_spp must be at least 1, got {spp}")
        if split != "test":
            raise CleanReferenceError("clean references are re-rendered for the test split only "
                                 "(training batches pick random scene subsets)")
        self.cfg, self.spp, self.split = cfg, int(spp), split
        self.passes = list(passes) if passes is not None else list(dict.fromkeys(
            p for g in cfg.model.generators for p in g.output_passes))
        self.seed = (cfg.seed if cfg.seed >= 0 else 0) if seed is None else int(seed)
        self.files: Optional[List[Path]] = None
        if cfg.cached_dataset:
            self.files = list_batch_files(Path(data_dir) if data_dir is not None else cfg.data_dir(split))
        self._renderer = renderer

    @property
    def renderer(self):
        if self._renderer is None:
            from ..render import Renderer
            self._renderer = Renderer()
        return self._renderer

    def query_views(self, k: int, scenes: int) -> Tuple[List[dict], int, int, dict]:
        """(the first ``scenes`` query views of batch ``k`` as scene dicts, the query's view
        index, the batch's views per scene, the provenance used)."""
        cfg = self.cfg
        if self.files is None:
            batch, _ = make_batch(cfg.dataset, self.seed, self.split, k, cfg.test_batch_size,
                                  cfg.views_per_scene, cfg.latent_separation)
            prov = {"dataset": cfg.dataset, "seed": self.seed, "split": self.split, "index": k}
        else:
            path = self.files[k % len(self.files)]
            try:
                meta = read_batch_meta(path) if path.suffix == ".exr" else {}
            except DatasetError as e:
                raise CleanReferenceError(str(e)) from e
            missing = [key for key in ("dataset", "seed", "split", "index") if key not in meta]
            if missing:
                raise CleanReferenceError(f"{path}: the batch file does not record how to re-create its "
                                     f"scenes (no cnsr.{', cnsr.'.join(missing)} in its header); "
                                     f"regenerate it with code/generate-dataset.py, or evaluate "
                                     f"without --reference_spp")
            batch, _ = make_batch(str(meta["dataset"]), int(meta["seed"]), str(meta["split"]),
                                  int(meta["index"]), int(meta["scenes"]), int(meta["views"]),
                                  int(meta["factor"]) != -1)
            prov = {"file": path.name, "dataset": meta["dataset"], "seed": int(meta["seed"]),
                    "split": meta["split"], "index": int(meta["index"])}
        if scenes > len(batch):
            raise CleanReferenceError(f"batch {k} has {len(batch)} scenes, the evaluated batch {scenes}")
        views = len(batch[0])
        return [s[-1] for s in batch[:scenes]], views - 1, views, prov

    def render(self, views: Sequence[dict], size: int, position: int, total: int) -> Dict[str, torch.Tensor]:
        """``{pass: [B, C, size, size]}`` of ``views`` at this renderer's spp."""
        images, _ = render_views(self.renderer, [[v] for v in views], size, self.spp, self.passes,
                                 _query_seed(position, total))
        return {p: torch.from_numpy(np.ascontiguousarray(a[:, 0])) for p, a in images.items()}

    def __call__(self, k: int, batch) -> Dict[str, torch.Tensor]:
        """References for test batch ``k`` (the evaluated ``batch`` gives the scene count, size
        and device)."""
        query = batch["query_images"]
        like = next(iter(query.values()))
        views, position, total, _ = self.query_views(k, int(like.shape[0]))
        refs = self.render(views, int(like.shape[-1]), position, total)
        return {p: t.to(like.device) for p, t in refs.items()}

    def describe(self) -> dict:
        """What ``metrics.json`` says about the references."""
        source = ("batch files re-created from their recorded dataset/seed/split/index"
                  if self.files is not None else
                  f"on-the-fly test batches re-created from dataset {self.cfg.dataset!r}, seed {self.seed}")
        return {"kind": "path-traced", "spp": self.spp, "passes": self.passes, "source": source,
                "seed_rule": "the dataset's (cnsr.data.views.render_seed at the query view)"}

"""Every call the experiment runner makes into the rest of cnsr, in one place.

Dataset generation, training, loading a checkpoint, the evaluation against clean references,
the compositing benchmark and the partition statistics: when those APIs move, only this module
follows them. (The path tracer's extension is loaded only when something is rendered, so
importing this module needs no renderer build.)
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..analysis.compositing_benchmark import compositing_benchmark
from ..analysis.curves import CurveSettings, measure_run
from ..analysis.evaluation import evaluate
from ..config import parse_config
from ..data import build_loader
from ..data.generate import (RenderSettings, check_info, dataset_seed, parse_passes, pending, random_tasks,
                             run_tasks, write_info)
from ..data.generate import dataset_info as _dataset_record
from ..engine.api import load_model as _load_model
from ..engine.checkpoint import list_checkpoints
from ..engine.trainer import Trainer

PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------- datasets
def dataset_tasks(gen_cfg, folder: PathLike, train_batches: int, test_batches: int):
    """The batch files a dataset consists of (``cnsr.data.generate`` tasks), drawn from the
    generation config's seed (0 when it is -1, as ``generate-dataset.py``)."""
    seed = dataset_seed(gen_cfg)
    return random_tasks(gen_cfg.dataset, Path(folder), seed, {"train": train_batches, "test": test_batches},
                        gen_cfg.batch_size, gen_cfg.test_batch_size, gen_cfg.views_per_scene,
                        gen_cfg.latent_separation), seed


def dataset_info(gen_cfg, train_batches: int, test_batches: int) -> Dict[str, Any]:
    """The ``dataset.json`` a suite dataset of ``gen_cfg`` is described by (how it is made): the
    record ``generate-dataset.py`` writes for the same data."""
    return _dataset_record(gen_cfg, dataset_seed(gen_cfg), train_batches, test_batches,
                           render_size=gen_cfg.max_render_size(), samples_per_pixel=gen_cfg.samples_per_pixel,
                           passes=parse_passes("needed", gen_cfg.needed_passes()), compression="none",
                           format="cnsr-batch-1")


def check_dataset(gen_cfg, folder: PathLike, train_batches: int, test_batches: int) -> None:
    """:class:`~cnsr.data.exrbatch.DatasetError` naming ``folder``'s ``dataset.json`` and every
    differing setting when the dataset there was made with other settings than ``gen_cfg`` asks
    for (an edited generation config, ``--dataset_set``): its finished batches would otherwise be
    taken as this dataset's, or mixed with new ones."""
    check_info(Path(folder) / "dataset.json", dataset_info(gen_cfg, train_batches, test_batches), remedy=_REMEDY)


_REMEDY = ("Give the --dataset_set it was made with, another --out_folder, or remove that dataset's folder "
           "to render it again")


def missing_batches(gen_cfg, folder: PathLike, train_batches: int, test_batches: int) -> int:
    tasks, _ = dataset_tasks(gen_cfg, folder, train_batches, test_batches)
    return len(pending(tasks))


def generate_dataset(gen_cfg, folder: PathLike, train_batches: int, test_batches: int,
                     progress: bool = True, desc: str = "rendering") -> Dict[str, Any]:
    """Render the missing batch files of a dataset (resumable: finished files are skipped),
    storing only the passes the generation config's networks read. Returns counts and time."""
    tasks, _ = dataset_tasks(gen_cfg, folder, train_batches, test_batches)
    info = dataset_info(gen_cfg, train_batches, test_batches)
    settings = RenderSettings(size=info["render_size"], spp=info["samples_per_pixel"], passes=info["passes"],
                              threads=0, compression="none", dataset=gen_cfg.dataset)
    folder = Path(folder)
    check_info(folder / "dataset.json", info, remedy=_REMEDY)
    write_info(folder / "dataset.json", info)
    t0 = time.time()
    # worker processes pay off only when there are batches enough to amortise their start-up
    workers = 1 if len(pending(tasks)) < 4 else None
    counts = run_tasks(tasks, settings, workers=workers, progress=progress, desc=desc)
    counts["seconds"] = time.time() - t0
    return counts


# ---------------------------------------------------------------------------- checkpoints
def checkpoints(folder: PathLike, job_name: str) -> List[Tuple[int, Path]]:
    """``(iteration, path)`` of the run's checkpoints, oldest first."""
    return list_checkpoints(folder, job_name)


# ---------------------------------------------------------------------------- training
def train(cfg: Dict[str, Any], out_folder: PathLike, device: Optional[str], checkpoint: Optional[Path],
          progress: bool = True, keep_checkpoints: int = 3) -> Dict[str, Any]:
    """Train (or resume) a run with :class:`cnsr.engine.Trainer` up to ``cfg['iterations']``;
    checkpoints and TensorBoard logs (``tensorboard/``) go to ``out_folder``. Returns the
    trainer's summary plus ``wall_s``."""
    config = parse_config(dict(cfg), str(Path(out_folder) / "config.json"))
    trainer = Trainer(config, device=device or None, checkpoint=checkpoint, out_folder=out_folder,
                      log_dir=Path(out_folder) / "tensorboard", keep_checkpoints=keep_checkpoints,
                      progress=progress)
    t0 = time.time()
    try:
        summary = trainer.train()
    finally:
        trainer.close()
        trainer.dist.shutdown(orderly=True)
    summary["wall_s"] = time.time() - t0
    summary["start_iteration"] = int(summary["next_iteration"]) - int(summary["iterations_run"])
    return summary


# ---------------------------------------------------------------------------- trained models
def load_model(cfg: Dict[str, Any], checkpoint: PathLike, device: Optional[str] = None):
    """The model of a run at a checkpoint, in eval mode."""
    return _load_model(parse_config(dict(cfg)), checkpoint, device=device or "cpu")


def partition_stats(model) -> Dict[str, float]:
    """``model.partition_stats()``: fractions ``*_percentage`` (0..1) and ``active_size``."""
    fn = getattr(model, "partition_stats", None)
    return {k: float(v) for k, v in fn().items()} if fn is not None else {}


def evaluate_references(model, cfg: Dict[str, Any], out_folder: PathLike, batches: Optional[int],
                        reference_spp: int, device: Optional[str] = None, progress: bool = True,
                        info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The paper's metrics (MAPE, RMSE, SSIM, PSNR, FLIP) of every output pass on the first
    ``batches`` test batches, against the query views re-rendered at ``reference_spp``
    (``metrics.json`` and image grids in ``out_folder``)."""
    config = parse_config(dict(cfg))
    loader = build_loader(config, "test", device=device or "cpu", num_workers=0)
    return evaluate(model, loader, batches=batches, out_folder=out_folder, progress=progress, info=info,
                    reference_spp=reference_spp, cfg=config)


def run_compositing_benchmark(model, cfg: Dict[str, Any], out_folder: PathLike, scenes: int,
                              reference_spp: int, progress: bool = True) -> Dict[str, Any]:
    """The compositing benchmark (``compositing.json`` and one grid per factor in ``out_folder``)."""
    return compositing_benchmark(model, cfg=parse_config(dict(cfg)), scenes=scenes, reference_spp=reference_spp,
                                 seed=0, out_folder=out_folder, progress=progress)


def measure_curves(folder: PathLike, cfg: Dict[str, Any], reference_spp: int, reference_batches: Optional[int],
                   compositing_scenes: int, device: Optional[str] = None, progress: bool = True) -> Dict[str, Any]:
    """Learning curves of the run in ``folder`` (every checkpoint not measured yet; ``curves/``)."""
    settings = CurveSettings(reference_spp=reference_spp, reference_batches=reference_batches,
                             compositing_scenes=compositing_scenes)
    return measure_run(folder, parse_config(dict(cfg)), settings, device=device or "cpu", progress=progress)

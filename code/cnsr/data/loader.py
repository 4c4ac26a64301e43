"""Training batches from dataset files (ours and the reference's) and the loader around them.

A dataset folder holds one file per batch: ``batch%09d.exr`` (ours, :mod:`.exrbatch`) or the
reference's ``.npz`` batches (:mod:`.npzbatch`); both may be mixed. Every scene of a batch file
shares the batch's base scene except for its ``factor``, so a training batch is always cut from
one file: its first ``batch_size`` scenes (test) or a random subset of them (train).

Batches come in the layout of :mod:`.layout` (``split_views``), with N = min(views_per_scene,
views in the file) - 1 observations: the file's first N views of each scene; its last view is
the query. Images keep the file's resolution (the networks resize to their render_size); input
conditioning is applied once, in the workers.

Every loader factory (:func:`build_loader`, or one injected into the trainer) has the signature
of :class:`LoaderFactory`.
"""
from __future__ import annotations

import contextlib

import multiprocessing as mp
import os
import warnings
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Protocol, Sequence, Union

import numpy as np
import torch

from ..config import Config, load_config
from ..passes import check_passes
from .exrbatch import DatasetError, ExrBatchFile
from .layout import batch_to_device, split_views
from .npzbatch import read_batch_npz
from .onthefly import RenderedBatches


def list_batch_files(folder: Union[str, os.PathLike]) -> List[Path]:
    """All batch files (``*.exr``, ``*.npz``) of a dataset folder, sorted; hidden temp files excluded,
    and a ``.npz`` left out where an ``.exr`` of the same name holds the batch."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder does not exist (generate one with "
                           f"code/generate-dataset.py, or set train_data_dir/test_data_dir)")
    files = sorted(p for p in folder.iterdir()
                   if p.suffix in (".exr", ".npz") and not p.name.startswith(".") and p.is_file())
    # a batch converted in place (generate-dataset.py --from_npz) counts once: the EXR serves
    exr_stems = {p.stem for p in files if p.suffix == ".exr"}
    files = [p for p in files if p.suffix == ".exr" or p.stem not in exr_stems]
    if not files:
        raise DatasetError(f"{folder}: no batch files (*.exr or *.npz) in this folder")
    return files


class BatchFileDataset(torch.utils.data.Dataset):
    """Map-style dataset: item ``i`` is the training batch cut from the ``i``-th batch file.

    passes: the passes to load (e.g. ``cfg.needed_passes()``); only those are read/inflated.
    batch_size: scenes per training batch (at most the file's; fewer in the file -> all of them).
    views_per_scene: observations + query wanted; the file's last view is always the query.
    random_scenes: pick a random subset of the file's scenes (training) instead of the first ones.
    skip_corrupt: warn about a corrupt file and use the next one instead of raising.
    dtype: torch dtype of the image tensors (float16 halves what workers hand over).
    expect_factors: warn (once) when a file has factor -1, i.e. was not made for partitioning.

    Any integer is a valid index: file ``index % len``; the scene subset is drawn from
    (seed, index), so a sampler that counts on across epochs gets new subsets each epoch and
    the same ones when a run is repeated.
    """

    def __init__(self, files: Sequence[Union[str, os.PathLike]], passes: Sequence[str], batch_size: int,
                 views_per_scene: int, random_scenes: bool = False, skip_corrupt: bool = False,
                 dtype: torch.dtype = torch.float32, seed: int = 0, expect_factors: bool = False):
        self.files = [Path(f) for f in files]
        self.passes = check_passes(passes, "passes")
        self.batch_size = batch_size
        self.views_per_scene = views_per_scene
        self.random_scenes = random_scenes
        self.skip_corrupt = skip_corrupt
        self.dtype = dtype
        self.seed = seed
        self.expect_factors = expect_factors
        self._bad = set()

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Dict[str, object]:
        n = len(self.files)
        for attempt in range(n):
            path = self.files[(index + attempt) % n]
            if path in self._bad:
                continue
            try:
                return self.load(path, index)
            except DatasetError as e:
                if not self.skip_corrupt:
                    raise
                self._bad.add(path)
                warnings.warn(f"skipping corrupt batch file: {e}", RuntimeWarning, stacklevel=2)
        raise DatasetError(f"every batch file is corrupt or unreadable ({n} files, first: {self.files[0]})")

    # ---------------------------------------------------------------- one file
    def _choose(self, B: int, V: int, index: int, path: Path):
        if V < 2:
            raise DatasetError(f"{path}: {V} view(s) per scene; needs at least 2 (observations + query)")
        n_obs = min(self.views_per_scene, V) - 1
        b = min(self.batch_size, B)
        if self.random_scenes and b < B:
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, index])
            scenes = np.sort(rng.choice(B, size=b, replace=False))
        else:
            scenes = np.arange(b)
        return scenes, n_obs

    def load(self, path: Path, index: int = 0) -> Dict[str, object]:
        """The training batch of one file (raises :class:`DatasetError` naming a bad file)."""
        if path.suffix == ".npz":
            data = read_batch_npz(path, self.passes)
            B, V = data.poses.shape[:2]
            scenes, n_obs = self._choose(B, V, index, path)
            return self._batch(data.images, data.poses, data.factor, scenes, n_obs, path)
        with ExrBatchFile(path) as f:
            B, V = f.shape[:2]
            scenes, n_obs = self._choose(B, V, index, path)
            # views straight onto the mapped file: split_views copies each tensor out once
            return self._batch({p: f.sheet(p) for p in self.passes}, f.poses, f.factor, scenes, n_obs, path)

    def _batch(self, images, poses, factor, scenes, n_obs, path):
        B, V = poses.shape[:2]
        if scenes.size < B:
            contiguous = np.all(np.diff(scenes) == 1)
            sel = slice(int(scenes[0]), int(scenes[-1]) + 1) if contiguous else scenes
            images = {p: a[sel] for p, a in images.items()}
            poses = poses[sel]
        if factor == -1 and self.expect_factors:
            self.expect_factors = False
            warnings.warn(f"{path}: factor -1 (all random) in a training set for a partitioned "
                          f"(latent_separation) config: generate it with a latent_separation config", RuntimeWarning)
        batch = split_views(images, poses, factor, n_obs, self.dtype)
        batch["source"] = str(path)   # named in errors about this batch (a NaN loss)
        return batch


class BatchSampler(torch.utils.data.Sampler):
    """File order: shuffled per epoch from (seed, epoch) for training, in order for testing;
    ``rank::world_size`` share per process; starts ``skip`` batches into the stream (resume).
    Yields ``epoch * n + file`` so the dataset can vary its scene subsets per epoch. The epoch
    is set with :meth:`set_epoch` (iterating has no side effects: DataLoader may iterate twice).
    """

    def __init__(self, n: int, shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1, skip: int = 0):
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.per_rank = len(range(rank, n, world_size))
        if self.per_rank == 0:
            raise DatasetError(f"{n} batch file(s) cannot be shared by {world_size} processes")
        self.first_epoch, self.skip = divmod(max(0, skip), self.per_rank)
        self.epoch = self.first_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank - (self.skip if self.epoch == self.first_epoch else 0)

    def __iter__(self) -> Iterator[int]:
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch]).permutation(self.n)
        skip = self.skip if self.epoch == self.first_epoch else 0
        mine = order[self.rank::self.world_size][skip:] + self.epoch * self.n
        return iter(mine.tolist())


class BatchLoader:
    """Iterable of training batches on ``device`` (one pass over the data per ``iter``).

    Wraps a ``torch.utils.data.DataLoader`` (background worker processes, prefetching, pinned
    memory on CUDA). On CUDA the workers hand over float16 and the conversion to float32
    happens on the GPU; on CPU the workers convert.
    """

    def __init__(self, dataset, device: Union[str, torch.device] = "cpu", num_workers: int = 2,
                 sampler=None, prefetch_factor: int = 2, to_float: bool = False):
        self.dataset = dataset
        self.device = torch.device(device)
        self.epoch = sampler.first_epoch if isinstance(sampler, BatchSampler) else 0
        self.to_float = to_float
        cuda = self.device.type == "cuda"
        kwargs = dict(batch_size=None, num_workers=num_workers, pin_memory=cuda, sampler=sampler,
                      worker_init_fn=_worker_init)
        if num_workers > 0:
            kwargs.update(prefetch_factor=prefetch_factor, persistent_workers=True,
                          multiprocessing_context=_mp_context())
        self.loader = torch.utils.data.DataLoader(dataset, **kwargs)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        sampler = self.loader.sampler
        if isinstance(sampler, BatchSampler):
            sampler.set_epoch(self.epoch)
        # Starting a pass draws the DataLoader's base seed from torch's global generator. The
        # rest of a resumed epoch is no new pass: an uninterrupted run drew that seed when the
        # epoch began, before the checkpoint that restored the generator, so it is not drawn again.
        resumed = isinstance(sampler, BatchSampler) and self.epoch == sampler.first_epoch and sampler.skip > 0
        self.epoch += 1
        try:
            with torch.random.fork_rng(devices=[]) if resumed else contextlib.nullcontext():
                batches = iter(self.loader)
            for batch in batches:
                yield batch_to_device(batch, self.device, self.to_float)
        except DatasetError as e:
            raise DatasetError(worker_message(e)) from None


def worker_message(error: BaseException) -> str:
    """The message of an error raised in a loader worker process, without the worker's traceback
    that ``DataLoader`` puts into it ("Caught DatasetError in DataLoader worker process 0 ...")."""
    text = str(error)
    if "Traceback" not in text:
        return text
    name = type(error).__name__
    for line in reversed(text.strip().splitlines()):
        head, sep, rest = line.partition(": ")
        if sep and head.split(".")[-1] == name:
            return rest
    return text.strip().splitlines()[-1]


def _worker_init(worker_id: int) -> None:
    # one intra-op thread per worker: the workers themselves are the parallelism
    torch.set_num_threads(1)


def _mp_context():
    # fork is fastest to start, but forking a process that already runs CUDA is unsafe
    if torch.cuda.is_initialized() or "fork" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    return mp.get_context("fork")


class LoaderFactory(Protocol):
    """What the trainer calls to get its data: ``factory(cfg, split, device, *, seed,
    start_iteration, rank, world_size, num_workers)`` -> an iterable of training batches (one
    pass over the data per ``iter``; the trainer restarts it).

    Every factory takes all of these keyword arguments (it may ignore what does not apply):
    seed: of the data order and subsets (None: the config's); start_iteration: the 1-based
    iteration the stream resumes at (batch ``start_iteration`` comes first); rank/world_size:
    this process's share of a distributed run (the factory splits the data, the shares must not
    overlap); num_workers: loader worker processes (None: the config's ``num_workers``).
    """

    def __call__(self, cfg: Config, split: str, device: Union[str, torch.device], *,
                 seed: Optional[int] = None, start_iteration: int = 1, rank: int = 0, world_size: int = 1,
                 num_workers: Optional[int] = None) -> Iterable[Dict[str, object]]: ...


def build_loader(cfg: Union[Config, str, os.PathLike, dict], split: str = "train",
                 device: Union[str, torch.device] = "cpu", num_workers: Optional[int] = None,
                 seed: Optional[int] = None, start_iteration: int = 1, rank: int = 0,
                 world_size: int = 1, data_dir: Optional[Union[str, os.PathLike]] = None) -> BatchLoader:
    """The training (``split="train"``) or test loader for a config.

    ``cached_dataset: true``: batches from the files in ``cfg.data_dir(split)`` (or ``data_dir``),
    reading only ``cfg.needed_passes()``; ``false``: batches rendered on the fly
    (:class:`cnsr.data.onthefly.RenderedBatches`). One ``iter`` = one pass over the files
    (shuffled for training); the trainer restarts it. ``start_iteration`` resumes the stream
    where a run left off; ``rank``/``world_size`` give each process of a distributed run its share.
    A :class:`LoaderFactory` (plus ``data_dir``: a folder instead of the config's).
    """
    cfg = load_config(cfg)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    device = torch.device(device)
    workers = cfg.num_workers if num_workers is None else num_workers
    seed = (cfg.seed if cfg.seed >= 0 else 0) if seed is None else seed
    train = split == "train"
    batch_size = cfg.batch_size if train else cfg.test_batch_size
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if not cfg.cached_dataset:
        ds = RenderedBatches(cfg, split, batch_size=batch_size, seed=seed + 1000003 * rank,
                             dtype=dtype, num_workers=workers,
                             start=(start_iteration - 1) if train else 0)
        return BatchLoader(ds, device, workers, to_float=True, prefetch_factor=2)
    folder = Path(data_dir) if data_dir is not None else cfg.data_dir(split)
    files = list_batch_files(folder)
    ds = BatchFileDataset(files, cfg.needed_passes(), batch_size, cfg.views_per_scene,
                          random_scenes=train, skip_corrupt=cfg.skip_corrupt, dtype=dtype, seed=seed,
                          expect_factors=train and cfg.latent_separation)
    sampler = BatchSampler(len(files), shuffle=train, seed=seed, rank=rank if train else 0,
                           world_size=world_size if train else 1,
                           skip=(start_iteration - 1) if train else 0)
    return BatchLoader(ds, device, workers, sampler=sampler, to_float=True)

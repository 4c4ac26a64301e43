"""Rendering dataset batches into batch files: worker processes, shards, resume, progress.

Two ways in, one engine:

- from JSON folders (the reference's two steps): :func:`json_tasks` lists ``IN/batch*`` folders;
- one step, no JSON files: :func:`random_tasks` draws batch ``i`` of each split from its seed
  (:func:`cnsr.data.batches.make_batch`), identical to what the JSON path would hold.

:func:`run_tasks` renders every task whose output file does not exist yet (so a rerun skips
finished batches), each into ``OUT/batch%09d.exr`` written atomically (a hidden temp file
renamed into place), in ``workers`` processes of ``threads`` render threads each. Ctrl-C or
SIGTERM (a cluster scheduler's pre-emption) stops it: finished files stay, the batches in
flight are dropped (their temp files removed), and a rerun continues where it stopped.
``shard=(i, n)`` keeps every n-th task from i, so n machines split the work with no coordination.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..passes import PASS_NAMES, check_passes
from .batches import make_batch
from .exrbatch import DatasetError, atomic_target, finish_atomic, write_batch_exr
from .jsonfiles import batch_name, list_json_batches, read_json_batch, shard_items
from .views import render_views

PathLike = Union[str, os.PathLike]


@dataclass
class RenderSettings:
    """How batches are rendered and stored."""
    size: int = 64
    spp: int = 1
    passes: List[str] = field(default_factory=lambda: list(PASS_NAMES))
    threads: int = 0                 # render threads per worker; 0 = all cores
    compression: str = "none"
    dataset: str = ""


@dataclass
class Task:
    """One batch to render into ``out``: from a JSON ``folder``, or drawn from a seed."""
    out: Path
    folder: Optional[Path] = None
    dataset: str = ""
    seed: int = 0
    split: str = "train"
    index: int = 0
    batch_size: int = 0
    views_per_scene: int = 0
    latent_separation: bool = False
    scenes: int = 0          # scenes in the batch, for the progress bar (0: unknown)


def task_scenes(task: Task):
    """(``[scene][view]`` dicts or paths, factor) of a task."""
    if task.folder is not None:
        return read_json_batch(task.folder)
    return make_batch(task.dataset, task.seed, task.split, task.index, task.batch_size,
                      task.views_per_scene, task.latent_separation)


def render_task(renderer, task: Task, settings: RenderSettings) -> int:
    """Render one task into its batch file (atomically); returns the number of scenes."""
    scenes, factor = task_scenes(task)
    images, poses = render_views(renderer, scenes, settings.size, settings.spp, settings.passes)
    # enough to re-create the batch's scenes: (dataset, seed, split, index) or the JSON folder
    meta = {"spp": settings.spp}
    if settings.dataset:
        meta["dataset"] = settings.dataset
    if task.folder is not None:
        meta["json_folder"] = task.folder.name
    else:
        meta.update(seed=task.seed, split=task.split, index=task.index)
    write_batch_exr(task.out, images, poses, factor, compression=settings.compression, meta=meta)
    return len(scenes)


# ---------------------------------------------------------------------- task lists
def json_tasks(in_folder: PathLike, out_folder: PathLike) -> List[Task]:
    """One task per ``IN/batch*`` folder, rendered into ``OUT/<same name>.exr``."""
    out_folder = Path(out_folder)
    folders = list_json_batches(in_folder)
    # batches of a dataset share one size: count the first one's scenes for the progress bar
    scenes = sum(1 for p in folders[0].glob("scene*") if p.is_dir())
    return [Task(out=out_folder / f"{d.name}.exr", folder=d, scenes=scenes) for d in folders]


def random_tasks(dataset: str, out_folder: PathLike, seed: int, sizes: Dict[str, int], batch_size: int,
                 test_batch_size: int, views_per_scene: int, latent_separation: bool) -> List[Task]:
    """Tasks of the one-step path: ``sizes[split]`` batches per split into ``OUT/<split>/``."""
    out_folder = Path(out_folder)
    tasks = []
    for split, n in sizes.items():
        b = batch_size if split == "train" else test_batch_size
        tasks += [Task(out=out_folder / split / f"{batch_name(i)}.exr", dataset=dataset, seed=seed, split=split,
                       index=i, batch_size=b, views_per_scene=views_per_scene,
                       latent_separation=latent_separation, scenes=b) for i in range(n)]
    return tasks


# ---------------------------------------------------------------------- running
_worker_renderer = None
_worker_settings: Optional[RenderSettings] = None


def _on_sigterm(signum, frame):
    # turn termination into an exception so ``finally`` clauses remove temp files
    raise SystemExit(128 + signum)


def _worker_init(settings: RenderSettings) -> None:
    global _worker_renderer, _worker_settings
    # The parent decides when to stop and then terminates its workers (SIGTERM, default
    # action: an immediate exit; unwinding Python in a process whose render threads are busy
    # can deadlock at exit). The parent removes what they leave behind: remove_temp_files.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ..render import Renderer
    _worker_renderer = Renderer(threads=settings.threads)
    _worker_settings = settings


def _worker_run(task: Task) -> int:
    return render_task(_worker_renderer, task, _worker_settings)


def pending(tasks: Sequence[Task]) -> List[Task]:
    """The tasks whose output file does not exist yet (finished batches are skipped)."""
    return [t for t in tasks if not t.out.exists()]


def remove_temp_files(tasks: Sequence[Task]) -> None:
    """Remove the temp files a killed run left for these (unfinished) tasks. Only the tasks'
    own names are matched, so other shards writing into the same folder are not disturbed."""
    for t in tasks:
        if t.out.parent.is_dir():
            for tmp in t.out.parent.glob(f".{t.out.name}.*"):
                if ".tmp" in tmp.name[len(t.out.name) + 1:]:
                    tmp.unlink(missing_ok=True)


def default_workers(n_tasks: int) -> int:
    """Small images keep a render thread pool poorly busy, so whole batches go to separate
    processes: one per core, but no more than there are batches."""
    return max(1, min(os.cpu_count() or 1, n_tasks))


def run_tasks(tasks: Sequence[Task], settings: RenderSettings, workers: Optional[int] = None,
              shard: Tuple[int, int] = (0, 1), progress: bool = True, desc: str = "rendering") -> Dict[str, int]:
    """Render the pending tasks of this shard. Returns counts: ``total`` (in the shard),
    ``skipped`` (already finished), ``rendered``. Raises KeyboardInterrupt when interrupted
    (after cleaning up), so scripts can exit with status 130."""
    from tqdm import tqdm

    mine = shard_items(list(tasks), shard)
    todo = pending(mine)
    counts = {"total": len(mine), "skipped": len(mine) - len(todo), "rendered": 0}
    if counts["skipped"] and progress:
        print(f"{counts['skipped']} of {len(mine)} batches already finished: skipped", file=sys.stderr)
    if not todo:
        return counts
    for t in todo:
        t.out.parent.mkdir(parents=True, exist_ok=True)
    remove_temp_files(todo)
    workers = default_workers(len(todo)) if not workers else max(1, min(workers, len(todo)))
    if settings.threads == 0 and workers > 1:
        settings = dataclasses.replace(settings, threads=max(1, (os.cpu_count() or 1) // workers))
    total = sum(t.scenes for t in todo) if all(t.scenes for t in todo) else None
    bar = tqdm(total=total or len(todo), unit="scene" if total else "batch", desc=desc, disable=not progress,
               dynamic_ncols=True, smoothing=0.1)
    previous = signal.getsignal(signal.SIGTERM)
    in_main = _is_main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if workers == 1:
            from ..render import Renderer
            renderer = Renderer(threads=settings.threads)
            for t in todo:
                n = render_task(renderer, t, settings)
                counts["rendered"] += 1
                bar.update(n if total else 1)
        else:
            import multiprocessing as mp
            pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=(settings,))
            try:
                for n in pool.imap_unordered(_worker_run, todo):
                    counts["rendered"] += 1
                    bar.update(n if total else 1)
                pool.close()
            except BaseException:
                pool.terminate()   # the batches in flight are dropped ...
                raise
            finally:
                pool.join()
                remove_temp_files(pending(todo))   # ... with their temp files
    except (KeyboardInterrupt, SystemExit):
        bar.close()
        print(f"\ninterrupted: {counts['skipped'] + counts['rendered']} of {len(mine)} batches are finished; "
              f"run the same command again to render the rest", file=sys.stderr)
        raise KeyboardInterrupt from None
    finally:
        bar.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return counts


def _is_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def write_info(path: PathLike, info: dict) -> None:
    """Write a dataset's ``dataset.json`` (how it was made), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_target(path)
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    finish_atomic(tmp, path)


def parse_passes(text: str, needed: Sequence[str]) -> List[str]:
    """``--passes``: ``all`` (every pass), ``needed`` (the config's), or a comma list."""
    if text == "all":
        return list(PASS_NAMES)
    if text == "needed":
        return list(needed)
    names = [p.strip() for p in text.split(",") if p.strip()]
    return [p for p in PASS_NAMES if p in check_passes(names, "--passes")]


def convert_npz_folder(in_folder: PathLike, out_folder: PathLike, shard: Tuple[int, int] = (0, 1),
                       compression: str = "none", progress: bool = True) -> Dict[str, int]:
    """Convert the reference's ``.npz`` batches of a folder into our EXR batch files (same stem,
    every pass the file holds), for their faster loading. Resumable and shardable like rendering:
    existing outputs are skipped, each file is written atomically."""
    from tqdm import tqdm

    from .npzbatch import read_batch_npz

    in_folder, out_folder = Path(in_folder), Path(out_folder)
    if not in_folder.is_dir():
        raise DatasetError(f"{in_folder}: folder does not exist")
    sources = sorted(p for p in in_folder.glob("*.npz") if not p.name.startswith("."))
    if not sources:
        raise DatasetError(f"{in_folder}: no .npz batch files")
    tasks = shard_items([Task(out=out_folder / f"{p.stem}.exr", folder=p) for p in sources], shard)
    todo = pending(tasks)
    out_folder.mkdir(parents=True, exist_ok=True)
    remove_temp_files(todo)
    for t in tqdm(todo, unit="batch", desc="converting", disable=not progress, dynamic_ncols=True):
        data = read_batch_npz(t.folder)
        write_batch_exr(t.out, data.images, data.poses, data.factor, compression=compression,
                        meta={"npz_source": t.folder.name})
    return {"total": len(tasks), "skipped": len(tasks) - len(todo), "rendered": len(todo)}

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
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from tqdm import tqdm

from ..io.jsonfile import read_json_file
from ..passes import PASS_NAMES, check_passes
from ..render import Renderer
from .batches import make_batch
from .exrbatch import DatasetError, atomic_target, finish_atomic, write_batch_exr
from .json_batches import batch_name, list_json_batches, read_json_batch, shard_items
from .npzbatch import read_batch_npz
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
    views: int = 0           # views per scene (0: unknown)
    digest: str = ""         # of the JSON folder's files (provenance of a JSON-source batch)


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
        if task.digest:
            meta["json_digest"] = task.digest
    else:
        meta.update(seed=task.seed, split=task.split, index=task.index)
    write_batch(task.out, images, poses, factor, compression=settings.compression, meta=meta)
    return len(scenes)


def write_batch(path: Path, *args, **kwargs) -> None:
    """:func:`write_batch_exr`, a failure to write (a full disk) naming the batch file."""
    try:
        write_batch_exr(path, *args, **kwargs)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None


# ---------------------------------------------------------------------- task lists
def json_tasks(in_folder: PathLike, out_folder: PathLike) -> List[Task]:
    """One task per ``IN/batch*`` folder, rendered into ``OUT/<same name>.exr``."""
    out_folder = Path(out_folder)
    folders = list_json_batches(in_folder)
    # batches of a dataset share one shape: count the first one's scenes and views (progress, disk space)
    scene_folders = sorted(p for p in folders[0].glob("scene*") if p.is_dir())
    views = sum(1 for _ in scene_folders[0].glob("view*.json")) if scene_folders else 0
    return [Task(out=out_folder / f"{d.name}.exr", folder=d, scenes=len(scene_folders), views=views)
            for d in folders]


def json_batch_digest(folder: PathLike) -> str:
    """SHA-256 of a JSON batch folder: the names and bytes of its ``factor.txt`` and
    ``scene*/view*.json`` files. A batch file rendered from the folder records it, and so does the
    dataset's ``dataset.json``: re-created scene files (another seed) are told from the old ones."""
    import hashlib

    folder = Path(folder)
    h = hashlib.sha256()
    files = [folder / "factor.txt"] + sorted(p for d in sorted(folder.glob("scene*")) if d.is_dir()
                                             for p in d.glob("view*.json"))
    for f in files:
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError as e:
            raise DatasetError(f"{f}: cannot read ({e.strerror or e})") from None
        h.update(b"\0")
    return h.hexdigest()


def json_sources(tasks: Sequence[Task]) -> Dict[str, str]:
    """``{batch name: digest}`` of JSON-source tasks (setting each task's digest)."""
    for t in tasks:
        t.digest = json_batch_digest(t.folder)
    return {t.folder.name: t.digest for t in tasks}


def batch_file_bytes(settings: RenderSettings, scenes: int, views: int) -> int:
    """About the size of an uncompressed batch file: half floats of every stored channel, and
    the header (poses, the line offset table)."""
    from ..passes import total_channels

    h = settings.size
    return scenes * views * (h * h * total_channels(settings.passes) * 2 + 64) + scenes * h * 16 + 4096


def random_tasks(dataset: str, out_folder: PathLike, seed: int, sizes: Dict[str, int], batch_size: int,
                 test_batch_size: int, views_per_scene: int, latent_separation: bool) -> List[Task]:
    """Tasks of the one-step path: ``sizes[split]`` batches per split into ``OUT/<split>/``."""
    out_folder = Path(out_folder)
    tasks = []
    for split, n in sizes.items():
        b = batch_size if split == "train" else test_batch_size
        tasks += [Task(out=out_folder / split / f"{batch_name(i)}.exr", dataset=dataset, seed=seed, split=split,
                       index=i, batch_size=b, views_per_scene=views_per_scene,
                       latent_separation=latent_separation, scenes=b, views=views_per_scene) for i in range(n)]
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


class WorkerDied(DatasetError):
    """A rendering process died (killed by the OOM killer, crashed) while rendering a batch."""


def _run_in_processes(todo: Sequence[Task], settings: RenderSettings, workers: int, worker_fn,
                      on_done) -> None:
    """Render ``todo`` in ``workers`` spawned processes, at most one batch in flight per process.

    A process that dies ends the run at once with :class:`WorkerDied` naming the batches that
    were in flight (``multiprocessing.Pool`` would wait forever for them); SIGINT/SIGTERM
    terminate the workers and end in KeyboardInterrupt. Finished files stay either way.

    While the workers run, the two signals are only noted and acted on between waits: raised as
    exceptions wherever they land, one could interrupt ``concurrent.futures.wait`` while it
    holds a future's lock, and the shutdown below would then wait on that lock for ever."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    executor = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                      initargs=(settings,))
    queue = list(reversed(todo))
    in_flight: Dict[cf.Future, Task] = {}
    procs: Dict[int, Any] = {}   # every worker process seen, to tell how a dead one ended
    clean = False
    stop: List[int] = []
    handlers = {}
    if _is_main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, lambda signum, frame: stop.append(signum))
    try:
        while queue or in_flight:
            if stop:
                raise KeyboardInterrupt
            while queue and len(in_flight) < workers:
                task = queue.pop()
                in_flight[executor.submit(worker_fn, task)] = task
                procs.update(getattr(executor, "_processes", None) or {})
            # a timeout keeps the wait short, so signal handlers run promptly in any Python
            finished, _ = cf.wait(list(in_flight), timeout=0.5, return_when=cf.FIRST_COMPLETED)
            if stop:
                raise KeyboardInterrupt
            for fut in finished:
                task = in_flight.pop(fut)
                try:
                    n = fut.result()
                except BrokenProcessPool:
                    lost = [task] + list(in_flight.values())
                    for proc in procs.values():     # their exit codes are known only once they are reaped
                        proc.join(timeout=5)
                    # the executor terminates (SIGTERM) the others once one died: the cause is the rest
                    codes = [c for c in _exit_codes(procs.values()) if c not in ("killed by SIGTERM", "killed by SIGINT")]
                    if not codes and any(p.exitcode in (-signal.SIGTERM, -signal.SIGINT) for p in procs.values()):
                        raise KeyboardInterrupt from None   # the whole job is being stopped (e.g. the scheduler)
                    how = f" ({', '.join(codes)})" if codes else ""
                    raise WorkerDied(
                        f"a rendering process died{how} while rendering "
                        f"{', '.join(str(t.out) for t in lost)} (one of these batches, or the machine's memory: "
                        f"try fewer --workers); the finished batches are kept, run the same command again to "
                        f"continue") from None
                on_done(n)
        clean = True
    finally:
        if not clean:   # error or signal: stop the workers now, dropping their batches
            procs.update(getattr(executor, "_processes", None) or {})
            for proc in procs.values():
                if proc.is_alive():
                    proc.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _exit_codes(procs) -> List[str]:
    """How the dead ones of these processes ended, e.g. 'killed by SIGKILL'."""
    out = []
    for proc in procs:
        proc.join(timeout=1.0)
        code = proc.exitcode
        if code is None or code == 0:
            continue
        if code < 0:
            try:
                out.append(f"killed by {signal.Signals(-code).name}")
            except ValueError:
                out.append(f"killed by signal {-code}")
        else:
            out.append(f"exit code {code}")
    return out


def run_tasks(tasks: Sequence[Task], settings: RenderSettings, workers: Optional[int] = None,
              shard: Tuple[int, int] = (0, 1), progress: bool = True, desc: str = "rendering",
              worker_fn=None) -> Dict[str, int]:
    """Render the pending tasks of this shard. Returns counts: ``total`` (in the shard),
    ``skipped`` (already finished), ``rendered``. Raises KeyboardInterrupt when interrupted
    (after cleaning up), so scripts can exit with status 130, and :class:`WorkerDied` naming
    the batches in flight when a worker process dies. ``worker_fn(task) -> scenes``: what a
    worker process runs per task (default: render it; a module-level function)."""

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
            renderer = Renderer(threads=settings.threads)
            for t in todo:
                n = render_task(renderer, t, settings)
                counts["rendered"] += 1
                bar.update(n if total else 1)
        else:
            def done(n):
                counts["rendered"] += 1
                bar.update(n if total else 1)
            try:
                _run_in_processes(todo, settings, workers, worker_fn or _worker_run, done)
            finally:
                remove_temp_files(pending(todo))   # the batches in flight were dropped: their temp files too
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


def dataset_seed(cfg, seed: Optional[int] = None) -> int:
    """The seed a dataset of the generation config ``cfg`` is drawn from: ``seed`` when given (a
    command's ``--seed``), else the config's, where -1 (the training configs' "no seed") means 0."""
    if seed is not None:
        return seed
    return cfg.seed if cfg.seed >= 0 else 0


def dataset_info(cfg, seed: int, size: int, testing_size: int, **extra) -> Dict[str, Any]:
    """The ``dataset.json`` record of a dataset the generation config ``cfg`` draws (its scene
    family, seed, split sizes and batch shape), plus ``extra`` (how its batch files are rendered:
    ``render_size``, ``samples_per_pixel``, ``passes``, ...). One record for every command that
    makes datasets, so that they recognise each other's folders."""
    return {"dataset": cfg.dataset, "seed": seed, "size": size, "testing_size": testing_size,
            "batch_size": cfg.batch_size, "test_batch_size": cfg.test_batch_size,
            "views_per_scene": cfg.views_per_scene, "latent_separation": cfg.latent_separation,
            "config": cfg.source, **extra}


def write_info(path: PathLike, info: dict) -> None:
    """Write a dataset's ``dataset.json`` (how it was made), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_target(path)
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    finish_atomic(tmp, path)


#: ``dataset.json`` keys that decide what a batch file holds: a rerun into a folder must agree on
#: them, or its new batches would silently mix with the old ones. (``size``/``testing_size`` may
#: change: batch ``i`` depends only on the seed and ``i``, so a dataset can be extended.)
DEFINING_KEYS = ("dataset", "seed", "batch_size", "test_batch_size", "views_per_scene", "latent_separation",
                 "json_folder", "render_size", "samples_per_pixel", "passes", "format")


def check_info(path: PathLike, info: dict,
               remedy: str = "Use another --out_folder, the same settings, or --force to delete its batches and "
                             "start over") -> Optional[dict]:
    """Compare the settings ``info`` of a run with the ``dataset.json`` at ``path`` (if any):
    :class:`DatasetError` naming the file and every differing key if they disagree on a
    :data:`DEFINING_KEYS` key, or on the digest of a JSON batch folder both record (``sources``:
    the folder's scene files were re-created since its batch was rendered). Returns the recorded
    settings (None if there are none). ``remedy``: what the error tells the user to do."""
    path = Path(path)
    if not path.is_file():
        return None
    recorded = read_json_file(path, DatasetError, "dataset description")
    if not isinstance(recorded, dict):
        raise DatasetError(f"{path}: a dataset description must be a JSON object")
    if ("format" in recorded) != ("format" in info):
        kinds = ("batch files", "scene JSON files")
        there, now = kinds if "format" in recorded else kinds[::-1]
        raise DatasetError(f"{path}: the folder holds a dataset of {there}; this command makes {now}, and its "
                           f"dataset.json and files would be mixed with them. Use another --out_folder")
    diffs = [f"{k}: {json.dumps(recorded[k])} in the folder, {json.dumps(info[k])} now"
             for k in DEFINING_KEYS if k in recorded and k in info and recorded[k] != info[k]]
    before, now = recorded.get("sources"), info.get("sources")
    if isinstance(before, dict) and isinstance(now, dict):
        changed = sorted(k for k, digest in before.items() if now.get(k) != digest)
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            diffs.append(f"the scene files of {', '.join(changed[:3])}{more} changed since they were rendered "
                         f"(re-created with other settings?)")
    if diffs:
        raise DatasetError(
            f"{path}: the folder holds a dataset made with other settings ({'; '.join(diffs)}); its finished "
            f"batches would be skipped and mixed with new ones. {remedy}")
    return recorded


def clear_outputs(folders: Sequence[PathLike]) -> int:
    """``--force``: delete the batch files (finished and temporary) and ``dataset.json`` of a
    dataset's folders; returns the number of batch files deleted."""
    n = 0
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            name = f.name.lstrip(".")
            if f.is_file() and name.startswith("batch") and (f.suffix in (".exr", ".tmp")):
                f.unlink()
                n += not f.name.startswith(".")
    return n


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
        write_batch(t.out, data.images, data.poses, data.factor, compression=compression,
                    meta={"npz_source": t.folder.name})
    return {"total": len(tasks), "skipped": len(tasks) - len(todo), "rendered": len(todo)}

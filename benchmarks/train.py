#!/usr/bin/env python3
"""Training speed: iterations/s and the fraction of time spent waiting for data.

For each config (default: ``room_beauty``, batch 16 at 64x64, and the small quick-start
config) the trainer runs on a small synthetic dataset written in the reference's ``.npz``
layout (so the real loader and its worker processes are measured), once per setting:

- ``eager``          fp32, the baseline every ratio refers to
- ``channels_last``  channels-last memory format
- ``compile``        ``torch.compile`` of the training step (on CPUs only when asked: slow to compile)
- ``bf16``           bf16 autocast (CUDA only)

A setting counts as correct when its first-iteration loss (same seed, same batch) agrees with
eager to 1e-2 relative. With the renderer available, the small config is also measured with
on-the-fly rendering (``cached_dataset: false``), where the renderer's worker shares the cores
with training.

    python benchmarks/train.py                       # CPU: a few minutes (eager, channels_last)
    python benchmarks/train.py --settings eager,channels_last,compile
    python benchmarks/train.py --configs small --iterations 30
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

from cnsr.config import load_config  # noqa: E402
from cnsr.data import write_batch_npz  # noqa: E402
from cnsr.engine.trainer import Trainer  # noqa: E402
from cnsr.passes import channels  # noqa: E402

CONFIGS = {"room_beauty": ROOT / "configs" / "room_beauty.json"}


def small_config_path() -> Path:
    for name in ("quickstart.json", "quickstart_data.json"):
        if (ROOT / "configs" / name).is_file():
            return ROOT / "configs" / name
    raise SystemExit("no small config (configs/quickstart.json) found")


def write_synthetic_dataset(cfg, folder: Path, files: int = 3) -> None:
    """``files`` batches of random images of the config's passes and size."""
    rng = np.random.default_rng(0)
    size, views, scenes = cfg.max_render_size(), cfg.views_per_scene, max(cfg.batch_size, cfg.test_batch_size)
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for i in range(files if split == "train" else 1):
            images = {p: rng.random((scenes, views, channels(p), size, size), dtype=np.float32)
                      for p in cfg.needed_passes()}
            write_batch_npz(folder / split / f"batch{i:09d}.npz", images,
                            rng.normal(size=(scenes, views, 16)), i % 3)


def make_trainer(cfg, setting: str, device: str, out: Path) -> Trainer:
    torch.manual_seed(0)
    trainer = Trainer(cfg, device=device, out_folder=out, progress=False, handle_signals=False, save_final=False,
                      channels_last=setting in ("channels_last", "compile"), compile=setting == "compile")
    if setting == "bf16":
        trainer.autocast = True
    return trainer


def run_config(name: str, path: Path, args, settings, work: Path, on_the_fly: bool = False):
    """Warm each setting up, then time their iterations interleaved (one of each in turn), so
    that the load of a shared machine hits every setting alike; best and median per setting."""
    cfg = load_config(path)
    cfg.logging = False
    cfg.seed = 0
    cfg.checkpoint_interval = 10 ** 9
    cfg.num_workers = args.num_workers
    if name == "room_beauty":
        cfg.batch_size = 16
    if on_the_fly:
        cfg.cached_dataset = False
    else:
        data = work / f"data_{name}"
        write_synthetic_dataset(cfg, data)
        cfg.cached_dataset, cfg.train_data_dir, cfg.test_data_dir = True, str(data / "train"), str(data / "test")
    iters = args.iterations if args.iterations else (3 if name == "room_beauty" else 20)
    size = cfg.max_render_size()
    label = f"{name} (batch {cfg.batch_size}, {size}x{size}, {'rendered on the fly' if on_the_fly else 'npz files'})"
    print(f"\n{label}: {iters} timed iterations per setting, interleaved, after warm-up", flush=True)
    trainers, warm = {}, {}
    for s in settings:
        try:
            t = make_trainer(cfg, s, args.device, work / "ckpt")
            t0 = time.perf_counter()
            # compile: the second iteration recompiles with a dynamic iteration number
            t.train(max(args.warmup, 2) if s == "compile" else args.warmup)
            warm[s] = time.perf_counter() - t0
            trainers[s] = t
        except Exception as e:  # a setting the platform cannot run (e.g. no compiler for inductor)
            print(f"  {s:<14} failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
    steps = {s: [] for s in trainers}
    waits = {s: [] for s in trainers}
    for _ in range(iters):
        for s, t in trainers.items():
            t0 = time.perf_counter()
            logs = t.step(t.start_iteration)
            steps[s].append(time.perf_counter() - t0)
            waits[s].append(logs["data_time"])
            t.start_iteration += 1
    rows = []
    base = None
    for s, t in trainers.items():
        best, median = 1 / min(steps[s]), 1 / float(np.median(steps[s]))
        r = {"config": label, "setting": s, "best_it_per_s": best, "median_it_per_s": median,
             "data_wait_fraction": sum(waits[s]) / sum(steps[s]), "first_loss": t.history[0]["loss"],
             "warmup_s": warm[s], "iterations": iters}
        base = base or r
        r["ratio_best"] = best / base["best_it_per_s"]
        r["ratio_median"] = median / base["median_it_per_s"]
        r["correct"] = abs(r["first_loss"] - base["first_loss"]) <= 1e-2 * abs(base["first_loss"])
        rows.append(r)
        print(f"  {s:<14} best {best:8.3f} it/s  x{r['ratio_best']:5.2f}   median {median:8.3f} it/s  "
              f"x{r['ratio_median']:5.2f}   data wait {r['data_wait_fraction']:5.1%}   first loss "
              f"{r['first_loss']:.5f} ({'ok' if r['correct'] else 'DIFFERS'})   warm-up {warm[s]:.1f} s", flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="room_beauty,small", help="comma-separated: room_beauty, small, or paths")
    p.add_argument("--settings", default=None, help="comma-separated subset of eager,channels_last,compile,bf16")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--iterations", type=int, default=0, help="timed iterations per setting (default 3 for room_beauty, 20 otherwise)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--num_workers", type=int, default=2)
    p.add_argument("--no_render", action="store_true", help="skip the on-the-fly rendering measurement")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()

    # torch.compile costs minutes of compiling and was slower on CPUs: measured on request (--settings)
    settings = ["eager", "channels_last"] + (["compile", "bf16"] if args.device.startswith("cuda") else [])
    if args.settings:
        settings = args.settings.split(",")
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.configs.split(","):
            path = small_config_path() if name == "small" else CONFIGS.get(name, Path(name))
            results += run_config(name, path, args, settings, work)
            if name == "small" and not args.no_render:
                try:
                    # cnsr.render imports the compiled extension only when rendering: ask for it directly
                    importlib.import_module("cnsr._renderer")
                except ImportError:
                    print("  (renderer not available: on-the-fly rendering not measured)")
                else:
                    results += run_config(name, path, args, ["eager"], work, on_the_fly=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

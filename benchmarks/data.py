#!/usr/bin/env python3
"""Dataset speed: scenes rendered per second, and training batches loaded per second from our
EXR batch files against the reference's ``.npz`` layout holding the same content.

1. Rendering: ``--batches`` dataset batches of the generation config (default
   ``save_room``: 16 scenes x 4 views, 64x64, 1 spp, all 16 passes) rendered with
   ``generate-dataset.py``'s engine (all cores) -> scenes/s.
2. Loading: one rendered batch is stored twice, as our uncompressed contact-sheet EXR and as
   the reference's ``np.savez_compressed`` float16 ``.npz`` (all 16 passes in both, as a
   dataset made for any config holds them). Then the training dataset cuts the training
   config's batch (default ``room_beauty``: 16 scenes, 3 observations + query, passes
   beauty/normal/position/id) from each file, ``--repeats`` times, interleaved, same process:
   batches/s per format and the ratio, from the best and from the median time. Measured twice: as the workers hand batches over for
   GPU training (float16, converted on the GPU) and for CPU training (float32). Both formats go
   through the same conversion code (``split_views``: one torch ``copy_`` per tensor, or per
   channel where a view onto our file has a negative stride); they differ in how the float16
   arrays are obtained: views onto the mapped EXR against inflating the ``.npz`` members.
   Loads run with one torch intra-op thread (``--threads``), as in the loader's worker processes
   (training loads there); on a busy machine more threads make each small copy wait for a
   descheduled thread, for both formats.

    python benchmarks/data.py                      # about a minute on 2 cores
    python benchmarks/data.py --gen_config configs/save_archviz.json --train_config configs/archviz_beauty.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

from cnsr.config import load_config  # noqa: E402
from cnsr.data import BatchFileDataset, read_batch_exr, write_batch_npz  # noqa: E402
from cnsr.data.generate import RenderSettings, random_tasks, run_tasks  # noqa: E402
from machine import cpu_name  # noqa: E402


def bench_render(gen_cfg, folder: Path, batches: int, workers: int):
    settings = RenderSettings(size=gen_cfg.max_render_size(), spp=gen_cfg.samples_per_pixel,
                              dataset=gen_cfg.dataset)
    tasks = random_tasks(gen_cfg.dataset, folder, 0, {"train": batches}, gen_cfg.batch_size,
                         gen_cfg.test_batch_size, gen_cfg.views_per_scene, gen_cfg.latent_separation)
    t = time.perf_counter()
    run_tasks(tasks, settings, workers=workers or None, progress=False)
    dt = time.perf_counter() - t
    scenes = batches * gen_cfg.batch_size
    return scenes / dt, dt, settings, tasks[0].out


def time_loads(ds: BatchFileDataset, path: Path, repeats: int) -> list:
    out = []
    for i in range(repeats):
        t = time.perf_counter()
        ds.load(path, i)
        out.append(time.perf_counter() - t)
    return out


def bench_load(train_cfg, exr: Path, npz: Path, repeats: int):
    rows = []
    for label, dtype in (("float16 (GPU hand-over)", torch.float16), ("float32 (CPU training)", torch.float32)):
        ds = BatchFileDataset([exr, npz], train_cfg.needed_passes(), train_cfg.batch_size,
                              train_cfg.views_per_scene, random_scenes=True, dtype=dtype)
        times = {"exr": [], "npz": []}
        for _ in range(2):   # interleave the formats so that machine noise hits both alike
            times["exr"] += time_loads(ds, exr, repeats // 2 or 1)
            times["npz"] += time_loads(ds, npz, repeats // 2 or 1)
        for stat, fn in (("best", np.min), ("median", np.median)):
            t = {k: float(fn(v)) for k, v in times.items()}
            rows.append((f"{label}, {stat}", 1 / t["exr"], 1 / t["npz"], t["npz"] / t["exr"]))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gen_config", default=str(ROOT / "configs" / "save_room.json"))
    p.add_argument("--train_config", default=str(ROOT / "configs" / "room_beauty.json"))
    p.add_argument("--batches", type=int, default=6, help="dataset batches to render (process start-up included)")
    p.add_argument("--workers", type=int, default=0, help="render processes (0: one per core)")
    p.add_argument("--repeats", type=int, default=40, help="loads per format")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads while loading (default 1, as in the loader's worker processes)")
    args = p.parse_args(argv)
    gen_cfg, train_cfg = load_config(args.gen_config), load_config(args.train_config)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rate, dt, settings, first = bench_render(gen_cfg, tmp / "exr", args.batches, args.workers)
        print(f"\nrendering ({gen_cfg.dataset}, {settings.size}x{settings.size} px, {settings.spp} spp, "
              f"{len(settings.passes)} passes, {gen_cfg.views_per_scene} views/scene): "
              f"{rate:.2f} scenes/s ({args.batches} batches of {gen_cfg.batch_size} scenes in {dt:.1f} s)")
        data = read_batch_exr(first)
        npz = tmp / "batch000000000.npz"
        write_batch_npz(npz, data.images, data.poses, data.factor)
        B, V, H, W = data.shape
        print(f"\nloading a training batch of {train_cfg.batch_size} scenes x {train_cfg.views_per_scene} views, "
              f"passes {','.join(train_cfg.needed_passes())}, from a file of {B} scenes x {V} views x "
              f"{len(data.images)} passes at {H}x{W} (ours {first.stat().st_size / 1e6:.1f} MB, "
              f"reference .npz {npz.stat().st_size / 1e6:.1f} MB), best and median of {args.repeats} loads "
              f"(best = least disturbed by other processes), {args.threads} torch thread(s)"
              f"{' as in a loader worker process' if args.threads == 1 else ''}:")
        print(f"{'':34s} {'ours (EXR) batches/s':>22s} {'reference .npz batches/s':>26s} {'ratio':>7s}")
        threads = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            rows = bench_load(train_cfg, first, npz, args.repeats)
        finally:
            torch.set_num_threads(threads)
        for label, ours, ref, ratio in rows:
            print(f"{label:34s} {ours:22.1f} {ref:26.1f} {ratio:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

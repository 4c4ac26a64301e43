#!/usr/bin/env python3
"""Data at rate: training batches per second that the loader delivers from batch files, by
number of worker processes, and what rendering on the fly would need to match it.

Synthetic batch files of a training config (default ``room_beauty``: 16 scenes x 4 views,
64x64, beauty, normal, position, id) in our EXR format (the reference's ``.npz`` with
``--format npz``) are read through the real loader (``BatchFileDataset`` in ``BatchLoader``
worker processes) with the float16 hand-over of GPU training: the workers cut the batch and
hand over float16 tensors in shared memory. On ``--device cuda`` the batches then go through
pinned memory to the GPU and are converted to float32 there, exactly as in training; on the
CPU the batches stop at the hand-over (what a GPU run's workers do, minus the pinning and
the copy). ``--float32`` measures the CPU-training path (workers convert) instead.

Each worker count gets a fresh loader; after ``--warmup`` batches (worker start-up excluded)
``--batches`` are timed. The per-worker rate times the cores of a bigger machine (less one
for the training process) is printed as an extrapolation, which assumes that memory bandwidth
and the page cache keep up. ``--render K`` also renders K batches of the config on the fly
in this process with all cores (``cached_dataset: false``: only the needed passes, at the
config's ``samples_per_pixel``), to say how many render workers 100 batches/s would need.

    python benchmarks/loader.py                           # room_beauty, 1 and 2 workers
    python benchmarks/loader.py --workers 1,2,4,8,15 --device cuda
    python benchmarks/loader.py --config configs/archviz_beauty.json --render 1
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _synthetic import write_synthetic_dataset  # noqa: E402
from cnsr.config import load_config  # noqa: E402
from cnsr.data import BatchFileDataset, BatchLoader, list_batch_files  # noqa: E402
from cnsr.data.loader import BatchSampler  # noqa: E402


def measure(cfg, folder: Path, workers: int, device: str, float32: bool, batches: int, warmup: int) -> dict:
    cuda = device.startswith("cuda")
    files = list_batch_files(folder)
    dtype = torch.float32 if float32 else torch.float16
    ds = BatchFileDataset(files, cfg.needed_passes(), cfg.batch_size, cfg.views_per_scene,
                          random_scenes=True, dtype=dtype, seed=0)
    sampler = BatchSampler(len(files), shuffle=True, seed=0)
    loader = BatchLoader(ds, device, workers, sampler=sampler, to_float=cuda)
    n, t0, t_first = 0, None, time.perf_counter()
    epoch_ends = 0
    while n < warmup + batches:
        for batch in loader:
            if cuda:
                torch.cuda.synchronize()
            n += 1
            if n == warmup:
                t0 = time.perf_counter()
            if n == warmup + batches:
                break
        else:
            epoch_ends += 1
    dt = time.perf_counter() - t0
    start = t0 - t_first
    nbytes = sum(t.numel() * t.element_size() for t in _tensors(batch))
    del loader, batch
    gc.collect()
    return {"workers": workers, "batches_per_s": batches / dt, "startup_s": start,
            "mb_per_batch": nbytes / 1e6, "epoch_restarts": epoch_ends}


def _tensors(tree):
    if torch.is_tensor(tree):
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _tensors(v)


def render_rate(cfg, batches: int) -> dict:
    """Batches/s rendered on the fly with all cores of this process (one renderer, as a worker)."""
    from cnsr.data.onthefly import RenderedBatches
    from cnsr.render import Renderer

    cores = os.cpu_count() or 1
    ds = RenderedBatches(cfg, "train", batch_size=cfg.batch_size, dtype=torch.float16, threads=cores)
    renderer = Renderer(threads=cores)
    times = []
    for k in range(batches):
        t0 = time.perf_counter()
        ds.batch(renderer, k)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"render_batches_per_s": 1 / best, "render_s_per_batch_best": best,
            "render_s_per_batch_all": times, "render_threads": cores,
            "render_batches_per_s_per_core": 1 / best / cores}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(ROOT / "configs" / "room_beauty.json"), help="training config")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--device", default="cpu", help="cpu: stop at the hand-over; cuda: on to the GPU as in training")
    p.add_argument("--float32", action="store_true", help="workers convert to float32 (CPU training) instead")
    p.add_argument("--batches", type=int, default=200, help="timed batches per worker count")
    p.add_argument("--warmup", type=int, default=10, help="batches before timing (worker start-up)")
    p.add_argument("--files", type=int, default=8, help="distinct batch files")
    p.add_argument("--epoch", type=int, default=400, help="files per pass (further names link to the distinct ones)")
    p.add_argument("--format", default="auto", choices=["auto", "exr", "npz"])
    p.add_argument("--batch_size", type=int, default=0, help="override the config's batch size")
    p.add_argument("--cores", type=int, default=16, help="cores of the machine to extrapolate to")
    p.add_argument("--target", type=float, default=100.0, help="batches/s the GPU needs")
    p.add_argument("--render", type=int, default=0, metavar="K", help="also render K batches on the fly (renderer needed)")
    p.add_argument("--tiny", action="store_true", help="batch 2 at 16 px (dry runs)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()

    cfg = load_config(args.config)
    cfg.seed = 0
    if args.tiny:
        d = cfg.to_dict()
        d["batch_size"] = d["test_batch_size"] = 2
        for r in d["model"]["representations"]:
            r["render_size"] = 16
        for g in d["model"]["generators"]:
            g["render_size"] = 16
        cfg = load_config(d)
        cfg.seed = 0
    if args.batch_size:
        cfg.batch_size = args.batch_size
    cores = os.cpu_count() or 1
    size = cfg.max_render_size()
    print(f"{Path(args.config).stem}: batch {cfg.batch_size} x {cfg.views_per_scene} views, {size}x{size}, "
          f"passes {', '.join(cfg.needed_passes())}; {cores} cores here; hand-over "
          f"{'float32' if args.float32 else 'float16'}{' to ' + args.device if args.device != 'cpu' else ''}", flush=True)
    out = {"config": Path(args.config).stem, "cores": cores, "device": args.device,
           "float32": args.float32, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_synthetic_dataset(cfg, Path(tmp), unique=args.files, total=args.epoch, fmt=args.format,
                                         test_files=1) / "train"
        fmt = list_batch_files(folder)[0].suffix[1:]
        out["format"] = fmt
        for w in [int(x) for x in args.workers.split(",")]:
            r = measure(cfg, folder, w, args.device, args.float32, args.batches, args.warmup)
            out["rows"].append(r)
            print(f"  {w:2d} worker(s), {fmt}: {r['batches_per_s']:8.1f} batches/s "
                  f"({r['batches_per_s'] * r['mb_per_batch']:.0f} MB/s handed over, {r['mb_per_batch']:.1f} MB "
                  f"per batch; start-up {r['startup_s']:.1f} s)", flush=True)
    one = next((r for r in out["rows"] if r["workers"] == 1), None)
    if one:
        per_worker = one["batches_per_s"]
        extra = per_worker * max(1, args.cores - 1)
        out["extrapolated"] = {"cores": args.cores, "batches_per_s": extra}
        print(f"  extrapolation: {per_worker:.1f} batches/s per worker x {args.cores - 1} workers "
              f"(one of {args.cores} cores left to training) = {extra:.0f} batches/s, if memory bandwidth "
              f"keeps up; {math.ceil(args.target / per_worker)} worker(s) for {args.target:.0f} batches/s", flush=True)
    if args.render:
        r = render_rate(cfg, args.render)
        out.update(r)
        need = args.target / r["render_batches_per_s_per_core"]
        out["render_cores_for_target"] = need
        print(f"  on the fly: {r['render_s_per_batch_best']:.2f} s per batch with {cores} threads "
              f"({r['render_batches_per_s_per_core']:.3f} batches/s per core, best of {args.render}): "
              f"{args.target:.0f} batches/s would need about {need:.0f} cores of render workers", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

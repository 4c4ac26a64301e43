#!/usr/bin/env python3
"""Training speed: iterations/s, the fraction of time spent waiting for data, peak memory,
and the distance to the floor that the FLOPs of one iteration and the machine's matrix rate set.

For each config the trainer runs on a small synthetic dataset (random images of the config's
passes and size in our EXR batch format, or the reference's ``.npz`` layout without OpenEXR),
read by the real loader and its worker processes, once per setting. A setting is a ``+``-joined
list of features on top of eager fp32:

- ``eager``          fp32, the baseline every ratio refers to (TF32 off, also for cuDNN)
- ``tf32``           fp32 products and convolutions in TF32 (CUDA)
- ``bf16``           bf16 autocast (CUDA; ``mixed_precision`` in configs)
- ``channels_last``  channels-last memory format
- ``fused_adam``     Adam's fused implementation
- ``compile``        ``torch.compile`` of the training step (on CPUs only when asked: slow to compile)
- ``cudagraphs``     ``torch.compile(mode="reduce-overhead")``: CUDA graph replay
- ``on_device``      no loader: a few batches already on the device, cycled (compute alone)

e.g. ``--settings eager,tf32,bf16+fused_adam+on_device``. A setting counts as correct when its
first-iteration loss (same seed, same batch) agrees with eager's to 1e-2 relative. After a
warm-up, the settings' iterations are timed interleaved (one of each in turn), so that the load
of a shared machine hits every setting alike; best and median per setting.

Floor: the FLOPs of one eager iteration (forward + backward, counted by
``torch.utils.flop_counter.FlopCounterMode``) divided by the matrix rate measured in the same
run for the setting's precision (fp32, TF32 or bf16; a large square matrix product);
``measured / floor`` says how far an iteration is from pure matrix arithmetic at that rate.
Peak memory (CUDA) is the most the setting allocated on the device during its warm-up, above
what was allocated before it was built.

    python benchmarks/train.py                       # CPU: a few minutes (eager, channels_last)
    python benchmarks/train.py --settings eager,channels_last,compile
    python benchmarks/train.py --configs small --iterations 30
    python benchmarks/train.py --device cuda --configs room_beauty,archviz_beauty --json out.json
"""
from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _synthetic import write_synthetic_dataset  # noqa: E402
from cnsr.config import load_config  # noqa: E402
from cnsr.engine.trainer import Trainer  # noqa: E402

CONFIGS = {name: ROOT / "configs" / f"{name}.json"
           for name in ("room_beauty", "archviz_beauty", "room_beauty_unet", "room_beauty_gqn_buffers")}
FEATURES = ("eager", "tf32", "bf16", "channels_last", "fused_adam", "compile", "cudagraphs", "on_device")


def small_config_path() -> Path:
    for name in ("quickstart.json", "quickstart_data.json"):
        if (ROOT / "configs" / name).is_file():
            return ROOT / "configs" / name
    raise SystemExit("no small config (configs/quickstart.json) found")


def features_of(setting: str) -> set:
    feats = set(setting.split("+")) - {"eager"}
    unknown = feats - set(FEATURES)
    if unknown:
        raise SystemExit(f"--settings: unknown feature(s) {', '.join(sorted(unknown))}; "
                         f"features: {', '.join(FEATURES)}")
    return feats


def set_tf32(on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matrix_rates(device: str, n: int = 0, reps: int = 0, tiny: bool = False) -> dict:
    """Measured FLOP/s of an n x n x n matrix product in fp32, TF32 and bf16 (2 n^3 per product)."""
    cuda = device.startswith("cuda")
    n = n or (8192 if cuda else 512 if tiny else 1024)
    reps = reps or (10 if cuda else 3)
    rates = {}
    for name, dtype, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True),
                              ("bf16", torch.bfloat16, False)):
        if not cuda and name == "tf32":
            continue   # no TF32 on CPUs
        set_tf32(tf32)
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        for _ in range(2):
            a @ b
        sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        rates[name] = 2 * n ** 3 * reps / (time.perf_counter() - t0)
        del a, b
    set_tf32(False)
    if not cuda:
        rates["tf32"] = rates["fp32"]
    return rates


def precision_of(feats: set, cuda: bool) -> str:
    """The precision of a setting's matrix products (bf16 autocast and TF32 act on CUDA only)."""
    if not cuda:
        return "fp32"
    return "bf16" if "bf16" in feats else "tf32" if "tf32" in feats else "fp32"


def tiny_dict(d: dict) -> dict:
    """A config shrunk for dry runs: batch 2, 16 px, 32-d representations, a narrow pixel generator."""
    d = json.loads(json.dumps(d))
    d["batch_size"] = d["test_batch_size"] = 2
    for r in d["model"]["representations"]:
        r["render_size"] = 16
        r["representation_dim"] = 32
    for g in d["model"]["generators"]:
        g["render_size"] = 16
        if g.get("type") == "PixelCNN":
            g.setdefault("settings", {}).update(layers=2, hidden_units=32)
    return d


def load_bench_config(name: str, path: Path, args, on_the_fly: bool):
    d = json.loads(Path(path).read_text())
    if args.tiny:
        d = tiny_dict(d)
    cfg = load_config(d)
    cfg.logging = False
    cfg.seed = 0
    cfg.checkpoint_interval = 10 ** 9
    cfg.num_workers = args.num_workers
    if args.batch_size:
        cfg.batch_size = args.batch_size
    if on_the_fly:
        cfg.cached_dataset = False
    return cfg


def make_trainer(cfg, feats: set, device: str, out: Path, on_device_batches=None) -> Trainer:
    torch.manual_seed(0)
    factory = None
    if "on_device" in feats:
        def factory(cfg, split, device, **_):    # a LoaderFactory: the same batches every pass
            return itertools.cycle(on_device_batches)
    compile_mode = "reduce-overhead" if "cudagraphs" in feats else ("default" if "compile" in feats else False)
    set_tf32("tf32" in feats)
    trainer = Trainer(cfg, device=device, out_folder=out, progress=False, handle_signals=False, save_final=False,
                      channels_last="channels_last" in feats, compile=compile_mode,
                      fused_adam="fused_adam" in feats, loader_factory=factory)
    trainer.autocast = "bf16" in feats and device.startswith("cuda")
    return trainer


def device_batches(cfg, device: str, n: int = 4):
    """The first ``n`` training batches of the config's data, on the device (the ``on_device`` setting)."""
    from cnsr.data import build_loader

    loader = build_loader(cfg, "train", device=device, num_workers=0, seed=cfg.seed)
    return [b for b, _ in zip(loader, range(n))]


def count_flops(trainer: Trainer) -> float:
    """FLOPs of one training step (forward + backward; the counter sees matrix products and
    convolutions, which is where the work is)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        trainer.step(trainer.start_iteration)
    trainer.start_iteration += 1
    return float(counter.get_total_flops())


def run_config(name: str, path: Path, args, settings, work: Path, rates: dict, on_the_fly: bool = False):
    """Warm each setting up, then time their iterations interleaved (one of each in turn), so
    that the load of a shared machine hits every setting alike; best and median per setting."""
    cuda = args.device.startswith("cuda")
    cfg = load_bench_config(name, path, args, on_the_fly)
    if not on_the_fly:
        data = work / f"data_{name}"
        write_synthetic_dataset(cfg, data, unique=args.files, total=args.epoch, fmt=args.format)
        cfg.cached_dataset, cfg.train_data_dir, cfg.test_data_dir = True, str(data / "train"), str(data / "test")
    iters = args.iterations or (30 if cuda else 3 if name != "small" else 20)
    size = cfg.max_render_size()
    label = f"{name} (batch {cfg.batch_size}, {size}x{size}, {'rendered on the fly' if on_the_fly else 'batch files'})"
    print(f"\n{label}: {iters} timed iterations per setting, interleaved, after warm-up", flush=True)
    resident = None
    trainers, warm, memory = {}, {}, {}
    for s in settings:
        feats = features_of(s)
        try:
            if "on_device" in feats and resident is None:
                resident = device_batches(cfg, args.device)
            if cuda:
                sync(args.device)
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            t = make_trainer(cfg, feats, args.device, work / "ckpt" / s, resident)   # a run folder each
            t0 = time.perf_counter()
            # compile: the second iteration recompiles with a dynamic iteration number; CUDA
            # graphs are recorded after warm-up runs
            t.train(max(args.warmup, 3) if feats & {"compile", "cudagraphs"} else args.warmup)
            sync(args.device)
            warm[s] = time.perf_counter() - t0
            if cuda:
                memory[s] = torch.cuda.max_memory_allocated() - base
            trainers[s] = t
        except Exception as e:  # a setting the platform cannot run (e.g. no compiler for inductor)
            print(f"  {s:<14} failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}",
                  flush=True)
    steps = {s: [] for s in trainers}
    waits = {s: [] for s in trainers}
    for _ in range(iters):
        for s, t in trainers.items():
            set_tf32("tf32" in features_of(s))
            sync(args.device)
            t0 = time.perf_counter()
            logs = t.step(t.start_iteration)
            sync(args.device)
            steps[s].append(time.perf_counter() - t0)
            waits[s].append(logs["data_time"])
            t.start_iteration += 1
    flops = None
    if "eager" in trainers and not args.no_flops:
        set_tf32(False)
        flops = count_flops(trainers["eager"])
    set_tf32(False)
    rows = []
    base = None
    width = max([14] + [len(s) for s in trainers])
    for s, t in trainers.items():
        best_s, median_s = min(steps[s]), float(np.median(steps[s]))
        r = {"config": name, "label": label, "setting": s, "device": args.device,
             "best_ms": 1e3 * best_s, "median_ms": 1e3 * median_s,
             "best_it_per_s": 1 / best_s, "median_it_per_s": 1 / median_s,
             "data_wait_fraction": sum(waits[s]) / sum(steps[s]), "first_loss": t.history[0]["loss"],
             "warmup_s": warm[s], "iterations": iters, "batch_size": cfg.batch_size, "size": size}
        if s in memory:
            r["peak_memory_gib"] = memory[s] / 2 ** 30
        if flops:
            precision = precision_of(features_of(s), cuda)
            floor = flops / rates[precision]
            r.update(flops_per_iteration=flops, precision=precision, floor_ms=1e3 * floor,
                     measured_over_floor_best=best_s / floor, measured_over_floor_median=median_s / floor)
        base = base or r
        r["ratio_best"] = r["best_it_per_s"] / base["best_it_per_s"]
        r["ratio_median"] = r["median_it_per_s"] / base["median_it_per_s"]
        r["correct"] = abs(r["first_loss"] - base["first_loss"]) <= 1e-2 * abs(base["first_loss"])
        rows.append(r)
        extra = f"   peak {r['peak_memory_gib']:.2f} GiB" if "peak_memory_gib" in r else ""
        if "floor_ms" in r:
            extra += f"   /floor {r['measured_over_floor_median']:.1f}"
        print(f"  {s:<{width}} {r['median_ms']:9.2f} ms/it (best {r['best_ms']:.2f})  x{r['ratio_median']:5.2f} "
              f"(best x{r['ratio_best']:5.2f})   data wait {r['data_wait_fraction']:5.1%}   first loss "
              f"{r['first_loss']:.5f} ({'ok' if r['correct'] else 'DIFFERS'})   warm-up {warm[s]:.1f} s{extra}",
              flush=True)
    if args.sustained:
        sustain(rows, trainers, args)
    if flops:
        print(f"  one iteration: {flops / 1e12:.3f} TFLOP (forward + backward, counted); floor at the "
              f"measured rates: fp32 {1e3 * flops / rates['fp32']:.2f} ms, tf32 {1e3 * flops / rates['tf32']:.2f} ms, "
              f"bf16 {1e3 * flops / rates['bf16']:.2f} ms", flush=True)
    for t in trainers.values():
        t.close()
        t._train_iter = None          # ends the loader's worker processes
    trainers.clear()
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return rows


def sustain(rows, trainers, args) -> None:
    """Run the fastest correct setting that the loader feeds (not ``on_device``) alone for
    ``args.sustained`` iterations: the speed with the loader's workers serving it alone."""
    fed = [r for r in rows if r["correct"] and "on_device" not in features_of(r["setting"])]
    if not fed:
        return
    r = min(fed, key=lambda r: r["median_ms"])
    t = trainers[r["setting"]]
    set_tf32("tf32" in features_of(r["setting"]))
    summary = t.train(t.start_iteration - 1 + args.sustained)
    sync(args.device)
    set_tf32(False)
    r.update(sustained_ms=1e3 / summary["it_per_s"], sustained_data_wait_fraction=summary["data_wait_fraction"],
             sustained_iterations=summary["iterations_run"])
    print(f"  sustained, {r['setting']} alone: {r['sustained_ms']:.2f} ms/it over {summary['iterations_run']} "
          f"iterations, data wait {summary['data_wait_fraction']:.1%}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="room_beauty,small",
                   help="comma-separated: room_beauty, archviz_beauty, room_beauty_unet, room_beauty_gqn_buffers, "
                        "small (the quick-start config), or config paths")
    p.add_argument("--settings", default=None,
                   help=f"comma-separated settings, each a '+'-joined list of features: {', '.join(FEATURES)} "
                        "(default: eager,channels_last on CPUs; all single features on CUDA)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--iterations", type=int, default=0,
                   help="timed iterations per setting (default 30 on CUDA; on CPUs 3, 20 for the small config)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up iterations per setting (3 at least when compiling)")
    p.add_argument("--num_workers", type=int, default=2, help="loader worker processes")
    p.add_argument("--batch_size", type=int, default=0, help="override the configs' batch size")
    p.add_argument("--files", type=int, default=3, help="distinct synthetic training batch files per config")
    p.add_argument("--epoch", type=int, default=0,
                   help="training files per pass over the data (further names link to the distinct files)")
    p.add_argument("--format", default="auto", choices=["auto", "exr", "npz"],
                   help="synthetic batch files: ours (EXR), the reference's npz, or auto (EXR when OpenEXR is installed)")
    p.add_argument("--tiny", action="store_true", help="shrink the configs (batch 2, 16 px, narrow generator): dry runs")
    p.add_argument("--no_flops", action="store_true", help="skip counting the FLOPs of an iteration")
    p.add_argument("--sustained", type=int, default=0, metavar="N",
                   help="then run the fastest correct loader-fed setting alone for N iterations")
    p.add_argument("--budget_s", type=float, default=0, help="start no further config after this many seconds")
    p.add_argument("--no_render", action="store_true", help="skip the on-the-fly rendering measurement")
    p.add_argument("--json", default=None, help="also write the results here (after every config)")
    args = p.parse_args()

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: no CUDA device available")
    # torch.compile costs minutes of compiling and was slower on CPUs: measured on request (--settings)
    settings = (["eager", "tf32", "bf16", "channels_last", "fused_adam", "on_device", "compile", "cudagraphs"]
                if cuda else ["eager", "channels_last"])
    if args.settings:
        settings = args.settings.split(",")
    for s in settings:
        features_of(s)
    settings = ["eager"] + [s for s in settings if s != "eager"]   # the baseline first
    name = torch.cuda.get_device_name(args.device) if cuda else f"{os.cpu_count()} CPU cores"
    print(f"device {args.device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rates = matrix_rates(args.device, tiny=args.tiny)
    print("matrix rate: " + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in rates.items()), flush=True)
    results = []
    t_start = time.perf_counter()

    def save():
        if args.json:
            from cnsr.io.atomic import atomic_path
            with atomic_path(Path(args.json)) as tmp:
                Path(tmp).write_text(json.dumps({"device": args.device, "device_name": name,
                                                 "torch": torch.__version__, "matrix_rates": rates,
                                                 "results": results}, indent=2))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for cname in args.configs.split(","):
            if args.budget_s and time.perf_counter() - t_start > args.budget_s:
                print(f"\n{cname}: skipped (the {args.budget_s:.0f} s budget is spent)", flush=True)
                continue
            path = small_config_path() if cname == "small" else CONFIGS.get(cname, Path(cname))
            results += run_config(cname, path, args, settings, work, rates)
            save()
            if cname == "small" and not args.no_render:
                try:
                    # cnsr.render imports the compiled extension only when rendering: ask for it directly
                    importlib.import_module("cnsr._renderer")
                except ImportError:
                    print("  (renderer not available: on-the-fly rendering not measured)")
                else:
                    results += run_config(cname, path, args, ["eager"], work, rates, on_the_fly=True)
                    save()


if __name__ == "__main__":
    main()

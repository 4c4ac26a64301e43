#!/usr/bin/env python3
"""Patch attribution speed: one backward pass of the summed patch (``cnsr.analysis.attribution``) against
the reference's one backward pass per pixel and channel of the patch.

A model of a config (default ``room_beauty``: Pool encoder, 10 x 512 pixel generator; random
weights) gets one scene of three observations of random buffers at ``--size`` pixels; both
methods compute gradient x input of an ``--patch`` x ``--patch`` patch over every channel, and
the script checks that they agree and prints their times and the ratio.

    python benchmarks/attribution.py                            # room_beauty at 32 px, 8x8 patch
    python benchmarks/attribution.py --size 64 --patch 4
    python benchmarks/attribution.py --config configs/quickstart.json

``--viewer``: what the attribution viewer (``visualize-attributions.py``) waits for. Per config
(default ``quickstart`` and ``room_beauty``, random weights, ``--size`` 64, 2 threads): the
latency of a patch update of :class:`cnsr.analysis.attribution.AttributionSession` (patch moved: the
query attributions and the representation's gradient; then the observations' attributions)
against :func:`patch_attribution` recomputing everything, best and median over random patch
positions; and the viewer's frame time (composing the window image, the work of the UI thread)
while a background thread keeps computing updates for a patch that moves every frame.

    python benchmarks/attribution.py --viewer                   # quickstart and room_beauty, 64 px
    python benchmarks/attribution.py --viewer --configs quickstart --size 32
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))
sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu_name  # noqa: E402
from cnsr.analysis.attribution import AttributionSession, patch_attribution, patch_attribution_loop  # noqa: E402
from cnsr.config import load_config  # noqa: E402
from cnsr.models import build_model  # noqa: E402
from cnsr.passes import channels  # noqa: E402
from cnsr.render import Renderer  # noqa: E402
from cnsr.viewer.attributions import AttributionViewerState  # noqa: E402
from cnsr.viewer.background import BackgroundUpdater  # noqa: E402


def random_batch(cfg, size: int, views: int = 3) -> dict:
    g = torch.Generator().manual_seed(0)
    obs = {p for r in cfg.model.representations for p in r.observation_passes}
    query = {p for gen in cfg.model.generators for p in gen.query_passes} | {"beauty"}
    return {"observation_images": {p: torch.rand(1, views, channels(p), size, size, generator=g) for p in obs},
            "observation_poses": torch.rand(1, views, 16, 1, 1, generator=g),
            "query_images": {p: torch.rand(1, channels(p), size, size, generator=g) for p in query},
            "query_poses": torch.rand(1, 16, 1, 1, generator=g), "factor": -1}


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def stats(ts) -> str:
    ts = sorted(ts)
    return f"best {1000 * ts[0]:7.1f} ms  median {1000 * ts[len(ts) // 2]:7.1f} ms"


def viewer_latency(cfg_path: str, size: int, positions: int, seed: int = 0) -> None:
    """Update latencies of the viewer's attribution session against recomputing everything."""
    cfg = load_config(cfg_path)
    torch.manual_seed(0)
    model = build_model(cfg).eval().requires_grad_(False)
    batch = random_batch(cfg, size)
    rng = torch.Generator().manual_seed(seed)
    t = time.perf_counter()
    session = AttributionSession(model, batch)
    setup = time.perf_counter() - t
    first, obs, full, plain = [], [], [], []
    for i in range(positions + 1):
        x, y = (int(v) for v in torch.randint(0, size - 1, (2,), generator=rng))
        patch = 1 if i % 2 else 8
        t0 = time.perf_counter()
        a = session.patch(x, y, patch, observations=False)
        t1 = time.perf_counter()
        session.observation_attribution(a.representation_grad)
        t2 = time.perf_counter()
        if i == 0:
            continue                                  # warm-up
        first.append(t1 - t0)
        obs.append(t2 - t1)
        full.append(t2 - t0)
        if i <= 3:
            t3 = time.perf_counter()
            patch_attribution(model, batch, x=x, y=y, size=patch)
            plain.append(time.perf_counter() - t3)
    with FlopCounterMode(display=False) as fc:
        a = session.patch(size // 2, size // 2, 1, observations=False)
    flops_first = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        session.observation_attribution(a.representation_grad)
    flops_obs = fc.get_total_flops()
    name = Path(cfg_path).stem
    print(f"{name}, {size} px, {positions} patch positions (1x1 and 8x8), pixel-wise generator: {session.local}")
    print(f"  work of an update: {flops_first / 1e9:.3f} GFLOP (first part, 1x1 patch) + "
          f"{flops_obs / 1e9:.3f} GFLOP (observations)")
    print(f"  new scene (encoder forward, prediction):   {1000 * setup:7.1f} ms")
    print(f"  update, query + representation gradient:   {stats(first)}")
    print(f"  update, observations (encoder backward):   {stats(obs)}")
    print(f"  update, everything:                        {stats(full)}")
    print(f"  patch_attribution (recompute everything):  {stats(plain)}")
    print(f"  speed-up of a full update (medians):       {sorted(plain)[len(plain) // 2] / sorted(full)[len(full) // 2]:.1f}x")


def matmul_gflops(repeats: int = 5) -> float:
    """This machine's float32 matrix product speed now (best of ``repeats``), to read the
    latencies against: work / speed is what an update costs without waiting for the CPU."""
    a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
    best = min(timed_once(lambda: a @ b) for _ in range(repeats))
    return 2 * 1024 ** 3 / best / 1e9


def timed_once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def viewer_frames(cfg_path: str, size: int, seconds: float) -> None:
    """Frame time of the viewer's UI thread (composing the canvas as the window does when the
    image changed) while the background thread computes updates for a patch moved every frame."""
    cfg = load_config(cfg_path)
    torch.manual_seed(0)
    model = build_model(cfg).eval().requires_grad_(False)
    state = AttributionViewerState(cfg, model, renderer=Renderer(threads=1), size=size, spp=1, seed=1)
    state.wait()
    idle = []
    for _ in range(20):
        t = time.perf_counter()
        state.canvas_rgb8()
        idle.append(time.perf_counter() - t)
    updater = BackgroundUpdater(state, poll=0.001)
    frames, updates, end = [], 0, time.perf_counter() + seconds
    last_version = state.version
    i = 0
    try:
        while time.perf_counter() < end:
            t = time.perf_counter()
            i += 1
            state.set_pixel_index("x", (i * 7) % size)       # a drag: the patch moves every frame
            state.set_pixel_index("y", (i * 3) % size)
            state.canvas_rgb8()
            frames.append(time.perf_counter() - t)
            if state.version != last_version:
                updates += 1
                last_version = state.version
            time.sleep(max(0.0, 1 / 60 - frames[-1]))         # a 60 Hz window
    finally:
        updater.stop()
    frames.sort()
    print(f"{Path(cfg_path).stem}, {size} px: frame time (the window image) while updates run: "
          f"median {1000 * frames[len(frames) // 2]:.1f} ms, 95th percentile {1000 * frames[int(0.95 * len(frames))]:.1f} ms, "
          f"max {1000 * frames[-1]:.1f} ms over {len(frames)} frames in {seconds:.0f} s "
          f"({updates} new results shown); idle: median {1000 * sorted(idle)[10]:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "room_beauty.json"))
    ap.add_argument("--size", type=int, default=32, help="image size in pixels")
    ap.add_argument("--patch", type=int, default=8, help="patch size in pixels")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of the vectorised method (best kept)")
    ap.add_argument("--viewer", action="store_true", help="the viewer's update latency and frame time instead")
    ap.add_argument("--configs", nargs="+", default=["quickstart", "room_beauty"], help="configs of --viewer")
    ap.add_argument("--positions", type=int, default=10, help="--viewer: patch positions timed")
    ap.add_argument("--seconds", type=float, default=10.0, help="--viewer: how long frames are timed")
    args = ap.parse_args()
    if args.viewer:
        size = args.size if "--size" in sys.argv else 64
        torch.set_num_threads(args.threads or 2)
        print(f"{torch.get_num_threads()} torch threads on {cpu_name()}; float32 matrix product now: "
              f"{matmul_gflops():.0f} GFLOPS (best of 5)")
        for name in args.configs:
            path = name if name.endswith(".json") else str(ROOT / "configs" / f"{name}.json")
            viewer_latency(path, size, args.positions)
            viewer_frames(path, size, args.seconds)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    batch = random_batch(cfg, args.size)
    x = y = max(0, args.size // 2 - args.patch // 2)
    fast_s, fast = timed(lambda: patch_attribution(model, batch, x=x, y=y, size=args.patch), args.repeats)
    slow_s, slow = timed(lambda: patch_attribution_loop(model, batch, x=x, y=y, size=args.patch), 1)
    worst = 0.0
    for a, b in ((fast.query, slow.query), (fast.observations, slow.observations)):
        for k in a:
            scale = float(b[k].abs().max()) or 1.0
            worst = max(worst, float((a[k] - b[k]).abs().max()) / scale)
    out_c = fast.prediction.shape[1]
    print(f"config {Path(args.config).stem}, {args.size}x{args.size} px, 3 observations, "
          f"{args.patch}x{args.patch} patch x {out_c} channels = {args.patch ** 2 * out_c} backward passes "
          f"in the loop; {torch.get_num_threads()} torch threads on {cpu_name()}")
    print(f"per-pixel backward loop: {slow_s:8.3f} s")
    print(f"vectorised (one pass):   {fast_s:8.3f} s")
    print(f"speed-up: {slow_s / fast_s:.1f}x   (max relative difference {worst:.1e})")


if __name__ == "__main__":
    main()

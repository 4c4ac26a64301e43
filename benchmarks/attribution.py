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
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))
sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu_name  # noqa: E402
from cnsr.analysis.attribution import patch_attribution, patch_attribution_loop  # noqa: E402
from cnsr.config import load_config  # noqa: E402
from cnsr.models import build_model  # noqa: E402
from cnsr.passes import channels  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "room_beauty.json"))
    ap.add_argument("--size", type=int, default=32, help="image size in pixels")
    ap.add_argument("--patch", type=int, default=8, help="patch size in pixels")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of the vectorised method (best kept)")
    args = ap.parse_args()
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

"""Command line of ``code/render-scene.py``: render one scene file into a multi-channel EXR."""
from __future__ import annotations

import argparse
import os
import sys
import time

from ..arguments import ArgumentParser, integer, non_negative, report, seed
from ..io.exr import write_exr
from ..io.outputs import OutputError, prepare_file, refuse_overwriting_inputs
from ..io.preview import write_pass_previews
from ..passes import PASS_NAMES, check_passes, total_channels
from . import Renderer, SceneError
from .renderer import MAX_IMAGE_SIZE

#: Samples per pixel beyond this are a typo (the renderer counts them in 32 bits).
MAX_SPP = 1 << 20


def main(argv=None, description: str = __doc__) -> int:
    p = ArgumentParser(prog="render-scene.py", description=description,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene_file", required=True, help="scene JSON file (the reference system's format)")
    p.add_argument("--image_size", type=integer(1, MAX_IMAGE_SIZE), default=256, deprecated_aliases=["--size"],
                   help="image width and height in pixels")
    p.add_argument("--spp", type=integer(1, MAX_SPP), default=64, help="samples per pixel")
    p.add_argument("--passes", default=None,
                   help=f"comma-separated passes (default: all 16): {','.join(PASS_NAMES)}")
    p.add_argument("--seed", type=seed, default=None, help="random seed (default: the scene's)")
    p.add_argument("--threads", type=non_negative, default=0, help="render threads (0 = all cores)")
    p.add_argument("--nee", dest="nee", action="store_true", default=True, help="next-event estimation (default)")
    p.add_argument("--no_nee", dest="nee", action="store_false", help="pure BSDF sampling (--no-nee too)")
    p.add_argument("--bounces", type=integer(0, 2 ** 31 - 1), default=None,
                   help="override the scene's bounce limit")
    p.add_argument("--out", required=True, help="output .exr file")
    p.add_argument("--half", action="store_true", help="store half floats (default float32)")
    p.add_argument("--png", action="store_true", help="also write tone-mapped PNG previews OUT.<pass>.png")
    args = p.parse_args(argv)

    passes = None
    if args.passes:
        passes = [s.strip() for s in args.passes.split(",") if s.strip()]
    try:
        channels = total_channels(check_passes(passes) if passes else PASS_NAMES)
        pixels = args.image_size * args.image_size
        check_memory(pixels * channels * 4 * 3, f"--image_size {args.image_size} with {channels} channels")
        refuse_overwriting_inputs({"--out": args.out}, {"--scene_file": args.scene_file})
        prepare_file(args.out, "--out", pixels * channels * (2 if args.half else 4))
        r = Renderer(threads=args.threads, nee=args.nee)
        r.load_scene(args.scene_file)
        if args.bounces is not None:
            r.bounces = args.bounces
        t0 = time.perf_counter()
        out = r.render(size=args.image_size, spp=args.spp, seed=args.seed, passes=passes)
        dt = time.perf_counter() - t0
    except (SceneError, OutputError, ValueError, KeyError, MemoryError) as e:
        return report("render-scene", e)
    pose = r.pose()
    try:
        path = write_exr(args.out, out, half=args.half, attrs={"cnsr.pose": pose, "cnsr.spp": args.spp})
        print(f"rendered {r.scene.name} at {args.image_size}x{args.image_size}, {args.spp} spp, {len(out)} passes "
              f"in {dt:.3f} s -> {path}")
        if args.png:
            for f in write_pass_previews(os.path.splitext(args.out)[0], out):
                print(f"preview: {f}")
    except OSError as e:   # e.g. the disk filled up while writing (nothing partial is left: writes are atomic)
        print(f"render-scene: error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def available_memory() -> int:
    """Memory that can be allocated without swapping (Linux ``MemAvailable``), in bytes; a
    generous guess elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_memory(needed: int, what: str) -> None:
    """Refuse a render that would not fit into the memory available now (a ``MemoryError`` or the
    OOM killer would come later, after the scene was loaded and rendering began), naming the size."""
    free = available_memory()
    if needed > free:
        raise ValueError(f"{what} needs about {needed / 2 ** 30:.1f} GiB of memory, {free / 2 ** 30:.1f} GiB are "
                         f"available: use a smaller --image_size or fewer --passes")

"""Command line of ``preview-scenes.py`` (a thin script in ``code/``; console entry point
``cnsr-preview-scenes``): a contact sheet of random scenes of a dataset."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import List, Optional

from ..arguments import ArgumentParser, integer, non_negative, number, report, seed
from ..io.outputs import OutputError, prepare_file
from ..io.png import write_png
from ..registry import SCENE_FAMILIES
from .contact_sheet import contact_sheet

EXAMPLES = """examples:
    python code/preview-scenes.py --dataset room --out room.png
    python code/preview-scenes.py --dataset archviz --out archviz.png --count 4 --image_size 128 --spp 64
"""


def preview_main(argv: Optional[List[str]] = None) -> int:
    ap = ArgumentParser(
        prog="preview-scenes.py",
        description="Render a contact sheet of random scenes of a dataset (rows = scenes, columns = passes).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="room", choices=SCENE_FAMILIES.names(),
                    help="scene family (default: room): " + "; ".join(f"{n}: {e.summary}" for n, e in
                                                                         SCENE_FAMILIES.items()))
    ap.add_argument("--out", default="preview.png", help="output PNG file (default: preview.png)")
    ap.add_argument("--count", type=integer(1, 10_000), default=6, help="number of scenes = rows (default: 6)")
    ap.add_argument("--image_size", type=integer(1, 4096), default=96, deprecated_aliases=["--size"],
                    help="image side of each tile in pixels (default: 96)")
    ap.add_argument("--spp", type=integer(1, 1 << 20), default=32, help="samples per pixel (default: 32)")
    ap.add_argument("--seed", type=seed, default=0, help="randomizer seed (default: 0)")
    ap.add_argument("--passes", default="beauty,normal,albedo,depth",
                    help="comma-separated passes = columns (default: beauty,normal,albedo,depth)")
    ap.add_argument("--exposure", type=number(above=0, max=1e6), default=1.0,
                    help="exposure of radiance passes, > 0 (default: 1)")
    ap.add_argument("--threads", type=non_negative, default=0, help="render threads, 0 = all cores (default: 0)")
    ap.add_argument("--labels", dest="labels", action="store_true", default=True,
                    help="pass names above the columns, scene numbers left (the default)")
    ap.add_argument("--no_labels", dest="labels", action="store_false", help="the bare grid of images, no labels")
    args = ap.parse_args(argv)
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    t0 = time.time()
    try:
        if Path(args.out).suffix.lower() != ".png":
            raise OutputError(f"--out {args.out}: the contact sheet is a PNG: give a .png file name")
        prepare_file(args.out)
        sheet = contact_sheet(args.dataset, count=args.count, size=args.image_size, spp=args.spp, seed=args.seed,
                              passes=passes, exposure=args.exposure, threads=args.threads, progress=True,
                              labels=args.labels)
        write_png(args.out, sheet)
    except (OutputError, ValueError, OSError, MemoryError) as e:
        return report("preview-scenes.py", e)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}, {args.count} scenes, "
          f"{time.time() - t0:.1f} s)")
    return 0

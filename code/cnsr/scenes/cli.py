"""Command line of ``preview-scenes.py`` (a thin script in ``code/``; console entry point
``cnsr-preview-scenes``): a contact sheet of random scenes of a dataset."""
from __future__ import annotations

import argparse
import time
from typing import List, Optional

from ..io.png import write_png
from ..registry import SCENE_FAMILIES
from .preview import contact_sheet

EXAMPLES = """examples:
    python code/preview-scenes.py --dataset room --out room.png
    python code/preview-scenes.py --dataset archviz --out archviz.png --count 4 --size 128 --spp 64 --labels
"""


def preview_main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="preview-scenes.py",
        description="Render a contact sheet of random scenes of a dataset (rows = scenes, columns = passes).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="room", choices=SCENE_FAMILIES.names(),
                    help="scene family (default: room): " + "; ".join(f"{n}: {e.summary}" for n, e in
                                                                         SCENE_FAMILIES.items()))
    ap.add_argument("--out", default="preview.png", help="output PNG file (default: preview.png)")
    ap.add_argument("--count", type=int, default=6, help="number of scenes = rows (default: 6)")
    ap.add_argument("--size", type=int, default=96, help="image size in pixels (default: 96)")
    ap.add_argument("--spp", type=int, default=32, help="samples per pixel (default: 32)")
    ap.add_argument("--seed", type=int, default=0, help="randomizer seed (default: 0)")
    ap.add_argument("--passes", default="beauty,normal,albedo,depth",
                    help="comma-separated passes = columns (default: beauty,normal,albedo,depth)")
    ap.add_argument("--exposure", type=float, default=1.0, help="exposure of radiance passes (default: 1)")
    ap.add_argument("--threads", type=int, default=0, help="render threads, 0 = all cores (default: 0)")
    ap.add_argument("--labels", action="store_true", help="pass names above the columns, scene numbers left")
    args = ap.parse_args(argv)
    if args.count < 1 or args.size < 1 or args.spp < 1:
        ap.error("--count, --size and --spp must be positive")
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    t0 = time.time()
    try:
        sheet = contact_sheet(args.dataset, count=args.count, size=args.size, spp=args.spp, seed=args.seed,
                              passes=passes, exposure=args.exposure, threads=args.threads, progress=True,
                              labels=args.labels)
    except ValueError as e:
        ap.error(str(e))
    write_png(args.out, sheet)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}, {args.count} scenes, "
          f"{time.time() - t0:.1f} s)")
    return 0

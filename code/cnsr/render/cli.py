"""Command line of ``code/render-scene.py``: render one scene file into a multi-channel EXR.

``--out`` decides the format by its extension: ``.exr`` holds every rendered pass as float
channels ``<pass>.R/G/B`` / ``<pass>.Y`` plus the beauty again as the file's default ``R, G, B``
layer (what EXR viewers open); ``.png`` holds one pass as shown by
:func:`cnsr.io.preview.display` (tone-mapped beauty unless ``--passes`` names another); any other
extension is refused before rendering. ``--png`` adds a preview per pass, ``--sheet`` one
labelled contact sheet of all passes (:func:`cnsr.io.preview.pass_sheet`).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from ..io.exr import write_exr
from ..io.png import write_png
from ..io.preview import display, pass_sheet, write_pass_previews
from ..passes import PASS_NAMES, check_passes, total_channels
from . import Renderer, SceneError
from .renderer import MAX_IMAGE_SIZE


def main(argv=None, description: str = __doc__) -> int:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene_file", required=True, help="scene JSON file (the reference system's format)")
    p.add_argument("--size", type=int, default=256, help="image width and height in pixels")
    p.add_argument("--spp", type=int, default=64, help="samples per pixel")
    p.add_argument("--passes", default=None,
                   help=f"comma-separated passes (default: all 16): {','.join(PASS_NAMES)}")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scene's)")
    p.add_argument("--threads", type=int, default=0, help="render threads (0 = all cores)")
    p.add_argument("--nee", dest="nee", action="store_true", default=True, help="next-event estimation (default)")
    p.add_argument("--no-nee", dest="nee", action="store_false", help="pure BSDF sampling")
    p.add_argument("--bounces", type=int, default=None, help="override the scene's bounce limit")
    p.add_argument("--out", required=True,
                   help="output file: .exr (every pass as float channels, beauty also as the default "
                        "R,G,B layer) or .png (one pass, tone-mapped: beauty unless --passes names another)")
    p.add_argument("--half", action="store_true", help="store half floats (default float32)")
    p.add_argument("--png", action="store_true", help="also write tone-mapped PNG previews OUT.<pass>.png")
    p.add_argument("--sheet", action="store_true",
                   help="also write OUT.sheet.png: every pass of the render in one labelled contact sheet")
    args = p.parse_args(argv)

    passes = None
    if args.passes:
        passes = [s.strip() for s in args.passes.split(",") if s.strip()]
    kind = os.path.splitext(args.out)[1].lower()
    if kind not in (".exr", ".png"):
        print(f"render-scene: error: --out {args.out}: the output must be an .exr file (every pass, float) "
              f"or a .png file (one pass, tone-mapped)", file=sys.stderr)
        return 2
    if kind == ".png":
        if passes is not None and len(passes) != 1:
            print(f"render-scene: error: --out {args.out}: a PNG holds one pass, --passes names {len(passes)}; "
                  f"write an .exr for several (with --sheet for a labelled contact sheet of them)",
                  file=sys.stderr)
            return 2
        passes = passes or ["beauty"]
    try:
        r = Renderer(threads=args.threads, nee=args.nee)
        r.load_scene(args.scene_file)
        if 0 < args.size <= MAX_IMAGE_SIZE:
            channels = total_channels(check_passes(passes) if passes else PASS_NAMES)
            check_writable(args.out, args.size * args.size * channels * (2 if args.half else 4))
        if args.bounces is not None:
            r.bounces = args.bounces
        t0 = time.perf_counter()
        out = r.render(size=args.size, spp=args.spp, seed=args.seed, passes=passes)
        dt = time.perf_counter() - t0
    except (SceneError, ValueError, KeyError) as e:
        print(f"render-scene: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:   # the output folder cannot be written
        print(f"render-scene: error: {e}", file=sys.stderr)
        return 1
    pose = r.pose()
    stem = os.path.splitext(args.out)[0]
    try:
        if kind == ".png":
            name = next(iter(out))
            path = write_png(args.out, display(name, out[name]))
        else:
            main = "beauty" if "beauty" in out else next(iter(out))
            path = write_exr(args.out, out, half=args.half, attrs={"cnsr.pose": pose, "cnsr.spp": args.spp},
                             default_layer=main)
        print(f"rendered {r.scene.name} at {args.size}x{args.size}, {args.spp} spp, {len(out)} passes "
              f"in {dt:.3f} s -> {path}")
        if args.png:
            for f in write_pass_previews(stem, out):
                print(f"preview: {f}")
        if args.sheet:
            title = f"{args.scene_file}: {args.size} x {args.size} px, {args.spp} spp"
            f = write_png(f"{stem}.sheet.png", pass_sheet(out, title=title))
            print(f"contact sheet: {f}")
    except OSError as e:   # e.g. the disk filled up while writing (nothing partial is left: writes are atomic)
        print(f"render-scene: error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def check_writable(out: str, needed_bytes: int) -> None:
    """Before a long render: the folder of ``out`` can be created and written, and has room for
    about ``needed_bytes``; raises OSError naming the path otherwise."""
    import shutil
    import tempfile

    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".render-scene-", suffix=".tmp"):
            pass
    except OSError as e:
        raise OSError(f"cannot write into {folder} (for --out {out}): {e.strerror or e}") from None
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise OSError(f"not enough space in {folder} for --out {out}: about {needed_bytes / 1e6:.1f} MB "
                      f"needed, {free / 1e6:.1f} MB free")

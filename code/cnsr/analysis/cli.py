"""Command lines of ``evaluate.py``, ``composite.py`` and ``render-neural.py`` (thin scripts in
``code/``; console entry points ``cnsr-evaluate``, ``cnsr-composite`` and ``cnsr-render-neural``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from ..arguments import ArgumentParser, add_set_argument, integer, non_negative, positive, report, seed
from ..config import output_pass
from ..data import build_loader
from ..data.exrbatch import DatasetError
from ..engine.api import load_model
from ..engine.checkpoint import CheckpointError
from ..engine.devices import DeviceError, check_device
from ..config import ConfigError
from ..io.outputs import OutputError, prepare_file, prepare_folder, refuse_overwriting_inputs
from ..io.png import write_png
from ..metrics import DEFAULT_METRICS, METRICS, check_metrics
from ..render import Renderer, SceneError
from ..render.renderer import MAX_IMAGE_SIZE
from .compositing import FACTORS, CompositingError, composite, require_partitioning, scene_batch, strip_image
from .compositing_benchmark import (DEFAULT_REFERENCE_SPP, DEFAULT_SCENES, compositing_benchmark,
                                    format_compositing_table)
from .curves import CURVE_METRICS, CurveError, CurveSettings, format_curves_table, load_curves, measure_run, plot_compare
from .evaluation import evaluate, format_table
from .neural_render import DEFAULT_REFERENCE_SPP as NEURAL_REFERENCE_SPP
from .neural_render import DEFAULT_TILE as NEURAL_TILE
from .neural_render import check_outputs as check_neural_outputs
from .neural_render import neural_render, output_paths, write_neural_render

_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

#: What these tools report as bad input (exit status 2); an OSError while writing is a failure (1).
BAD_INPUT = (ConfigError, CheckpointError, DatasetError, DeviceError, OutputError, SceneError, CompositingError,
             FileNotFoundError, ValueError, OSError, MemoryError)

#: Samples per pixel beyond this are a typo (the renderer counts them in 32 bits).
MAX_SPP = 1 << 20
image_size = integer(1, MAX_IMAGE_SIZE)
spp = integer(1, MAX_SPP)


def add_model_arguments(p: argparse.ArgumentParser, config_help: str = "the model's config JSON",
                        required: bool = True) -> None:
    """--checkpoint, --config, --set, --allow_config_change and --device: how every tool names the
    model it loads (the checkpoint's own config unless --config is given). ``required=False``: the
    caller checks for --checkpoint itself (a mode that needs none)."""
    p.add_argument("--checkpoint", required=required, help="checkpoint file (ours or the reference's)")
    p.add_argument("--config", default=None,
                   help=f"{config_help} (default: the config the checkpoint was trained with; the paper's "
                        f"checkpoints carry none and need it)")
    add_set_argument(p)
    p.add_argument("--allow_config_change", action="store_true",
                   help="load a checkpoint whose stored config differs from --config in model-defining "
                        "keys (with a warning naming them) instead of refusing it")
    p.add_argument("--device", default=_DEVICE, help="torch device (default: cuda when available, else cpu)")


def _load(args: argparse.Namespace):
    """The model named by the model arguments, and its config (``model.cfg``)."""
    model = load_model(args.config, args.checkpoint, device=args.device, allow_config_change=args.allow_config_change,
                       overrides=args.set)
    return model, model.cfg


def _inputs(args: argparse.Namespace, **more) -> dict:
    return {"--checkpoint": args.checkpoint, "--config": args.config, **more}


# ------------------------------------------------------------------------------ evaluate
EVALUATE_DEFAULT_OUT = "evaluation"
EVALUATE_EXAMPLES = """examples:
  python code/evaluate.py --checkpoint P --reference_spp 256                       # metrics against clean references
  python code/evaluate.py --checkpoint P --compositing --scenes 32                 # the compositing benchmark
  python code/evaluate.py --config C --checkpoint P                                # the paper's checkpoints need --config
  python code/evaluate.py --checkpoints experiments/room_adaptive                 # learning curves of a run
  python code/evaluate.py --compare experiments/a experiments/b --labels a,b --out_folder cmp
"""


def parse_evaluate_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = ArgumentParser(
        prog="evaluate.py",
        description="Evaluate a trained model on the held-out split: mean metrics (MAPE, RMSE, SSIM, "
                    "PSNR and FLIP by default) per output pass and generator, a table on stdout, metrics.json and one "
                    "reference | prediction | error PNG grid per pass in --out_folder. With --reference_spp N "
                    "the query views are re-rendered at N spp and scored against those. With --compositing: "
                    "the compositing benchmark (lighting / geometry / material swapped against path-traced "
                    "ground truth) instead. With --checkpoints RUN_FOLDER: learning curves, every checkpoint of "
                    "a run measured with the clean-reference metrics and the compositing benchmark "
                    "(curves.json and curves.png); --compare overlays several runs' curves.",
        epilog=EVALUATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p, required=False)
    p.add_argument("--split", default="test", choices=("test", "train"),
                   help="data split (default: test, the config's test data)")
    p.add_argument("--num_batches", type=positive, default=None, deprecated_aliases=["--batches"],
                   help="number of batches (default: every test batch file; with "
                        "cached_dataset: false, where batches are rendered, 4)")
    p.add_argument("--out_folder", default=EVALUATE_DEFAULT_OUT,
                   help="where metrics.json and the grids go (default: ./evaluation; with --checkpoints: "
                        "RUN_FOLDER/curves)")
    p.add_argument("--rows", type=positive, default=4, help="scenes (rows) per image grid (default 4)")
    p.add_argument("--num_workers", type=non_negative, default=None, help="loader workers (default: the config's)")
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                   help=f"comma-separated metrics, of {', '.join(METRICS)} (default: {','.join(DEFAULT_METRICS)})")
    p.add_argument("--reference_spp", type=spp, default=None,
                   help="re-render the test batches' query views at this many samples per pixel and score "
                        "against those (default: the batches' own, noisy, query images; with --compositing: "
                        f"{DEFAULT_REFERENCE_SPP})")
    p.add_argument("--compositing", action="store_true",
                   help="run the compositing benchmark (writes compositing.json and one grid per factor)")
    p.add_argument("--scenes", type=integer(2, 1 << 20), default=None,
                   help=f"--compositing: number of held-out base scenes, at least 2 (default {DEFAULT_SCENES}; "
                        f"with --checkpoints {CurveSettings.compositing_scenes})")
    p.add_argument("--seed", type=seed, default=0, help="--compositing: seed of the base scenes (default 0)")
    g = p.add_argument_group("learning curves")
    g.add_argument("--checkpoints", default=None, metavar="RUN_FOLDER",
                   help="measure every checkpoint of the run in RUN_FOLDER not measured yet (clean-reference "
                        "metrics on --num_batches test batches, default all, at --reference_spp, default "
                        f"{CurveSettings.reference_spp}; the compositing benchmark on --scenes scenes, default "
                        f"{CurveSettings.compositing_scenes}); writes curves.json and curves.png to --out_folder "
                        "(default RUN_FOLDER/curves). --config defaults to the folder's config.json or the "
                        "checkpoints' own")
    g.add_argument("--every", type=positive, default=1, metavar="K",
                   help="--checkpoints: measure every K-th checkpoint (and the last; default 1: all)")
    g.add_argument("--compare", nargs="+", default=None, metavar="CURVES",
                   help="overlay the curves of several runs (curves.json files, or run folders holding "
                        "curves/curves.json) in one figure, --out_folder/compare.png")
    g.add_argument("--labels", default=None, help="--compare: comma-separated run labels (default: the job names)")
    g.add_argument("--x", default="iteration", choices=("iteration", "minutes"),
                   help="--compare: horizontal axis, iterations or minutes of training (default iteration)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def evaluate_main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_evaluate_args(argv)
    try:
        metrics = check_metrics([m.strip() for m in args.metrics.split(",") if m.strip()])
        if not metrics:
            raise ValueError("no metric given")
    except ValueError as e:
        print(f"evaluate.py: error: --metrics: {e}", file=sys.stderr)
        return 2
    if args.compare:
        return _compare_main(args)
    if args.checkpoints:
        return _curves_main(args, metrics)
    if not args.checkpoint:
        print("evaluate.py: error: the following arguments are required: --checkpoint (or --checkpoints RUN_FOLDER, "
              "--compare CURVES)", file=sys.stderr)
        return 2
    if args.compositing:
        return _compositing_main(args, metrics)
    try:
        refuse_overwriting_inputs({"--out_folder's metrics.json": Path(args.out_folder) / "metrics.json"}, _inputs(args))
        prepare_folder(args.out_folder)
        model, cfg = _load(args)
        batches = args.num_batches
        if batches is None and not cfg.cached_dataset:
            batches = 4
        loader = build_loader(cfg, args.split, device=args.device, num_workers=args.num_workers)
        report_ = evaluate(model, loader, batches, args.out_folder, rows=args.rows,
                           progress=not args.no_progress,
                           info={"config": cfg.source, "checkpoint": str(args.checkpoint),
                                 "split": args.split, "iteration": int(model.iteration)},
                           metrics=metrics, reference_spp=args.reference_spp)
    except BAD_INPUT as e:
        return report("evaluate.py", e)
    print(format_table(report_))
    print(f"references: {report_['references']['source']}")
    print(f"wrote {Path(args.out_folder) / 'metrics.json'} and {len(report_['metrics'])} image grid(s)")
    return 0


def _curves_main(args: argparse.Namespace, metrics) -> int:
    """``evaluate.py --checkpoints RUN_FOLDER``: learning curves of a run."""
    if args.set:
        print("evaluate.py: error: --set does not apply to --checkpoints (each checkpoint is measured with the "
              "run's config, or --config)", file=sys.stderr)
        return 2
    scenes = CurveSettings.compositing_scenes if args.scenes is None else args.scenes
    settings = CurveSettings(reference_spp=args.reference_spp or CurveSettings.reference_spp,
                             reference_batches=args.num_batches, compositing_scenes=scenes, seed=args.seed,
                             metrics=CURVE_METRICS if args.metrics == ",".join(DEFAULT_METRICS) else tuple(metrics))
    out = args.out_folder if args.out_folder != EVALUATE_DEFAULT_OUT else None
    try:
        check_device(args.device)
        curves = measure_run(args.checkpoints, args.config, settings, out_folder=out, device=args.device,
                             progress=not args.no_progress, every=args.every)
    except (CurveError, *BAD_INPUT) as e:
        return report("evaluate.py", e)
    folder = Path(out) if out else Path(args.checkpoints) / "curves"
    print(format_curves_table(curves))
    print(f"wrote {folder / 'curves.json'} and {folder / 'curves.png'}")
    return 0


def _compare_main(args: argparse.Namespace) -> int:
    """``evaluate.py --compare CURVES ...``: several runs' curves in one figure."""
    try:
        runs = [load_curves(c) for c in args.compare]
    except (CurveError, ValueError) as e:
        return report("evaluate.py", e)
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else \
        [r.get("run", {}).get("job_name", Path(c).name) for r, c in zip(runs, args.compare)]
    if len(labels) != len(runs):
        print(f"evaluate.py: error: --labels names {len(labels)} runs, --compare gives {len(runs)}", file=sys.stderr)
        return 2
    try:
        out = prepare_folder(args.out_folder)
        path = plot_compare(list(zip(labels, runs)), out / "compare.png", x=args.x)
    except (OutputError, OSError) as e:
        return report("evaluate.py", e)
    print(f"wrote {path}")
    return 0


def _compositing_main(args: argparse.Namespace, metrics) -> int:
    """``evaluate.py --compositing``: the compositing benchmark."""
    spp_ = args.reference_spp if args.reference_spp is not None else DEFAULT_REFERENCE_SPP
    scenes = DEFAULT_SCENES if args.scenes is None else args.scenes
    try:
        refuse_overwriting_inputs({"--out_folder's compositing.json": Path(args.out_folder) / "compositing.json"},
                                  _inputs(args))
        prepare_folder(args.out_folder)
        model, cfg = _load(args)
        require_partitioning(model)
        report_ = compositing_benchmark(model, cfg, scenes=scenes, reference_spp=spp_, seed=args.seed,
                                        metrics=metrics, out_folder=args.out_folder, rows=args.rows,
                                        progress=not args.no_progress)
    except BAD_INPUT as e:
        return report("evaluate.py", e)
    print(format_compositing_table(report_))
    print(f"wrote {Path(args.out_folder) / 'compositing.json'} and one grid per factor "
          f"(compositing_<factor>.png: S | S_f truth | composite | full | none)")
    return 0


# ------------------------------------------------------------------------------ composite
def parse_composite_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = ArgumentParser(
        prog="composite.py",
        description="Build one scene representation from the lighting, geometry and material "
                    "partitions of three scenes and decode it. Scenes: a scene JSON file or "
                    "DATASET:SEED (e.g. room:3). Writes a PNG strip: the three sources' renders | "
                    "the composite prediction.")
    add_model_arguments(p, config_help="the model's config JSON (needs latent_separation)")
    p.add_argument("--lighting", required=True, help="scene whose lighting partition is used")
    p.add_argument("--geometry", required=True, help="scene whose geometry partition is used")
    p.add_argument("--material", required=True, help="scene whose material partition is used")
    p.add_argument("--query", default=None, help="scene whose query view G-buffer is decoded "
                                                 "(default: the geometry scene)")
    p.add_argument("--out", required=True, help="output PNG (.png)")
    p.add_argument("--views", type=positive, default=None,
                   help="observations per scene (default: the config's views_per_scene - 1)")
    p.add_argument("--image_size", type=image_size, default=None, deprecated_aliases=["--size"],
                   help="image side in pixels (default: the config's render size)")
    p.add_argument("--spp", type=spp, default=None, help="samples per pixel (default: the config's)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the camera perturbations and render noise")
    return p.parse_args(argv)


def composite_main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_composite_args(argv)
    specs = {"lighting": args.lighting, "geometry": args.geometry, "material": args.material}
    try:
        if Path(args.out).suffix.lower() != ".png":
            raise OutputError(f"--out {args.out}: composite.py writes a PNG strip: give a .png file name")
        refuse_overwriting_inputs({"--out": args.out}, _inputs(args, **{f"--{k}": v for k, v in specs.items()},
                                                                 **{"--query": args.query}))
        prepare_file(args.out)
        model, cfg = _load(args)
        require_partitioning(model)
        views = args.views if args.views is not None else max(1, cfg.views_per_scene - 1)
        size = args.image_size or cfg.max_render_size()
        spp_ = args.spp or cfg.samples_per_pixel
        renderer = Renderer()
        batches = {f: scene_batch(renderer, s, cfg, views, size, spp_, args.seed, args.device)
                   for f, s in specs.items()}
        query = batches["geometry"] if args.query is None else \
            scene_batch(renderer, args.query, cfg, views, size, spp_, args.seed, args.device)
        outputs = composite(model, batches, query)
        name = output_pass(cfg)
        img = strip_image([batches[f]["query_images"]["beauty"] for f in FACTORS], outputs[-1][name], name)
        write_png(args.out, img)
    except BAD_INPUT as e:
        return report("composite.py", e)
    print(f"wrote {args.out}: lighting {args.lighting} | geometry {args.geometry} | "
          f"material {args.material} | composite {name}")
    return 0


# ------------------------------------------------------------------------------ render-neural
def parse_render_neural_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = ArgumentParser(
        prog="render-neural.py",
        description="Infer the shading of a scene file's view with a trained model (from the view's G-buffer "
                    "and observations of the scene from jittered cameras) and path-trace the same view: writes "
                    "the prediction (--out, EXR), <stem>_reference.exr, PNG previews of both and <stem>.json "
                    "with the time of each and the metrics between them.")
    add_model_arguments(p)
    p.add_argument("--scene_file", required=True, help="scene JSON file (its camera is the rendered view)")
    p.add_argument("--image_size", type=image_size, default=256, deprecated_aliases=["--size"],
                   help="image side in pixels (default 256)")
    p.add_argument("--out", required=True, help="output EXR of the prediction (e.g. out/x.exr)")
    p.add_argument("--views", type=positive, default=None,
                   help="observations of the scene (default: the config's views_per_scene - 1)")
    p.add_argument("--reference_spp", type=spp, default=NEURAL_REFERENCE_SPP,
                   help=f"samples per pixel of the path-traced reference (default {NEURAL_REFERENCE_SPP})")
    p.add_argument("--tile", type=positive, default=NEURAL_TILE,
                   help=f"tile side for decoding large images with a pixel generator (default {NEURAL_TILE})")
    p.add_argument("--seed", type=seed, default=0, help="seed of the observation cameras and render noise")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def render_neural_main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_render_neural_args(argv)
    try:
        if Path(args.out).suffix.lower() != ".exr":
            raise OutputError(f"--out {args.out}: the output must be an .exr file")
        paths = output_paths(args.out)
        check_neural_outputs(paths, _inputs(args, **{"--scene_file": args.scene_file}))
        prepare_file(args.out)
        model, cfg = _load(args)
        result = neural_render(model, args.scene_file, args.image_size, cfg, views=args.views,
                               reference_spp=args.reference_spp, seed=args.seed, tile=args.tile,
                               progress=not args.no_progress)
        paths = write_neural_render(result, args.out, info={"config": cfg.source,
                                                            "checkpoint": str(args.checkpoint),
                                                            "scene_file": str(args.scene_file),
                                                            "iteration": int(model.iteration)})
    except BAD_INPUT as e:
        return report("render-neural.py", e)
    t = result["times"]
    print(f"neural:       {t['neural_s']:.3f} s (G-buffer {t['gbuffer_s']:.3f} s, encode {t['encode_s']:.3f} s, "
          f"decode {t['decode_s']:.3f} s{', tiled' if result['tiled'] else ''}; observations "
          f"{t['observations_s']:.3f} s)")
    print(f"path tracing: {t['path_tracing_s']:.3f} s ({args.reference_spp} spp)")
    for name, m in result["metrics"].items():
        print(f"{name}: " + "  ".join(f"{METRICS[k].label} {v:{METRICS[k].fmt}}" for k, v in m.items()))
    print(f"wrote {paths['prediction']}, {paths['reference']}, the PNG previews and {paths['json']}")
    return 0

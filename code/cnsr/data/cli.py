"""Command lines of ``create-dataset-json-files.py`` and ``generate-dataset.py`` (thin scripts in ``code/``)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

from ..arguments import ArgumentParser, add_set_argument, integer, non_negative, report, seed
from ..config import ConfigError
from ..io.outputs import OutputError, prepare_folder
from ..overrides import with_overrides
from .exrbatch import COMPRESSIONS, DatasetError
from .generate import (RenderSettings, batch_file_bytes, check_info, clear_outputs, convert_npz_folder, dataset_info,
                       dataset_seed, json_sources, json_tasks, parse_passes, pending, random_tasks, run_tasks, write_info)
from .json_batches import create_json_dataset, parse_shard, shard_items

SHARD_HELP = ("render only the part INDEX (0-based) of COUNT equal parts, e.g. $SLURM_ARRAY_TASK_ID/16 "
              "or $JOB_COMPLETION_INDEX/8: COUNT machines split the work with no coordination")

#: More batches than this in one split is a typo (the paper's datasets: 9,000 batches of 16 scenes);
#: listing that many would take minutes before the first message.
MAX_BATCHES = 1_000_000


def _shard(text: str):
    try:
        return parse_shard(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_sizes(p: argparse.ArgumentParser, train_default, test_default, what: str) -> None:
    count = integer(0, MAX_BATCHES)
    p.add_argument("--num_batches", type=count, default=train_default, deprecated_aliases=["--size"],
                   help=f"number of training batches{what}")
    p.add_argument("--test_batches", type=count, default=test_default, deprecated_aliases=["--testing_size"],
                   help=f"number of test batches{what}")


def _parse(p: argparse.ArgumentParser, argv: Optional[List[str]]):
    """Parse the command line (every script here ends with --set and --quiet) and load its
    --config with the overrides; a bad config is a usage error naming the file and key."""
    add_set_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        return args, with_overrides(args.config, args.set)
    except ConfigError as e:
        p.error(str(e))


def create_json_main(argv: Optional[List[str]] = None) -> int:
    p = ArgumentParser(
        prog="create-dataset-json-files.py",
        description="Write the scene JSON files of a dataset: OUT/{train,test}/batch%%09d/scene%%04d/view%%03d.json "
                    "and a factor.txt per batch (0 lighting, 1 geometry, 2 material, -1 all random). "
                    "Render them with generate-dataset.py.")
    p.add_argument("--config", required=True, help="dataset config, e.g. configs/save_room.json "
                   "(uses dataset, batch_size, test_batch_size, views_per_scene, latent_separation, seed)")
    p.add_argument("--out_folder", required=True, help="where the train/ and test/ folders go")
    _add_sizes(p, 90, 10, " (default 90 / 10)")
    p.add_argument("--seed", type=seed, default=None, help="dataset seed (default: the config's seed, 0 if it is -1)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="INDEX/COUNT", help=SHARD_HELP)
    p.add_argument("--force", action="store_true",
                   help="if --out_folder holds JSON batches made with other settings (its dataset.json), delete "
                        "them and start over (without it, such a rerun is refused)")
    args, cfg = _parse(p, argv)
    seed_ = dataset_seed(cfg, args.seed)
    out = Path(args.out_folder)
    info = dataset_info(cfg, seed_, args.num_batches, args.test_batches)
    try:
        prepare_folder(out)
        try:
            check_info(out / "dataset.json", info)
        except DatasetError as e:
            if not args.force or args.shard[1] > 1:
                raise DatasetError(f"{e}" + (" (--force cannot be combined with --shard)" if args.force else "")) \
                    from None
            import shutil
            for split in ("train", "test"):
                for d in sorted((out / split).glob("batch*")) if (out / split).is_dir() else []:
                    shutil.rmtree(d) if d.is_dir() else d.unlink()
            print(f"--force: deleted the JSON batches made with other settings in {out}", file=sys.stderr)
        write_info(out / "dataset.json", info)
        counts = create_json_dataset(cfg.dataset, out, {"train": args.num_batches, "test": args.test_batches},
                                     seed_, cfg.batch_size, cfg.test_batch_size, cfg.views_per_scene,
                                     cfg.latent_separation, shard=args.shard, progress=not args.quiet)
    except KeyboardInterrupt:   # every batch folder is renamed into place whole: a rerun continues
        print("\ninterrupted: run the same command again to write the rest", file=sys.stderr)
        return 130
    except (DatasetError, OutputError, OSError, MemoryError) as e:
        return report("create-dataset-json-files.py", e)
    print(f"{counts['written']} batch folders written, {counts['skipped']} already there, under {out}")
    return 0


def generate_main(argv: Optional[List[str]] = None) -> int:
    p = ArgumentParser(
        prog="generate-dataset.py",
        description="Render dataset batches into OpenEXR batch files (OUT/batch%%09d.exr; see the README's "
                    "'Datasets' section). Either from JSON folders (--in_folder, made by "
                    "create-dataset-json-files.py) or in one step (--num_batches/--test_batches, no JSON files). "
                    "Finished batches are skipped, so rerunning after an interruption continues.")
    p.add_argument("--config", required=True, help="dataset config: samples_per_pixel, the image size "
                   "(its largest network render_size, or render_size) and, in one step, the batch shape")
    p.add_argument("--in_folder", help="a split folder of JSON batches, e.g. datasets/room_json/train")
    p.add_argument("--from_npz", metavar="FOLDER",
                   help="instead of rendering, convert the reference's .npz batches of FOLDER into our EXR "
                        "batch files in --out_folder (same content, several times faster to load)")
    p.add_argument("--out_folder", required=True,
                   help="with --in_folder: where the batch files go; in one step: the dataset root (train/, test/)")
    _add_sizes(p, None, None, " (one step)")
    p.add_argument("--seed", type=seed, default=None, help="one step: dataset seed (default: the config's, 0 if -1)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="INDEX/COUNT", help=SHARD_HELP)
    p.add_argument("--workers", type=non_negative, default=0,
                   help="rendering processes (default 0: one per core, at most one per batch)")
    p.add_argument("--threads", type=non_negative, default=0,
                   help="render threads per process (default 0: the cores divided among the processes)")
    p.add_argument("--passes", default="all",
                   help="passes to store: 'all' (default, any training config can use the data), "
                        "'needed' (only those the config's networks read), or a comma list")
    p.add_argument("--compression", default="none", choices=sorted(COMPRESSIONS),
                   help="EXR compression (default none: fastest to load; zip etc. save disk, load slower)")
    p.add_argument("--force", action="store_true",
                   help="if --out_folder holds a dataset made with other settings or from other JSON scene files "
                        "(its dataset.json), delete its batch files and start over (without it, such a rerun "
                        "is refused)")
    args, cfg = _parse(p, argv)
    prog = "generate-dataset.py"
    if args.from_npz is not None:
        if args.in_folder is not None or args.num_batches is not None:
            p.error("--from_npz converts existing batches: it takes no --in_folder or --num_batches")
        try:
            prepare_folder(args.out_folder)
            counts = convert_npz_folder(args.from_npz, args.out_folder, args.shard, args.compression,
                                        progress=not args.quiet)
        except KeyboardInterrupt:
            return 130
        except (DatasetError, OutputError, ValueError, OSError, MemoryError) as e:
            return report(prog, e)
        print(f"{counts['rendered']} batches converted, {counts['skipped']} already there", file=sys.stderr)
        return 0
    one_step = args.in_folder is None
    if one_step and args.num_batches is None:
        p.error("give --in_folder (render JSON folders) or --num_batches/--test_batches (one step)")
    if not one_step and (args.num_batches is not None or args.test_batches is not None):
        p.error("--num_batches/--test_batches are for the one-step path; with --in_folder the JSON folders say "
                "what to render")
    try:
        passes = parse_passes(args.passes, cfg.needed_passes())
    except ValueError as e:
        p.error(str(e))
    settings = RenderSettings(size=cfg.max_render_size(), spp=cfg.samples_per_pixel, passes=passes,
                              threads=args.threads, compression=args.compression, dataset=cfg.dataset)
    out = Path(args.out_folder)
    try:
        prepare_folder(out)
        if one_step:
            seed_ = dataset_seed(cfg, args.seed)
            sizes = {"train": args.num_batches, "test": args.test_batches or 0}
            tasks = random_tasks(cfg.dataset, out, seed_, sizes, cfg.batch_size, cfg.test_batch_size,
                                 cfg.views_per_scene, cfg.latent_separation)
            info = dataset_info(cfg, seed_, args.num_batches, args.test_batches or 0)
        else:
            tasks = json_tasks(args.in_folder, out)
            info = {"dataset": cfg.dataset, "json_folder": str(Path(args.in_folder).resolve()), "config": cfg.source,
                    "sources": json_sources(tasks)}
        info = {**info, "render_size": settings.size, "samples_per_pixel": settings.spp, "passes": passes,
                "compression": args.compression, "format": "cnsr-batch-1"}
        try:
            check_info(out / "dataset.json", info)
        except DatasetError:
            if not args.force:
                raise
            if args.shard[1] > 1:
                raise DatasetError(f"{out}: --force with --shard would delete the other shards' batches too: "
                                   f"clear the folder once (one run with --force and no --shard), then shard") from None
            folders = sorted({t.out.parent for t in tasks})
            n = clear_outputs(folders)
            (out / "dataset.json").unlink(missing_ok=True)
            print(f"--force: deleted {n} batch files made with other settings in {out}", file=sys.stderr)
        _check_space(out, settings, tasks, args.shard)
        write_info(out / "dataset.json", info)
        print(f"{len(tasks)} batches, {settings.size}x{settings.size} px, {settings.spp} spp, "
              f"{len(passes)} passes -> {out}", file=sys.stderr)
        start = time.time()
        counts = run_tasks(tasks, settings, workers=args.workers or None, shard=args.shard,
                           progress=not args.quiet)
    except KeyboardInterrupt:
        return 130
    # broken batch folders, scene files the renderer rejects, a full disk, a dead worker
    except (DatasetError, OutputError, ValueError, OSError, MemoryError) as e:
        return report(prog, e)
    dt = time.time() - start
    print(f"{counts['rendered']} batches rendered in {dt:.1f} s, {counts['skipped']} already finished "
          f"(shard {args.shard[0]}/{args.shard[1]}: {counts['total']} batches)", file=sys.stderr)
    return 0


def _check_space(out: Path, settings: RenderSettings, tasks, shard) -> None:
    """Refuse before rendering when the batch files this shard has left to write would not fit."""
    needed = sum(batch_file_bytes(settings, t.scenes, t.views) for t in pending(shard_items(tasks, shard)))
    prepare_folder(out, needed_bytes=needed, needed_for="the batch files")

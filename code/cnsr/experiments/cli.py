"""Command line of ``code/run-experiments.py`` (the script only calls :func:`main`)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import List, Optional

from ..arguments import ArgumentParser, integer, non_negative
from ..config import REPO_DIR
from .suite import DEFAULT_SUITE, SCALES, Suite, SuiteError

EXAMPLES = """examples:
  python code/run-experiments.py --list
  python code/run-experiments.py --scale tiny --out_folder /tmp/t  # smoke test: the whole suite in under a minute
  python code/run-experiments.py --only room_adaptive            # the CPU recipe alone: data 0.7 min + training 27 - 30 min on 2 cores
  python code/run-experiments.py --threads 1                      # the whole small suite (12 runs: several hours on 2 cores)
  python code/run-experiments.py --set learning_rate=5e-4 --out_folder exp_lr   # one setting changed in every run
  python code/run-experiments.py --only room_adaptive --dataset_set views_per_scene=5 --set views_per_scene=5 --out_folder exp_views5   # 4 observations
  python code/run-experiments.py --only room_monolithic,room_static,room_adaptive
  python code/run-experiments.py --set learning_rate_decay=8000 --branch_from experiments --out_folder exp_decay8k   # trains from iteration 12,001 on
  python code/run-experiments.py --report_only                    # rewrite the tables from what has finished
  python code/run-experiments.py --scale paper --device cuda      # the paper's settings (GPU-days)
"""


def default_out_folder(scale: str) -> Path:
    return REPO_DIR / ("experiments" if scale == "small" else "experiments_paper")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="run-experiments.py", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reproduce the paper's partitioning experiments: generate each scene family's dataset, "
                    "train every experiment of the suite (monolithic / static / adaptive partitioning, "
                    "learned partition sizes, the null partition at several betas and sizes), measure "
                    "them and write the tables beside the paper's numbers to OUT/results.md and "
                    "OUT/results.json. Everything resumes: finished datasets and runs are skipped, "
                    "half-done runs continue from their last checkpoint.")
    p.add_argument("--only", default="", metavar="NAME[,NAME]",
                   help="run only these experiments (comma-separated; see --list)")
    p.add_argument("--iterations", type=integer(1), default=None, metavar="N",
                   help="train every run up to iteration N instead of its config's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set",
                   help="override a key of every selected run's config after its scale's, validated like the "
                        "file, e.g. --set batch_size=16 (repeatable; recorded in each run's config.json; a "
                        "finished or started run whose model or recipe it changes (any key but the iterations, "
                        "intervals, data folders and loading) is refused, so give a new --out_folder)")
    p.add_argument("--dataset_set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of every dataset's generation config after its scale's, e.g. "
                        "--dataset_set views_per_scene=5 (repeatable; recorded in each dataset's dataset.json; "
                        "a dataset folder made with other settings is refused, so give a new --out_folder; "
                        "the runs must agree on views_per_scene: give --set views_per_scene=5 too)")
    p.add_argument("--branch_from", default=None, metavar="D0",
                   help="start each selected run not yet started in the output folder from the same run in the "
                        "output folder D0, where that one was trained under a recipe that differs only in the "
                        "learning rate of later iterations (e.g. --set learning_rate_decay=5000 on a finished "
                        "suite: its checkpoints up to 15,000 are this recipe's too): the checkpoints up to the last "
                        "iteration both recipes share, their curve points, training time and the datasets are "
                        "taken over (hard links), D0 is only read, and training goes on from there")
    p.add_argument("--out_folder", default=None, metavar="D",
                   help="where datasets, runs and tables go (default: experiments/ for --scale small, "
                        "experiments_paper/ for --scale paper)")
    p.add_argument("--scale", default="small", choices=SCALES,
                   help="tiny: every run at 16 px for 4 iterations, a smoke test of under a minute; small: the "
                        "CPU recipe, 32 px, 20,000 iterations, Adam 1e-4 up to iteration 2000, then 1e-3 annealed "
                        "over the last 5000 to 1e-5: 27 - 30 minutes for a run alone on 2 cores with the default "
                        "threads, 60 for each of two side by side with --threads 1 (default); paper: the reference "
                        "configs (64 px, 256-d, 10 x 512 pixel generator, 1M iterations, 144k scenes)")
    p.add_argument("--device", default="", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one)")
    p.add_argument("--threads", type=non_negative, default=0, metavar="T",
                   help="torch threads (default 0: torch's choice; 1 avoids the slowdown of several "
                        "threads on a machine that other jobs keep busy)")
    p.add_argument("--reference_batches", type=integer(1), default=None, metavar="B",
                   help="test batches scored against clean references (Fig. 9's metrics; default all at small "
                        "scale, 16 at paper scale)")
    p.add_argument("--reference_spp", type=integer(1), default=None, metavar="K",
                   help="samples per pixel of the clean references and of the compositing benchmark's (default 256)")
    p.add_argument("--compositing_scenes", type=integer(2), default=None, metavar="N",
                   help="base scenes of the compositing benchmark (default 32 at small scale, 64 at paper scale); "
                        "changing a measurement setting measures the finished runs again")
    p.add_argument("--remeasure", default="", metavar="GROUP[,GROUP]",
                   help="measure these column groups of the finished runs again (reference, compositing, "
                        "partition, run), e.g. after a renderer change")
    p.add_argument("--list", action="store_true", help="list the experiments, their datasets and status, and exit")
    p.add_argument("--report_only", action="store_true",
                   help="train nothing: measure the finished runs and rewrite the tables")
    p.add_argument("--suite", default=str(DEFAULT_SUITE), help="suite file (default configs/experiments/suite.json)")
    p.add_argument("--no_progress", action="store_true", help="no progress bars")
    return p


def list_experiments(runner, experiments) -> str:
    suite = runner.suite
    w = max(len(e.name) for e in experiments)
    lines = [f"{suite.scale} scale, {suite.path}; output {runner.out}"]
    for e in experiments:
        cfg = e.config
        rep = cfg["model"]["representations"][0]
        kind = ("monolithic" if not cfg.get("latent_separation") else
                "static" if not cfg.get("adaptive_separation", True) else
                "adaptive" + (f" + null (beta {cfg.get('partition_loss', 0.01):g})" if cfg.get("empty_partition") else ""))
        lines.append(f"  {e.name:<{w}}  {e.dataset:<16} r={rep.get('representation_dim', 256):<4} {kind:<30} "
                     f"{runner.target(e):>8} it  [{', '.join(e.tables) or '-'}]  {runner.status(e)}")
    for name in suite.datasets:
        missing = runner.dataset_missing(name)
        spec = suite.datasets[name]
        total = spec.train_batches + spec.test_batches
        cfg = runner.dataset_config(name)
        lines.append(f"  dataset {name} ({cfg.views_per_scene} views, {cfg.max_render_size()} px, "
                     f"{cfg.samples_per_pixel} spp): {total - missing}/{total} batch files")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # imported after parsing: torch and the data / engine / analysis layers take seconds to load,
    # which --help and argument errors should not wait for
    from ..config import ConfigError
    from ..data.exrbatch import DatasetError
    from ..engine.checkpoint import CheckpointError
    from .runner import Runner

    from ..engine.devices import DeviceError, check_device

    try:
        check_device(args.device or None)
    except DeviceError as e:
        print(f"run-experiments.py: error: {e}", file=sys.stderr)
        return 2
    try:
        suite = Suite(args.suite, args.scale)
        only = [n.strip() for n in args.only.split(",") if n.strip()]
        experiments = suite.select(only)
        out = Path(args.out_folder) if args.out_folder else default_out_folder(args.scale)
        if args.branch_from is not None and not Path(args.branch_from).is_dir():
            raise SuiteError(f"--branch_from {args.branch_from}: no such folder (give the output folder of "
                             f"an earlier run of the suite)")
        runner = Runner(suite, out, iterations=args.iterations, device=args.device or None,
                        progress=not args.no_progress, overrides=args.set, dataset_overrides=args.dataset_set,
                        branch_from=args.branch_from)
        for e in experiments:      # every override and the datasets already made checked before any work starts
            runner.check_experiment(e)
        runner.measure_settings = dataclasses.replace(
            runner.measure_settings, **{k: getattr(args, k) for k in ("reference_batches", "reference_spp",
                                                                      "compositing_scenes")
                                        if getattr(args, k) is not None})
        if args.list:
            print(list_experiments(runner, experiments))
            return 0
        if args.threads > 0:
            import torch
            torch.set_num_threads(args.threads)
        remeasure = [g.strip() for g in args.remeasure.split(",") if g.strip()]
        complete = runner.run(experiments, train=not args.report_only, remeasure=remeasure)
    except (SuiteError, ConfigError, DatasetError, CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"run-experiments.py: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        hint = " (build the renderer with build_renderer.sh)" if "_renderer" in str(e) else ""
        print(f"run-experiments.py: error: {e}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue", file=sys.stderr)
        return 130
    return 0 if complete else 130

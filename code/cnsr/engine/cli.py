"""Command line of ``code/train-gqn.py`` (the script itself only calls :func:`main`).

torch, the models, the data and the trainer are imported inside the functions that use them,
not at the top: ``train-gqn.py --help`` and config errors then answer in well under a second
instead of after torch's import (several seconds on a loaded machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

from ..arguments import ArgumentParser, add_set_argument, integer, report
from ..config import CODE_DIR, REPO_DIR, ConfigError, check_trainable

#: Exit status of a run stopped by SIGINT/SIGTERM after writing its checkpoint (as generate-dataset.py).
STOPPED_EXIT_CODE = 130

EXAMPLES = """examples:
  python code/train-gqn.py --config configs/quickstart.json
  python code/train-gqn.py --config configs/quickstart.json --set batch_size=8 --set iterations=200
  python code/train-gqn.py --checkpoint checkpoints/quickstart/version_0/quickstart_600.pt --iterations 1000
  python code/train-gqn.py --config configs/room_beauty.json --checkpoint checkpoints/room_beauty_1000000.pt
  python code/train-gqn.py --config configs/room_beauty.json --dry_run
  torchrun --nproc_per_node=2 code/train-gqn.py --config configs/room_beauty.json
  tensorboard --logdir runs
"""


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="train-gqn.py", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the encoders and generators of a config (Adam, one batch per iteration). "
                    "Each run owns a run folder: checkpoints <job_name>_<iteration>.pt, run.json and config.json "
                    "go to checkpoints/<job_name>/version_<N> (or --out_folder), TensorBoard logs to "
                    "runs/<job_name>/version_<N>; Ctrl-C writes a checkpoint and stops; --checkpoint resumes "
                    "exactly (the newest checkpoint of a run continues in its folder, an earlier one starts a "
                    "new folder beside it).")
    p.add_argument("--config", default=None,
                   help="config JSON: a path, or a name in configs/ (e.g. room_beauty); default with --checkpoint: "
                        "the config the checkpoint was trained with")
    p.add_argument("--config_dir", default="", help="folder to look the config up in (as the reference's)")
    add_set_argument(p)
    p.add_argument("--checkpoint", default="", help="checkpoint to resume from (ours or the reference's)")
    p.add_argument("--allow_config_change", action="store_true",
                   help="resume from a checkpoint trained with other model-defining config keys (warns, naming "
                        "them; without this flag such a checkpoint is refused)")
    p.add_argument("--reset_optimizer", action="store_true",
                   help="resume from a checkpoint without an optimizer state (or ignore its state) with a fresh "
                        "Adam; without this flag such a checkpoint is refused")
    p.add_argument("--out_folder", default=None,
                   help="the run folder to write (default: checkpoints/<job_name>/version_<N>, a new one per run; "
                        "resuming the newest checkpoint of a run continues in its folder); a folder holding "
                        "checkpoints of the job is accepted only to continue from its newest")
    p.add_argument("--device", default="", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one)")
    p.add_argument("--iterations", type=integer(0), default=None,
                   help="train up to this iteration (overrides the config)")
    p.add_argument("--dry_run", action="store_true",
                   help="build the model, print its size, check that the data can be opened, and exit")
    p.add_argument("--keep_checkpoints", type=integer(0), default=5, metavar="K",
                   help="keep only the K newest checkpoints this run wrote (0: keep all; default 5); files in "
                        "the folder that the run did not write are never deleted")
    p.add_argument("--log_dir", default=None, help="TensorBoard folder (default runs/<job_name>/<run folder name>)")
    p.add_argument("--no_logging", action="store_true", help="no TensorBoard output (overrides 'logging')")
    p.add_argument("--channels_last", action="store_true", help="channels-last memory format (speed)")
    p.add_argument("--compile", nargs="?", const="default", default=None,
                   choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
                   help="torch.compile the training step (speed); a mode may follow: reduce-overhead "
                        "replays CUDA graphs")
    p.add_argument("--fused_adam", action="store_true", help="Adam's fused implementation (speed, CUDA)")
    p.add_argument("--tf32", action="store_true",
                   help="fp32 matrix products and convolutions in TF32 on CUDA (speed; slightly less precise)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def find_config(name: str, config_dir: str = "") -> Path:
    """A config path from what the user typed: as given (from the current folder or ``code/``),
    inside ``--config_dir``, or a name in ``configs/`` with or without ``.json``."""
    candidates = []
    if config_dir:
        candidates.append(Path(config_dir) / name)
    candidates += [Path(name), CODE_DIR / name, REPO_DIR / "configs" / name, REPO_DIR / "configs" / f"{name}.json"]
    for c in candidates:
        if c.is_file():
            return c
    return Path(name)   # load_config reports it as missing


def describe_model(model) -> str:
    """Trainable parameters of each encoder and generator, one per line."""
    counts = model.parameter_counts() if hasattr(model, "parameter_counts") else {}
    if not counts:
        counts = {"model": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    width = max(len(k) for k in counts)
    lines = [f"  {k:<{width}}  {v:>12,} trainable parameters" for k, v in counts.items()]
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines.append(f"  {'total':<{width}}  {total:>12,}")
    return "\n".join(lines)


def check_data(cfg, device, batches: Optional[dict] = None) -> List[str]:
    """Open the training and test data the config names and draw one batch of each; returns a
    description per split (and puts the batches into ``batches``). Raises the loader's error
    (naming the folder/file) if it cannot."""
    from ..data import build_loader

    notes = []
    for split in ("train", "test"):
        batch = next(iter(build_loader(cfg, split, device, num_workers=0)))
        if batches is not None:
            batches[split] = batch
        obs = batch["observation_images"]
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in obs.items())
        source = str(cfg.data_dir(split)) if cfg.cached_dataset else "rendered on the fly"
        notes.append(f"  {split}: {source}; observations {shapes}")
    return notes


def check_batch_files(cfg, progress: bool = True) -> List[str]:
    """Open the header of every batch file of both splits (cached datasets): a truncated or
    corrupt file, or one that lacks a pass the config reads, raises DatasetError naming it now
    rather than hours into training. Pixels are not read."""
    from tqdm import tqdm

    from ..data.exrbatch import DatasetError, ExrBatchFile
    from ..data.loader import list_batch_files
    from ..data.npzbatch import read_npz_header

    needed = cfg.needed_passes()
    notes = []
    for split in ("train", "test"):
        files = list_batch_files(cfg.data_dir(split))
        for path in tqdm(files, desc=f"checking {split} files", unit="file", disable=not progress, leave=False):
            if path.suffix == ".exr":
                with ExrBatchFile(path) as f:     # every header field checked (shape, factor, poses)
                    have = f.passes
            else:
                have = read_npz_header(path)["passes"]
            missing = [p for p in needed if p not in have]
            if missing:
                raise DatasetError(f"{path}: lacks the pass(es) {', '.join(missing)} that the config reads")
        notes.append(f"  {split}: all {len(files)} batch files open")
    return notes


def check_training_step(model, batch, scenes: int = 1) -> float:
    """One forward and backward pass of ``model`` on the first ``scenes`` scenes of ``batch``
    (shape errors, a loss without gradient, NaN at the first step); returns the loss. The
    gradients are cleared again."""
    import torch

    def head(x):
        if isinstance(x, dict):
            return {k: head(v) for k, v in x.items()}
        return x[:scenes] if torch.is_tensor(x) and x.dim() > 0 else x

    model.train()
    try:
        loss, _ = model.compute_loss(head(batch), 1)
        loss.backward()
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        raise ConfigError(f"the model of this config fails on a batch of its data in a training step "
                          f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    finally:
        model.zero_grad(set_to_none=True)
    value = float(loss.detach())
    if value != value or value in (float("inf"), float("-inf")):
        raise FloatingPointError(f"the loss of a first training step on this data is {value}")
    return value


def main(argv: Optional[List[str]] = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if not args.config and not args.checkpoint:
        p.error("give --config (a new run) or --checkpoint (a resume; its config is the default)")
    from ..data.exrbatch import DatasetError
    from ..io.outputs import OutputError
    from .checkpoint import CheckpointError, config_for_checkpoint, read_checkpoint
    from .devices import DeviceError

    # --iterations and --no_logging are overrides like --set ones: recorded with the run's config
    overrides = list(args.set) + ([f"iterations={args.iterations}"] if args.iterations is not None else []) \
        + (["logging=false"] if args.no_logging else [])
    try:
        state = read_checkpoint(args.checkpoint) if args.checkpoint else None
        config = find_config(args.config, args.config_dir) if args.config else None
        cfg = config_for_checkpoint(config, state, args.checkpoint or None, overrides)
        check_trainable(cfg)
        if args.dry_run:
            return dry_run(cfg, args, state)
        return train(config, overrides, cfg, args, state)
    except (ConfigError, CheckpointError, DatasetError, OutputError, DeviceError, FileNotFoundError,
            FloatingPointError, OSError, MemoryError) as e:
        return report("train-gqn.py", e)
    except ImportError as e:   # typically the renderer, needed for batches rendered on the fly
        hint = " (build the renderer with build_renderer.sh)" if "_renderer" in str(e) else ""
        print(f"train-gqn.py: error: {e}{hint}", file=sys.stderr)
        return 2


def dry_run(cfg, args, state) -> int:
    import torch

    from ..models import build_model
    from .devices import check_device, move_to

    device = check_device(args.device or None)
    model = build_model(cfg)
    print(f"config: {cfg.source}  (job {cfg.job_name})")
    print(describe_model(model))
    if state is not None:
        from . import checkpoint as ckpt
        ckpt.check_config(state, cfg, args.checkpoint, args.allow_config_change)
        ckpt.check_compatible(model, ckpt.model_state_from(state, args.checkpoint), args.checkpoint)
        if not args.reset_optimizer:
            ckpt.require_optimizer_state(state, args.checkpoint)
        print(f"checkpoint: {args.checkpoint} fits (trained {ckpt.completed_iterations(state)} iterations; "
              f"resumes at iteration {ckpt.next_iteration(state)})")
    batches: dict = {}
    with torch.no_grad():
        notes = check_data(cfg, device, batches)
    if cfg.cached_dataset:
        notes += check_batch_files(cfg, progress=not args.no_progress)
    print("data:")
    print("\n".join(notes))
    loss = check_training_step(move_to(model, device), batches["train"])
    print(f"training step: one forward and backward pass on 1 scene, loss {loss:.4f}")
    print("dry run: OK")
    return 0


def train(config, overrides, cfg, args, state) -> int:
    from .trainer import Trainer

    trainer = Trainer(config, device=args.device or None, checkpoint=args.checkpoint or None,
                      checkpoint_state=state, overrides=overrides, reset_optimizer=args.reset_optimizer,
                      out_folder=args.out_folder, log_dir=args.log_dir, keep_checkpoints=args.keep_checkpoints,
                      channels_last=args.channels_last, compile=args.compile or False,
                      fused_adam=args.fused_adam, tf32=args.tf32, progress=not args.no_progress,
                      allow_config_change=args.allow_config_change)
    cfg = trainer.cfg
    main_rank = trainer.dist.is_main
    if main_rank:
        print(f"config: {cfg.source}  (job {cfg.job_name})")
        print(describe_model(trainer.model))
        where = f"{trainer.dist.world_size} processes (DDP, {trainer.dist.backend})" if trainer.dist.enabled else "1 process"
        data = "files in " + str(cfg.data_dir("train")) if cfg.cached_dataset else "rendered on the fly"
        print(f"training on {trainer.device}, {where}; data {data}; batch {cfg.batch_size}; "
              f"iterations {trainer.start_iteration}..{cfg.iterations}")
        print(f"checkpoints: {trainer.out_folder}  (run {trainer.run_folder.run_id}; {trainer.run_folder_reason})")
        print(f"TensorBoard: {trainer.log_dir if cfg.logging else '(off)'}")
    t0 = time.time()
    finished = False
    try:
        summary = trainer.train()
        finished = True
    finally:
        trainer.close()
        # after an error the other ranks may be inside a collective: leave without waiting for them
        trainer.dist.shutdown(orderly=finished)
    if main_rank and not summary["iterations_run"]:
        print(f"nothing to train: the run is at iteration {trainer.start_iteration - 1} and the config "
              f"stops at {cfg.iterations} (raise it with --iterations)")
    if main_rank and summary["iterations_run"]:
        # single-batch losses are noisy: compare means over the first and last iterations
        first, recent = trainer.first_losses, [h["loss"] for h in trainer.history]
        n = max(1, min(len(first), len(recent) // 4))
        print(f"{summary['iterations_run']} iterations in {time.time() - t0:.1f} s "
              f"({summary['it_per_s']:.2f} it/s, {summary['data_wait_fraction']:.0%} waiting for data); "
              f"loss (mean of {n} iterations) {sum(first[:n]) / n:.4f} -> {sum(recent[-n:]) / n:.4f}")
        if summary["stopped_early"]:
            print(f"stopped at iteration {summary['next_iteration'] - 1}; resume with "
                  f"--checkpoint {summary['checkpoint']}")
    # stopped by SIGINT/SIGTERM: not a finished run (a scheduler or a shell loop must be able to tell)
    code = STOPPED_EXIT_CODE if summary["stopped_early"] else 0
    if trainer.dist.enabled:
        # Every file is written and the process group is left: end the process here. Tearing
        # down the interpreter after a gloo process group can abort a rank ("terminate called
        # without an active exception", seen under load), which torchrun reports as a failed
        # job although training finished.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code

"""The training loop of ``train-gqn.py``: Adam, one batch per iteration, as the paper's.

Per iteration ``i`` (1-based, as the reference counts): draw a batch, shuffle the order of
its observations and, with ``random_num_views``, keep a random number of them in
[1, views_per_scene - 1]; ``loss, logs = model.compute_loss(batch, i)``; backward; Adam step.
Every ``test_interval`` the TensorBoard monitor records the averaged losses, the partition
sizes and the metrics of a fixed test batch; every ``checkpoint_interval`` a checkpoint
``<job_name>_<i>.pt`` is written (see :mod:`cnsr.engine.checkpoint`). SIGINT/SIGTERM finish the
current iteration, write a checkpoint and return.

The per-iteration choice of observations depends only on (seed, iteration, rank), and the
checkpoint carries every random generator's state, so a resumed run takes the same steps as
an uninterrupted one (single process; the loader factory resumes its stream at
``start_iteration``, as :func:`cnsr.data.build_loader` does: see :class:`cnsr.data.LoaderFactory`).
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from ..config import REPO_DIR, Config
from ..data import LoaderFactory, batch_to_device, build_loader
from ..io.outputs import OutputError, prepare_folder
from ..metrics import flat_metrics, score_outputs
from ..models import build_model
from ..models.partition import parameter_groups
from ..schedules import config_learning_rate
from . import checkpoint as ckpt
from .devices import move_to, to_channels_last
from .distributed import DistributedContext, init_distributed
from .monitor import TensorBoardMonitor, flatten_stats
from .runfolder import RunFolder, RunFolderError, choose_run_folder
from .seeding import iteration_generator, seed_everything

__all__ = ["Trainer", "select_observations", "iteration_generator", "default_checkpoint_folder",
           "default_runs_folder"]

Batch = Dict[str, Any]


# ------------------------------------------------------------------------- defaults
def _project_folder(name: str) -> Path:
    """``<repo>/<name>`` when running from a source checkout, else ``./<name>``."""
    if (REPO_DIR / "code" / "cnsr").is_dir():
        return REPO_DIR / name
    return Path.cwd() / name

#: how many recent per-iteration losses ``Trainer.history`` keeps (at least), and how many first ones
HISTORY_KEEP = 10000
FIRST_KEEP = 50


def default_checkpoint_folder() -> Path:
    """Where checkpoints go without ``--out_folder`` (the reference's ``../checkpoints``)."""
    return _project_folder("checkpoints")


def default_runs_folder() -> Path:
    """Parent of the TensorBoard folders ``runs/<job_name>`` (the reference's ``../runs``)."""
    return _project_folder("runs")


# ------------------------------------------------------------------------- batches
def select_observations(batch: Batch, generator: torch.Generator, random_num_views: bool) -> Batch:
    """Shuffle the order of the observations of a training batch and, with ``random_num_views``,
    keep the first k of them, k uniform in [1, N] (N = views_per_scene - 1).

    The same permutation applies to every scene and pass of the batch (the encoder
    aggregates over views, so the order matters only through max-aggregation ties and
    ``random_num_views``). ``observation_images[p]``: [B, N, C, H, W]; ``observation_poses``: [B, N, 16, 1, 1].
    """
    poses = batch["observation_poses"]
    n = poses.shape[1]
    order = torch.randperm(n, generator=generator)
    k = int(torch.randint(1, n + 1, (1,), generator=generator).item()) if random_num_views else n
    index = order[:k].to(poses.device)
    out = dict(batch)
    out["observation_images"] = {p: t.index_select(1, index) for p, t in batch["observation_images"].items()}
    out["observation_poses"] = poses.index_select(1, index)
    return out


class _Endless:
    """Iterates a loader forever (a new pass whenever one ends)."""

    def __init__(self, loader):
        self.loader = loader
        self._it = iter(loader)

    def __iter__(self):
        return self

    def _next_raw(self):
        try:
            return next(self._it)
        except StopIteration:
            self._it = iter(self.loader)
            try:
                return next(self._it)
            except StopIteration:
                raise RuntimeError("the data loader yields no batches (empty dataset?)") from None

    def __next__(self):
        return self._next_raw()


class _LossModule(torch.nn.Module):
    """``forward(batch, iteration) = model.compute_loss(batch, iteration)``: DDP synchronises
    gradients of what runs through ``forward``, and ``torch.compile`` compiles a forward."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: Batch, iteration: int):
        return self.model.compute_loss(batch, iteration)


# ------------------------------------------------------------------------- trainer
class Trainer:
    """Trains the model of a config; see the module docstring.

    Args:
        config: a :class:`~cnsr.config.Config`, a dict or a JSON path; None with a
            ``checkpoint``: the config the checkpoint was trained with.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...; default: a GPU if there is one (a device
            this machine lacks is refused at once). Under ``torchrun`` each process takes
            ``cuda:LOCAL_RANK`` (or the CPU with gloo).
        checkpoint: a checkpoint (ours or the reference's) to resume from.
        checkpoint_state: the ``checkpoint`` already read (:func:`~cnsr.engine.checkpoint.read_checkpoint`),
            so that a large file is not read twice.
        out_folder: the run folder, where checkpoints go (:mod:`cnsr.engine.runfolder`): a
            folder holding checkpoints of this job is accepted only to continue from its newest;
            default: continue in the checkpoint's run folder when resuming its newest checkpoint,
            else a new ``checkpoints/<job_name>/version_<N>`` (beside the checkpoint's run, or in
            the checkpoint's folder, when resuming).
        log_dir: TensorBoard folder; default ``runs/<job_name>/<run folder name>``.
        keep_checkpoints: keep only the newest K checkpoints this run wrote (0 keeps all).
        overrides: ``KEY=VALUE`` config overrides (``--set``), applied to ``config`` (or the
            checkpoint's), validated like the file and recorded in the run folder.
        reset_optimizer: resume from a checkpoint without an optimizer state (or ignore its
            state) with a fresh Adam; without it such a checkpoint is refused.
        model, loader_factory: inject a model / a :class:`cnsr.data.LoaderFactory` (every
            factory takes the same keyword arguments; defaults: ``cnsr.models.build_model``
            and ``cnsr.data.build_loader``).
        channels_last, compile: speed options (4-D tensors channels-last; ``torch.compile``;
            ``compile`` may name a mode, e.g. ``"reduce-overhead"``, which replays CUDA graphs).
        fused_adam: Adam's fused implementation (one kernel for all parameters; CUDA, and
            CPUs with torch >= 2.4).
        tf32: let fp32 matrix products and convolutions use TF32 on CUDA (a process-wide
            switch: ``torch.backends.cuda.matmul`` and ``torch.backends.cudnn``).
        progress: show the tqdm bar (rank 0).
        save_final: checkpoint the last iteration when training ends off the checkpoint interval.
        allow_config_change: resume from a checkpoint whose model-defining config keys differ
            from ``config`` (with a warning naming them) instead of refusing.

    The run folder is checked and locked when the trainer is made (rank 0): a folder that cannot
    be written or has no room for a checkpoint, one another live run holds, or one whose
    checkpoints this run would mix with raise :class:`~cnsr.engine.runfolder.RunFolderError`
    before any training. The lock is held until :meth:`train` returns (taken again by the next
    :meth:`train`) or :meth:`close`.
    """

    def __init__(self, config: Union[None, Config, dict, str, os.PathLike] = None, *, device=None,
                 checkpoint: Optional[Union[str, os.PathLike]] = None,
                 checkpoint_state: Optional[Mapping[str, Any]] = None,
                 out_folder: Optional[Union[str, os.PathLike]] = None,
                 log_dir: Optional[Union[str, os.PathLike]] = None, keep_checkpoints: int = 5,
                 overrides: Sequence[str] = (), reset_optimizer: bool = False,
                 model: Optional[torch.nn.Module] = None, loader_factory: Optional[LoaderFactory] = None,
                 channels_last: bool = False, compile: Union[bool, str] = False,
                 fused_adam: bool = False, tf32: bool = False, progress: bool = True,
                 handle_signals: bool = True, save_final: bool = True,
                 dist: Optional[DistributedContext] = None, allow_config_change: bool = False):
        if keep_checkpoints < 0:
            raise ValueError(f"keep_checkpoints must be >= 0 (0 keeps all), got {keep_checkpoints}")
        # ---- checkpoint to resume from (read first: it carries the run's seed and config)
        self.checkpoint_source = str(checkpoint) if checkpoint else None
        state = checkpoint_state if checkpoint_state is not None or not checkpoint else ckpt.read_checkpoint(checkpoint)
        self.cfg = ckpt.config_for_checkpoint(config, state, self.checkpoint_source, overrides)
        self.overrides = list(overrides)
        self.dist = dist or init_distributed(device)
        self.device = self.dist.device
        self.channels_last = channels_last
        self.progress = progress
        self.keep_checkpoints = keep_checkpoints
        self.handle_signals = handle_signals
        self.save_final = save_final
        self._stop_requested = False
        self._updating = False
        self._loader_factory = loader_factory

        if state is not None and "seed" in state:
            self.seed = int(state["seed"])
        elif self.cfg.seed >= 0:
            self.seed = int(self.cfg.seed)
        else:
            self.seed = random.SystemRandom().randrange(2 ** 31)
        if self.dist.enabled:
            # one seed for the job: the ranks' shares of a shuffled dataset must not overlap
            self.seed = self.dist.broadcast_int(self.seed)
        seed_everything(self.seed)

        # ---- model and optimizer
        if model is None:
            model = build_model(self.cfg)
        self.model = move_to(model, self.device)
        if channels_last:
            self.model = to_channels_last(self.model)
        self.optimizer = torch.optim.Adam(parameter_groups(self.model, self.cfg.partition_learning_rate_factor),
                                          lr=self.cfg.learning_rate, **({"fused": True} if fused_adam else {}))
        if tf32:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        self.start_iteration = 1
        #: seconds spent in training steps over the whole run (resumes included; saved in checkpoints)
        self.train_seconds = 0.0
        if state is not None:
            self.train_seconds = float(state.get("train_seconds", 0.0) or 0.0)
            drift = ckpt.load_into(self.model, state, self.checkpoint_source, self.optimizer, config=self.cfg,
                                   allow_config_change=allow_config_change, reset_optimizer=reset_optimizer)
            self._set_learning_rate(self.cfg.learning_rate)   # the config decides, also on resume
            self.start_iteration = ckpt.next_iteration(state)
            if "rng_state" in state and not self.dist.enabled:
                ckpt.restore_rng_state(state["rng_state"])
            if drift.training and self.dist.is_main:
                print(f"note: {self.checkpoint_source} was trained with other values of: "
                      f"{'; '.join(drift.training)}")
            if reset_optimizer and self.dist.is_main:
                print(f"note: --reset_optimizer: Adam starts afresh at iteration {self.start_iteration}")
        if self.dist.enabled:
            # each rank draws its own GQN latents; parameters come from rank 0 (DDP broadcast)
            torch.manual_seed(self.seed + 7919 * self.dist.rank + self.start_iteration)

        self.loss_module: torch.nn.Module = _LossModule(self.model)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # find_unused_parameters: e.g. the partition deltas are unused without partitioning
            self.loss_module = DDP(self.loss_module, device_ids=ids, find_unused_parameters=True)
        elif self.cfg.multi_gpu and torch.cuda.device_count() > 1 and self.dist.is_main:
            print(f"multi_gpu: launch with `torchrun --nproc_per_node={torch.cuda.device_count()} "
                  f"code/train-gqn.py ...` to train on all {torch.cuda.device_count()} GPUs")
        self.compiled = bool(compile)
        mode = compile if isinstance(compile, str) and compile != "default" else None
        self.loss_fn = torch.compile(self.loss_module, mode=mode) if compile else self.loss_module

        self.autocast = bool(self.cfg.mixed_precision and self.device.type == "cuda")
        if self.cfg.mixed_precision and not self.autocast and self.dist.is_main:
            print("mixed_precision: bf16 autocast is used on CUDA devices only; training in fp32")

        # ---- the run folder (rank 0 writes; the others never touch it)
        self.run_folder: Optional[RunFolder] = None
        self.out_folder = Path(out_folder) if out_folder is not None else None
        self.run_folder_reason = ""
        if self.dist.is_main:
            folder, self.run_folder_reason = choose_run_folder(
                self.cfg.job_name, out_folder, checkpoint, default_checkpoint_folder())
            self.out_folder = folder
            self.run_folder = RunFolder(folder, self.cfg.job_name, resume_from=checkpoint,
                                        resume_iteration=self.start_iteration - 1 if state is not None else None)
            session = {"config": self.cfg.source, "overrides": self.overrides,
                       "start_iteration": self.start_iteration}
            config_file = config if isinstance(config, (str, os.PathLike)) else None
            self.run_folder.open(needed_bytes=ckpt.estimate_checkpoint_bytes(self.model),
                                 config=self.cfg.to_dict(), session=session, inputs={"--config": config_file})
        name = self.out_folder.name if self.out_folder is not None else ""
        self.log_dir = Path(log_dir) if log_dir else default_runs_folder() / self.cfg.job_name / name

        # ---- data (built lazily in train(): a dry run or a test may not want it)
        self._train_iter: Optional[Iterator[Batch]] = None
        self._test_batch: Optional[Batch] = None
        self.monitor = None
        #: per-iteration losses of this run, the most recent HISTORY_KEEP..2*HISTORY_KEEP of them
        #: (a million-iteration run must not grow without bound); the first FIRST_KEEP are kept apart
        self.history: List[Dict[str, float]] = []
        self.first_losses: List[float] = []
        self.last_checkpoint: Optional[Path] = None

    # ---------------------------------------------------------------- helpers
    def _make_loader(self, split: str):
        factory: LoaderFactory = self._loader_factory or build_loader
        if split == "train":
            loader = factory(self.cfg, split, self.device, seed=self.seed, start_iteration=self.start_iteration,
                             rank=self.dist.rank, world_size=self.dist.world_size, num_workers=None)
        else:
            # one fixed test batch, the same on every rank (the config's seed); worker
            # processes would only cost start-up
            loader = factory(self.cfg, split, self.device, seed=None, start_iteration=1, rank=0, world_size=1,
                             num_workers=0)
        return _Endless(loader)

    def request_stop(self, *_args) -> None:
        """Finish the current iteration, write a checkpoint and stop (SIGINT/SIGTERM handler).
        A second request interrupts at once."""
        if os.getpid() != getattr(self, "_handler_pid", os.getpid()):
            return   # a forked loader worker inherited the handler: the main process decides
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True
        if self.dist.is_main:
            print("\nstopping: writing a checkpoint after this iteration (press Ctrl-C again to abort)", flush=True)

    @contextlib.contextmanager
    def _signals(self):
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._handler_pid = os.getpid()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, self.request_stop)
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def save_checkpoint(self, iteration: int) -> Optional[Path]:
        """Write the checkpoint of a completed ``iteration`` into the run folder and prune this
        run's older ones beyond ``keep_checkpoints`` (rank 0 only)."""
        if not self.dist.is_main:
            return None
        extra = {"run_id": self.run_folder.run_id, "train_seconds": self.train_seconds}
        if self.overrides:
            extra["overrides"] = self.overrides
        self.last_checkpoint = ckpt.save_checkpoint(
            self.out_folder, self.cfg.job_name, self.model, self.optimizer, iteration,
            config=self.cfg.to_dict(), seed=self.seed, extra=extra)
        self.run_folder.record(self.last_checkpoint, self.keep_checkpoints)
        return self.last_checkpoint

    def _save_after_error(self, completed: int, error: BaseException) -> None:
        if not self.dist.is_main:
            return
        if self._updating:
            print(f"\nerror during the parameter update of iteration {completed + 1}: no checkpoint written "
                  f"(the parameters may be half-updated); the last checkpoint is {self.last_checkpoint}",
                  file=sys.stderr, flush=True)
            return
        try:
            path = self.save_checkpoint(completed)
        except Exception as e2:   # e.g. the disk is full: report the original error
            print(f"\nwriting the checkpoint of iteration {completed} after the error failed too: {e2}",
                  file=sys.stderr, flush=True)
            return
        print(f"\n{type(error).__name__} after iteration {completed}: wrote the checkpoint of the last completed "
              f"iteration, {path}; resume with --checkpoint {path}", file=sys.stderr, flush=True)

    # ---------------------------------------------------------------- one step
    def step(self, iteration: int) -> Dict[str, float]:
        """One optimisation step on the next training batch; returns its logs (floats),
        including ``total_loss`` and ``data_time`` (seconds spent waiting for the batch)."""
        if self._train_iter is None:
            self._train_iter = self._make_loader("train")
        t0 = time.perf_counter()
        batch = next(self._train_iter)
        t_data = time.perf_counter() - t0
        batch = batch_to_device(batch, self.device, to_float=False, channels_last=self.channels_last)
        batch = select_observations(batch, iteration_generator(self.seed, iteration, self.dist.rank),
                                    self.cfg.random_num_views)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            loss, logs = self.loss_fn(batch, iteration)
        if not torch.isfinite(loss.detach()).all():
            source = batch.get("source")
            origin = f" on the batch from {source}" if source else ""
            raise FloatingPointError(f"iteration {iteration}: the loss is {loss.item()}{origin} "
                                     f"(logs: {dict((k, float(v)) for k, v in logs.items())})")
        loss.backward()
        lr = config_learning_rate(self.cfg, iteration)
        self._set_learning_rate(lr)
        self._updating = True      # an exception from here on may leave the parameters half-updated
        self.optimizer.step()
        self._updating = False
        out = {k: float(v) for k, v in logs.items()}
        out["total_loss"] = float(loss.detach())
        out["data_time"] = t_data
        out["num_views"] = float(batch["observation_poses"].shape[1])
        out["learning_rate"] = lr
        return out

    def _set_learning_rate(self, lr: float) -> None:
        """The rate of every parameter group: ``lr``, times the group's factor (the partition logits')."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_factor", 1.0)

    # ---------------------------------------------------------------- testing
    def test_batch(self) -> Batch:
        """The fixed test batch (drawn once) the monitor evaluates every ``test_interval``."""
        if self._test_batch is None:
            loader = self._make_loader("test")
            self._test_batch = batch_to_device(next(loader), self.device, to_float=False,
                                               channels_last=self.channels_last)
        return self._test_batch

    @torch.no_grad()
    def evaluate(self, iteration: int) -> Dict[str, float]:
        """Sample the fixed test batch and log metrics and images (rank 0)."""
        batch = self.test_batch()
        self.model.eval()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            outputs = self.model.sample(batch)
        outputs = [{k: v.float() for k, v in out.items()} for out in outputs]
        self.model.train()
        if self.monitor is None:
            return flat_metrics(score_outputs(batch, outputs))
        return self.monitor.test_batch(batch, outputs, iteration)

    def partition_stats(self) -> Dict[str, float]:
        fn = getattr(self.model, "partition_stats", None)
        return flatten_stats(fn()) if fn is not None else {}

    # ---------------------------------------------------------------- the loop
    def _record_loss(self, iteration: int, loss: float) -> None:
        self.history.append({"iteration": iteration, "loss": loss})
        if len(self.history) > 2 * HISTORY_KEEP:
            del self.history[:HISTORY_KEEP]
        if len(self.first_losses) < FIRST_KEEP:
            self.first_losses.append(loss)

    def _log_interval(self, iteration: int, sums: Mapping[str, float], count: int, elapsed: float,
                      data_wait: float) -> None:
        """TensorBoard at the end of a test interval: the means of the logs summed over its
        ``count`` iterations, partition sizes, speed, and the test batch's metrics and images."""
        means = {k: v / count for k, v in sums.items() if k != "data_time"}
        partition = self.partition_stats()
        self.monitor.scalars("loss", {k: v for k, v in means.items()
                                      if k not in ("num_views", "learning_rate") and k not in partition}, iteration)
        self.monitor.scalars("optimizer", {"learning_rate": means.get("learning_rate", self.cfg.learning_rate)},
                             iteration)
        self.monitor.scalars("partition", partition, iteration)
        self.monitor.scalars("perf", {"it_per_s": count / max(elapsed, 1e-9),
                                      "data_wait_fraction": data_wait / max(elapsed, 1e-9)}, iteration)
        self.evaluate(iteration)
        self.monitor.flush()

    def train(self, iterations: Optional[int] = None) -> Dict[str, Any]:
        """Train from the start (or resumed) iteration up to ``iterations`` (default the
        config's), inclusive. Returns a summary: ``iterations_run``, ``first_loss``,
        ``last_loss``, ``it_per_s``, ``data_wait_fraction``, ``stopped_early``, ``checkpoint``."""
        cfg = self.cfg
        end = int(iterations if iterations is not None else cfg.iterations)
        main = self.dist.is_main
        if main:
            self.run_folder.acquire()   # released when train() returns; another run may not take over
        try:
            return self._train(end)
        finally:
            if main:
                self.run_folder.release()

    def _train(self, end: int) -> Dict[str, Any]:
        cfg = self.cfg
        main = self.dist.is_main
        if main and cfg.logging and self.monitor is None:
            try:
                prepare_folder(self.log_dir, "the TensorBoard folder (--log_dir)")
            except OutputError as e:
                raise RunFolderError(str(e)) from None
            self.monitor = TensorBoardMonitor(self.log_dir, cfg.model.output_pass)
        # Making the loaders draws from torch's global generator (a DataLoader's base seed), as the
        # training steps do (composite training's batch shift, a GQN's latents). An uninterrupted
        # run made them before iteration 1, so a resumed one, whose checkpoint restored that
        # generator as it was after its last iteration, makes them without drawing: it then draws
        # what the uninterrupted run drew.
        with torch.random.fork_rng(devices=[]) if self.start_iteration > 1 else contextlib.nullcontext():
            if self._train_iter is None:
                self._train_iter = self._make_loader("train")
            if self.monitor is not None:
                self.test_batch()   # a test set that cannot be read fails now, not at the first test

        sums: Dict[str, float] = {}
        count = 0
        done = 0
        t_total = t_data = 0.0
        first_loss = last_loss = None
        last_saved = None
        bar = tqdm(total=end, initial=self.start_iteration - 1, disable=not (main and self.progress),
                   dynamic_ncols=True, unit="it", desc=cfg.job_name)
        it = completed = self.start_iteration - 1
        interval_t0 = time.perf_counter()
        interval_data = 0.0
        with self._signals():
            try:
                for it in range(self.start_iteration, end + 1):
                    t0 = time.perf_counter()
                    try:
                        logs = self.step(it)
                    except Exception:
                        # Ctrl-C in a terminal also reaches the loader's worker processes, which
                        # then exit: a failed fetch after a stop request is the stop, not an error
                        if self._stop_requested:
                            break
                        raise
                    dt = time.perf_counter() - t0
                    t_total += dt
                    self.train_seconds += dt
                    t_data += logs["data_time"]
                    interval_data += logs["data_time"]
                    done += 1
                    loss = logs["total_loss"]
                    first_loss = loss if first_loss is None else first_loss
                    last_loss = loss
                    self._record_loss(it, loss)
                    for k, v in logs.items():
                        sums[k] = sums.get(k, 0.0) + v
                    count += 1
                    completed = it
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", views=int(logs["num_views"]),
                                    data=f"{t_data / max(t_total, 1e-9):.0%}", refresh=False)

                    if main and self.monitor is not None and it % cfg.test_interval == 0:
                        self._log_interval(it, sums, count, time.perf_counter() - interval_t0, interval_data)
                        sums, count = {}, 0
                        interval_t0, interval_data = time.perf_counter(), 0.0

                    if it % cfg.checkpoint_interval == 0:
                        self.save_checkpoint(it)
                        last_saved = it
                    if self.dist.any_true(self._stop_requested):
                        self._stop_requested = True
                        break
            except Exception as e:
                # keep the progress since the last checkpoint: the state after the last completed
                # iteration is whole unless the failure hit the parameter update itself
                if done and last_saved != completed:
                    self._save_after_error(completed, e)
                raise
            finally:
                bar.close()
                if self.monitor is not None:
                    self.monitor.flush()
            # only after a normal end or a requested stop: an exception may leave a half-done step
            if done and last_saved != completed and (self.save_final or self._stop_requested):
                self.save_checkpoint(completed)
        if main and self.last_checkpoint is not None and self.progress:
            print(f"checkpoint: {self.last_checkpoint}")
        self.start_iteration = completed + 1
        return {"iterations_run": done, "first_loss": first_loss, "last_loss": last_loss,
                "it_per_s": done / t_total if t_total else float("nan"),
                "data_wait_fraction": t_data / t_total if t_total else float("nan"),
                "stopped_early": self._stop_requested, "checkpoint": self.last_checkpoint,
                "next_iteration": completed + 1}

    def close(self) -> None:
        """Close the TensorBoard writer and let go of the run folder's lock."""
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None
        if self.run_folder is not None:
            self.run_folder.release()

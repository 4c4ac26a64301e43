"""Run folders: each training run owns the folder its checkpoints go to.

A run folder holds one run's checkpoints ``<job_name>_<iteration>.pt`` beside

- ``run.json``: the run's id, its job, where it was resumed from, one entry per training
  session (start time, host, process, command line, ``--set`` overrides) and the checkpoints
  this run wrote (the only ones it ever prunes);
- ``config.json``: the effective config of the last session (overrides applied), a file
  ``train-gqn.py --config`` takes;
- ``.lock``: held (``flock``) by the process training into the folder; the kernel releases it
  when that process ends, however it ends, so a lock is never stale.

Which folder a run writes (:func:`choose_run_folder`):

- an explicit folder (``--out_folder D``, ``Trainer(out_folder=D)``) is the run folder itself;
- without one, a new run gets a new versioned folder ``checkpoints/<job_name>/version_<N>``
  (as Lightning's ``version_N``); resuming the newest checkpoint of a run folder continues in
  that folder; resuming an earlier one (or a checkpoint outside any run folder, such as the
  paper's) starts a new version beside it, so nothing later is ever deleted or overwritten.

Opening a folder (:meth:`RunFolder.open`) refuses, before any training: a folder that cannot be
written or lacks room for a checkpoint, one that another live run holds, and one holding
checkpoints of this job that the run would mix with (anything but continuing from its newest).
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..io.atomic import atomic_path
from ..io.outputs import OutputError, prepare_folder, refuse_overwriting_inputs
from ..models.state_dicts import CheckpointError
from .checkpoint.naming import checkpoint_iteration, list_checkpoints, remove_stale_temp_files

try:   # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:   # pragma: no cover
    fcntl = None

PathLike = Union[str, os.PathLike]

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
VERSION_PREFIX = "version_"
FORMAT = "cnsr-run-1"


class RunFolderError(CheckpointError):
    """A run cannot write into the folder asked for (another live run holds it, it holds another
    run's checkpoints, it cannot be written); the message names the folder and what to do."""


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def new_run_id() -> str:
    """``<date>-<time>-<6 hex digits>``: sortable and unique enough for the runs of one machine."""
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def is_run_folder(folder: PathLike) -> bool:
    """Whether ``folder`` is a run folder (it has a ``run.json``)."""
    return (Path(folder) / RUN_FILE).is_file()


def read_run_info(folder: PathLike) -> Dict[str, Any]:
    """The ``run.json`` of a run folder (an empty dict when there is none or it is unreadable)."""
    try:
        info = json.loads((Path(folder) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def _versions(job_folder: Path) -> List[int]:
    out = []
    if job_folder.is_dir():
        for p in job_folder.iterdir():
            if p.name.startswith(VERSION_PREFIX) and p.name[len(VERSION_PREFIX):].isdigit():
                out.append(int(p.name[len(VERSION_PREFIX):]))
    return out


def new_version_folder(job_folder: PathLike) -> Path:
    """Create and return ``<job_folder>/version_<N>`` with N one past the largest there (a
    concurrent start takes the next number: the folder is claimed by creating it)."""
    job_folder = Path(job_folder)
    try:
        job_folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"{job_folder}: cannot create the folder for this job's runs "
                             f"({e.strerror or e}); give a writable --out_folder") from None
    n = max(_versions(job_folder), default=-1) + 1
    while True:
        path = job_folder / f"{VERSION_PREFIX}{n}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
        except OSError as e:
            raise RunFolderError(f"{path}: cannot create the run folder ({e.strerror or e}); give a writable "
                                 f"--out_folder") from None


def job_folder(run_folder: PathLike, job_name: str) -> Path:
    """Where a new run beside ``run_folder`` goes: its parent when it is a ``version_N`` folder,
    else ``<its parent>/<job_name>``."""
    run_folder = Path(run_folder)
    name = run_folder.name
    if name.startswith(VERSION_PREFIX) and name[len(VERSION_PREFIX):].isdigit():
        return run_folder.parent
    return run_folder.parent / job_name


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (False where either cannot be read)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def choose_run_folder(job_name: str, out_folder: Optional[PathLike] = None, checkpoint: Optional[PathLike] = None,
                      default_root: Optional[PathLike] = None) -> Tuple[Path, str]:
    """The folder a run writes into, and why (a phrase for the start-up message); see the module
    docstring. A new version folder is created here (that claims its number)."""
    if out_folder is not None:
        return Path(out_folder), "as given"
    if checkpoint is not None:
        p = Path(checkpoint)
        folder = p.parent
        if is_run_folder(folder):
            newest = list_checkpoints(folder, job_name)
            if newest and same_file(newest[-1][1], p):
                return folder, f"continuing the run of {p.name}"
            shown = newest[-1][1].name if newest else "none"
            return (new_version_folder(job_folder(folder, job_name)),
                    f"a new run: {p.name} is not the newest checkpoint of {folder} ({shown}), whose later "
                    f"checkpoints stay as they are")
        return new_version_folder(folder / job_name), f"a new run resumed from {p}"
    root = Path(default_root) if default_root is not None else Path.cwd() / "checkpoints"
    return new_version_folder(root / job_name), "a new run"


class RunFolder:
    """The folder one training run writes (see the module docstring).

    Args:
        path: the folder (created if missing).
        job_name: names the checkpoints.
        resume_from: the checkpoint the run resumes from (None for a new run).
        resume_iteration: the iteration that checkpoint was trained to (its name must agree when the
            run continues in its folder).
        run_id: of the run being continued (default: the folder's, else a new one).
    """

    def __init__(self, path: PathLike, job_name: str, resume_from: Optional[PathLike] = None,
                 run_id: Optional[str] = None, resume_iteration: Optional[int] = None):
        self.path = Path(path)
        self.job_name = job_name
        self.resume_from = Path(resume_from) if resume_from is not None else None
        self.resume_iteration = resume_iteration
        self.info: Dict[str, Any] = {}
        self.run_id = run_id
        self._lock_fd: Optional[int] = None

    # ------------------------------------------------------------------ opening
    def open(self, needed_bytes: int = 0, config: Optional[Dict[str, Any]] = None,
             session: Optional[Dict[str, Any]] = None, inputs: Optional[Dict[str, Any]] = None) -> "RunFolder":
        """Check and take the folder for this run (see the module docstring): writable with room
        for ``needed_bytes`` (a checkpoint), not held by a live run, holding no checkpoints of this
        job that the run would mix with, its records not over one of the run's ``inputs`` (say the
        config file). Then record the session in ``run.json`` and write ``config.json``. Raises
        :class:`RunFolderError`."""
        try:
            refuse_overwriting_inputs({"the run folder's " + name: self.path / name for name in (RUN_FILE, CONFIG_FILE)},
                                      inputs or {})
            prepare_folder(self.path, "the run folder", needed_bytes, "a checkpoint")
        except OutputError as e:
            raise RunFolderError(str(e)) from None
        self.acquire()
        try:
            self._check_ownership()
            self._start_session(config, session or {})
        except BaseException:
            self.release()
            raise
        return self

    def _check_ownership(self) -> None:
        existing = list_checkpoints(self.path, self.job_name)
        if self.resume_from is not None and same_file(self.resume_from.parent, self.path) and \
                self.resume_iteration is not None:
            named = checkpoint_iteration(self.resume_from, self.job_name)
            if named is not None and named != self.resume_iteration:
                raise RunFolderError(
                    f"{self.resume_from}: its name says iteration {named}, it holds iteration {self.resume_iteration}; "
                    f"continuing in its folder would write checkpoints under names that exist. Rename it, or leave "
                    f"--out_folder out to resume into a new run folder")
        if not existing:
            return
        newest_it, newest = existing[-1]
        if self.resume_from is not None and same_file(self.resume_from, newest):
            return
        if self.resume_from is not None and same_file(self.resume_from.parent, self.path):
            why = (f"resuming {self.resume_from.name} into its own folder would mix a second history with "
                   f"the later checkpoints there (up to {newest.name}) and prune them")
        else:
            why = (f"it holds checkpoints of job {self.job_name!r} (up to {newest.name}) of another run, which "
                   f"a new run would overwrite or mix with")
        raise RunFolderError(
            f"{self.path}: {why}. Leave --out_folder out (a new run gets its own folder "
            f"{self.job_name}/version_N; an earlier checkpoint resumes into a new one beside its run), give "
            f"another --out_folder, or resume from {newest}")

    def _start_session(self, config: Optional[Dict[str, Any]], session: Dict[str, Any]) -> None:
        info = read_run_info(self.path)
        if not info or info.get("job_name") != self.job_name:
            info = {"format": FORMAT, "run_id": self.run_id or new_run_id(), "job_name": self.job_name,
                    "created": _now(), "checkpoints": [], "sessions": []}
            if self.resume_from is not None:
                info["resumed_from"] = str(self.resume_from.resolve())
        self.run_id = info["run_id"]
        info.setdefault("checkpoints", [])
        info.setdefault("sessions", []).append({
            "started": _now(), "host": socket.gethostname(), "pid": os.getpid(), "command": list(sys.argv),
            "resumed_from": str(self.resume_from.resolve()) if self.resume_from is not None else None,
            **session})
        self.info = info
        self._write_info()
        if self._lock_fd is not None:
            self._write_holder()
        if config is not None:
            with atomic_path(self.path / CONFIG_FILE) as tmp:
                tmp.write_text(json.dumps(config, indent=2) + "\n")
        for p in remove_stale_temp_files(self.path, self.job_name):
            print(f"removed {p.name}, a checkpoint left half-written by an earlier run", file=sys.stderr)

    def _write_info(self) -> None:
        with atomic_path(self.path / RUN_FILE) as tmp:
            tmp.write_text(json.dumps(self.info, indent=2) + "\n")

    # ------------------------------------------------------------------ the lock
    def acquire(self) -> None:
        """Take the folder's lock, or raise :class:`RunFolderError` naming the live run that holds it."""
        if self._lock_fd is not None or fcntl is None:
            return
        lock = self.path / LOCK_FILE
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise RunFolderError(f"{lock}: cannot create the run folder's lock ({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunFolderError(
                f"{self.path}: another training run is writing into this folder ({holder}); two runs in one "
                f"folder would overwrite each other's checkpoints. Wait for it to finish or stop it, or train "
                f"into another folder (leave --out_folder out for a new one)") from None
        self._lock_fd = fd
        self._since = _now()
        self._write_holder()

    def _write_holder(self) -> None:
        """Who holds the lock, for the message another run gets."""
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": self._since,
                           "run_id": self.run_id, "command": list(sys.argv)}).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(self._lock_fd, 0)
            os.pwrite(self._lock_fd, text, 0)

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it could let two runs lock two files)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __del__(self):
        try:
            self.release()
        except Exception:   # interpreter shutdown: the process's end lets go of the lock anyway
            pass

    # ------------------------------------------------------------------ checkpoints
    def owned_checkpoints(self) -> List[Tuple[int, Path]]:
        """``(iteration, path)`` of the checkpoints this run wrote that still exist, oldest first."""
        out = []
        for name in self.info.get("checkpoints", []):
            it = checkpoint_iteration(name, self.job_name)
            if it is not None and (self.path / name).is_file():
                out.append((it, self.path / name))
        return sorted(out)

    def record(self, path: PathLike, keep: int = 0) -> List[Path]:
        """Note that this run wrote the checkpoint ``path``; then delete all but the ``keep``
        newest of the checkpoints this run wrote (0 keeps all; files it did not write are never
        touched). Returns the deleted paths."""
        name = Path(path).name
        names = [n for n in self.info.get("checkpoints", []) if n != name] + [name]
        self.info["checkpoints"] = names
        deleted = []
        if keep > 0:
            for _, p in self.owned_checkpoints()[:-keep]:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                deleted.append(p)
            gone = {p.name for p in deleted}
            self.info["checkpoints"] = [n for n in names if n not in gone]
        self._write_info()
        remove_stale_temp_files(self.path, self.job_name)
        return deleted


def _read_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "its process is still running"
    return (f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
            + (f", run {holder['run_id']}" if holder.get("run_id") else ""))


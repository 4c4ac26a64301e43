"""Checkpoint file names: ``<job_name>_<iteration>.pt``, the reference's naming.

The number in the name is the last completed iteration; the file stores the next one to run
(``iteration``), as the reference's files do (see :mod:`.files`). Which of a folder's
checkpoints a run may prune is the run folder's business (:mod:`cnsr.engine.runfolder`).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import List, Optional, Tuple, Union

PathLike = Union[str, os.PathLike]

#: A hidden temporary checkpoint this much older than now is a leftover of a killed writer.
STALE_TEMP_AGE_S = 300.0


def checkpoint_path(folder: PathLike, job_name: str, iteration: int) -> Path:
    """``<folder>/<job_name>_<iteration>.pt``, the reference's naming."""
    return Path(folder) / f"{job_name}_{int(iteration)}.pt"


def checkpoint_iteration(path: PathLike, job_name: str) -> Optional[int]:
    """The iteration in the name of a checkpoint of ``job_name`` (None for another name)."""
    m = re.fullmatch(re.escape(job_name) + r"_(\d+)\.pt", Path(path).name)
    return int(m.group(1)) if m else None


def list_checkpoints(folder: PathLike, job_name: str) -> List[Tuple[int, Path]]:
    """The checkpoints of ``job_name`` in ``folder`` as ``(iteration, path)``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        it = checkpoint_iteration(p, job_name)
        if it is not None and p.is_file():
            found.append((it, p))
    return sorted(found)


def latest_checkpoint(folder: PathLike, job_name: str) -> Optional[Path]:
    """The newest checkpoint of ``job_name`` in ``folder``, or None."""
    found = list_checkpoints(folder, job_name)
    return found[-1][1] if found else None


def remove_stale_temp_files(folder: PathLike, job_name: str, min_age_s: float = STALE_TEMP_AGE_S) -> List[Path]:
    """Delete the hidden temporary files (``.<job_name>_<i>.pt.XXXX.tmp``) that a writer killed
    with SIGKILL (or a power cut) left behind, if not modified for ``min_age_s`` seconds (so
    a write in progress elsewhere is left alone). Returns the deleted paths."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(r"\." + re.escape(job_name) + r"_\d+\.pt\..+\.tmp")
    now, removed = time.time(), []
    for p in folder.iterdir():
        if pattern.fullmatch(p.name):
            try:
                if now - p.stat().st_mtime >= min_age_s and p.is_file():
                    p.unlink()
                    removed.append(p)
            except FileNotFoundError:
                pass
    return removed

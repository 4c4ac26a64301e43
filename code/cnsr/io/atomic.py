"""Writing a file so that it appears whole or not at all.

A reader (another process, or a rerun after a crash or Ctrl-C) must never see a truncated
file under the final name: a dataset generator skips files that exist, a trainer resumes
from the newest checkpoint. So files are written under a hidden temporary name in the same
folder (same file system) and moved into place with ``os.replace`` once complete.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_file(path: Union[str, os.PathLike]) -> None:
    """Flush a written file's data to disk (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike], fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` for the caller to write; when the block ends
    normally it becomes ``path`` (replacing any previous file), otherwise it is removed and a
    previous ``path`` stays as it was. Creates the parent folders. ``fsync``: flush the data to
    disk before the rename (worth it for files that are costly to lose, such as checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp creates 0600: give the usual permissions
        if fsync:
            fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

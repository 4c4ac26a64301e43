"""Where a script writes: checked before the work starts, never over its own inputs.

Every script that writes files calls these first, so that a folder that cannot be written (a
path under a file, a read-only folder, a full disk) is reported at once, naming the path,
instead of after an hour of rendering or training; and so that no output lands on a file the
script reads (a scene file, a config, a checkpoint) or on a file it did not write.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Union

PathLike = Union[str, os.PathLike]


class OutputError(ValueError):
    """An output cannot be written where asked; the message names the path and what to do."""


def _mb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def free_bytes(folder: PathLike) -> int:
    """Free space (for this user) on the file system of ``folder``."""
    return shutil.disk_usage(folder).free


def is_disk_full(e: BaseException) -> bool:
    """Whether an exception is a full disk (or quota)."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def prepare_folder(folder: PathLike, what: str = "--out_folder", needed_bytes: int = 0,
                   needed_for: str = "the output") -> Path:
    """Create ``folder`` (with its parents) and prove it writable by creating and removing a probe
    file; with ``needed_bytes``, check the free space against that estimate. Raises
    :class:`OutputError` naming the folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {folder}: is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".cnsr-probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{what} {folder}: cannot write there ({e.strerror or e})") from None
    if needed_bytes > 0:
        free = free_bytes(folder)
        if free < needed_bytes:
            raise OutputError(f"{what} {folder}: not enough free space for {needed_for}: about "
                              f"{_mb(needed_bytes)} needed, {_mb(free)} free")
    return folder


def prepare_file(path: PathLike, what: str = "--out", needed_bytes: int = 0) -> Path:
    """:func:`prepare_folder` for the folder of the file ``path``, which must not be a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a folder, expected a file name")
    prepare_folder(path.parent if str(path.parent) else Path("."), what, needed_bytes, str(path))
    return path


def refuse_overwriting_inputs(outputs: Mapping[str, PathLike], inputs: Mapping[str, Optional[PathLike]]) -> None:
    """Refuse (:class:`OutputError` naming both) any output that is one of the inputs: the
    same path, or the same file through a link."""
    for out_name, out in outputs.items():
        o = Path(out)
        for in_name, src in inputs.items():
            if src is None:
                continue
            s = Path(src)
            same = os.path.abspath(o) == os.path.abspath(s)
            if not same and o.exists() and s.exists():
                try:
                    same = os.path.samefile(o, s)
                except OSError:
                    same = False
            if same:
                raise OutputError(f"{out_name} {o} would overwrite {in_name} {s}: choose another output name")

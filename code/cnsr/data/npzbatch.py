"""The reference release's dataset format: one ``np.savez_compressed`` file per batch.

Arrays in such a file: one per pass name, ``[B, V, C, H, W]`` float16; ``poses``
``[B, V, 16, 1, 1]`` float16; ``factor`` (an integer scalar). Users hold datasets made by the
paper's release, so we read them as they are; the writer exists for tests, benchmarks and
for exporting to tools that expect the reference layout.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np

from ..passes import PASS_NAMES, channels, check_passes
from .exrbatch import BatchData, DatasetError, PathLike, atomic_target, finish_atomic


def write_batch_npz(path: PathLike, images: Dict[str, np.ndarray], poses: np.ndarray, factor: int) -> None:
    """Write a batch in the reference layout (float16, ``np.savez_compressed``), atomically."""
    path = Path(path)
    check_passes(images, f"{path}: passes")
    first = next(iter(images.values()))
    B, V = first.shape[:2]
    arrays = {name: np.asarray(a, dtype=np.float16) for name, a in images.items()}
    arrays["poses"] = np.asarray(poses, dtype=np.float16).reshape(B, V, 16, 1, 1)
    arrays["factor"] = np.asarray(int(factor))
    tmp = atomic_target(path)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        finish_atomic(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_batch_npz(path: PathLike, passes: Optional[Iterable[str]] = None, dtype=np.float16) -> BatchData:
    """Read a reference ``.npz`` batch, inflating only the given ``passes`` (None = all in the file).

    Returns images as pass -> [B, V, C, H, W] of ``dtype`` and poses as [B, V, 16] float32.
    Raises :class:`DatasetError` naming the file when it is corrupt, truncated or lacks a pass.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            have = [p for p in PASS_NAMES if p in keys]
            wanted = have if passes is None else check_passes(passes, f"{path}: passes")
            for p in wanted:
                if p not in keys:
                    raise DatasetError(f"{path}: pass {p!r} is not in this file (it holds {', '.join(have)})")
            if "poses" not in keys:
                raise DatasetError(f"{path}: no 'poses' array (not a batch in the reference layout)")
            images = {p: np.asarray(z[p], dtype=dtype) for p in wanted}
            poses = np.asarray(z["poses"], dtype=np.float32)
            factor = int(np.asarray(z["factor"]).reshape(-1)[0]) if "factor" in keys else -1
            if factor not in (-1, 0, 1, 2):
                raise DatasetError(f"{path}: 'factor' is {factor}, must be -1, 0, 1 or 2")
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise DatasetError(f"{path}: corrupt or truncated .npz ({type(e).__name__}: {e})") from None
    if poses.ndim < 2:
        raise DatasetError(f"{path}: 'poses' has shape {poses.shape}, expected [B, V, 16, 1, 1]")
    B, V = poses.shape[:2]
    poses = poses.reshape(B, V, -1)
    if poses.shape[2] != 16:
        raise DatasetError(f"{path}: 'poses' has shape {poses.shape}, expected [B, V, 16, 1, 1]")
    for p, a in images.items():
        if a.ndim != 5 or a.shape[:3] != (B, V, channels(p)):
            raise DatasetError(f"{path}: pass {p!r} has shape {a.shape}, expected [{B}, {V}, {channels(p)}, H, W]")
    return BatchData(images=images, poses=poses, factor=factor)


def read_npz_header(path: PathLike) -> Dict[str, object]:
    """What a reference ``.npz`` batch holds without inflating its images: ``passes``, ``factor``
    and the poses' shape (:class:`DatasetError` naming the file when it is damaged)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            factor = int(np.asarray(z["factor"]).reshape(-1)[0]) if "factor" in keys else -1
            poses = tuple(z["poses"].shape) if "poses" in keys else None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, IndexError) as e:
        raise DatasetError(f"{path}: corrupt or truncated .npz ({type(e).__name__}: {e})") from None
    if factor not in (-1, 0, 1, 2):
        raise DatasetError(f"{path}: 'factor' is {factor}, must be -1, 0, 1 or 2")
    if poses is None or len(poses) < 3 or poses[0] < 1 or poses[1] < 2:
        raise DatasetError(f"{path}: 'poses' has shape {poses}, expected [B, V, 16, 1, 1] with B >= 1, V >= 2")
    return {"passes": [p for p in PASS_NAMES if p in keys], "factor": factor, "poses": poses}

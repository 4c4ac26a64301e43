"""Synthetic batch files for the training and loader benchmarks (no renderer needed).

Random images of a config's passes and largest render size in our EXR batch format (what
``generate-dataset.py`` writes; needs the OpenEXR package to write, not to read) or the
reference's ``.npz`` layout. ``unique`` distinct files are written per split; with ``total``
larger, further names link to them (symbolic links), so that one pass over the training
files (an epoch, after which the loader's workers restart their prefetching) is ``total``
batches long without writing gigabytes.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "code") not in sys.path:
    sys.path.insert(0, str(ROOT / "code"))

from cnsr.passes import channels  # noqa: E402


def exr_available() -> bool:
    try:
        import OpenEXR  # noqa: F401
    except ImportError:
        return False
    return True


def write_synthetic_dataset(cfg, folder: Path, unique: int = 3, total: int = 0, fmt: str = "auto",
                            test_files: int = 1) -> Path:
    """Write ``folder/train`` and ``folder/test`` for ``cfg``; returns ``folder``.

    fmt: ``exr`` (ours), ``npz`` (the reference's) or ``auto`` (EXR when OpenEXR is installed).
    """
    from cnsr.data import write_batch_exr, write_batch_npz

    if fmt == "auto":
        fmt = "exr" if exr_available() else "npz"
    rng = np.random.default_rng(0)
    size, views = cfg.max_render_size(), cfg.views_per_scene
    scenes = max(cfg.batch_size, cfg.test_batch_size)
    factors = (0, 1, 2) if cfg.latent_separation else (-1,)
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True, exist_ok=True)
        n = unique if split == "train" else test_files
        for i in range(n):
            images = {p: rng.random((scenes, views, channels(p), size, size), dtype=np.float32).astype(np.float16)
                      for p in cfg.needed_passes()}
            poses = rng.normal(size=(scenes, views, 16)).astype(np.float32)
            path = folder / split / f"batch{i:09d}.{fmt}"
            if fmt == "exr":
                write_batch_exr(path, images, poses, factors[i % len(factors)])
            else:
                write_batch_npz(path, images, poses, factors[i % len(factors)])
        if split == "train":
            for i in range(n, total):
                link = folder / split / f"batch{i:09d}.{fmt}"
                if not link.exists():
                    os.symlink(f"batch{i % n:09d}.{fmt}", link)
    return folder

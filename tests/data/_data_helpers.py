"""Synthetic batches for the data tests (no renderer needed)."""
import numpy as np

from cnsr.passes import PASSES


def synthetic_batch(B=3, V=4, H=8, W=8, passes=None, seed=0):
    """pass -> [B, V, C, H, W] float16 values exactly representable in half, poses [B, V, 16]."""
    rng = np.random.default_rng(seed)
    names = list(PASSES) if passes is None else list(passes)
    images = {p: (rng.integers(-2048, 2048, size=(B, V, PASSES[p], H, W)) / 256.0).astype(np.float16)
              for p in names}
    poses = rng.standard_normal((B, V, 16)).astype(np.float32)
    return images, poses

"""Random state of a training run: seeding, the per-iteration generator, and the state a
checkpoint carries so that a resumed run draws what an uninterrupted one would."""
from __future__ import annotations

import random
from typing import Any, Dict, Mapping

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def iteration_generator(seed: int, iteration: int, rank: int = 0) -> torch.Generator:
    """A CPU generator that depends only on (seed, iteration, rank): the per-batch choices are
    reproducible after a resume without storing any state."""
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(iteration) * 7_919 + int(rank) * 104_729) % (2 ** 63 - 1))
    return g


def capture_rng_state() -> Dict[str, Any]:
    """The state of every random generator a training step draws from.

    NumPy's state is stored as plain lists/tensors so that the file loads with
    ``torch.load(weights_only=True)``.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def rng_state_problem(state: Any) -> str:
    """What is wrong with a stored RNG state (``''`` when :func:`restore_rng_state` can use it)."""
    if not isinstance(state, Mapping):
        return f"expected a dict, got {type(state).__name__}"
    py = state.get("python")
    if py is not None and not (isinstance(py, (tuple, list)) and len(py) == 3 and isinstance(py[1], (tuple, list))
                               and len(py[1]) == 625 and all(isinstance(x, int) for x in py[1])):
        return "'python' is not a Python random state (version, 625 integers, gauss)"
    npy = state.get("numpy")
    if npy is not None:
        keys = npy.get("keys") if isinstance(npy, Mapping) else None
        n = keys.numel() if torch.is_tensor(keys) else len(keys) if isinstance(keys, (list, tuple)) else -1
        if n != 624 or not all(k in npy for k in ("name", "pos", "has_gauss", "cached_gaussian")):
            return "'numpy' is not a NumPy random state (624 keys, pos, has_gauss, cached_gaussian)"
    t = state.get("torch")
    if t is not None and not (torch.is_tensor(t) and t.dtype == torch.uint8 and t.dim() == 1):
        return "'torch' is not a torch random state (a uint8 tensor)"
    cuda = state.get("cuda")
    if cuda is not None and not (isinstance(cuda, (list, tuple)) and all(torch.is_tensor(c) for c in cuda)):
        return "'cuda' is not a list of CUDA random states"
    return ""


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        s = state["numpy"]
        keys = np.asarray(s["keys"].numpy() if torch.is_tensor(s["keys"]) else s["keys"], dtype=np.uint32)
        np.random.set_state((s["name"], keys, int(s["pos"]), int(s["has_gauss"]), float(s["cached_gaussian"])))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)

"""Network inputs from a batch's pass dicts.

The passes a network reads are concatenated along channels in config order and resized
(nearest) to the network's render size. ``indirect`` is clamped to >= 0 (it is ``beauty -
direct`` and can go negative with noise); when ``roughness`` is among the passes, the mirror
passes are zeroed where roughness > 0.75 (no meaningful mirror reflection on rough surfaces).
The pass dicts are never modified.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch
import torch.nn.functional as F

from ..passes import MIRROR_PASSES, ROUGH_THRESHOLD, channels


def _prepared(pass_dict: Dict[str, torch.Tensor], name: str, passes: Sequence[str]) -> torch.Tensor:
    try:
        t = pass_dict[name]
    except KeyError:
        raise KeyError(f"the batch has no {name!r} pass (it has: {', '.join(pass_dict)})") from None
    if name == "indirect":
        t = t.clamp(min=0)
    elif name in MIRROR_PASSES and "roughness" in passes:
        t = torch.where(pass_dict["roughness"] > ROUGH_THRESHOLD, torch.zeros_like(t), t)
    return t


def _resize(t: torch.Tensor, size: int) -> torch.Tensor:
    if t.shape[-2:] == (size, size):
        return t
    return F.interpolate(t, size=(size, size), mode="nearest")


def query_tensor(pass_dict: Dict[str, torch.Tensor], passes: Sequence[str], size: int,
                 like: torch.Tensor = None) -> torch.Tensor:
    """Concatenate ``passes`` of a dict of [B, C, H, W] tensors -> [B, sum C, size, size].

    With no passes returns an empty [B, 0, size, size] tensor (B, dtype, device from ``like``
    or the first tensor of the dict).
    """
    if not passes:
        ref = like if like is not None else next(iter(pass_dict.values()))
        return ref.new_zeros(ref.shape[0], 0, size, size)
    ts = [_prepared(pass_dict, n, passes) for n in passes]
    for n, t in zip(passes, ts):
        if t.dim() != 4 or t.shape[1] != channels(n):
            raise ValueError(f"pass {n!r}: expected [B, {channels(n)}, H, W], got {list(t.shape)}")
    x = ts[0] if len(ts) == 1 else torch.cat(ts, dim=1)
    return _resize(x, size)


def observation_tensor(pass_dict: Dict[str, torch.Tensor], passes: Sequence[str], size: int) -> torch.Tensor:
    """Concatenate ``passes`` of a dict of [B, N, C, H, W] tensors -> [B, N, sum C, size, size]."""
    ref = next(iter(pass_dict.values()))
    b, n = ref.shape[:2]
    if not passes:
        return ref.new_zeros(b, n, 0, size, size)
    flat = {k: v.reshape(b * n, *v.shape[2:]) for k, v in pass_dict.items()
            if k in passes or k == "roughness"}
    x = query_tensor(flat, passes, size)
    return x.reshape(b, n, *x.shape[1:])


def split_passes(t: torch.Tensor, passes: Sequence[str]) -> Dict[str, torch.Tensor]:
    """Inverse of the concatenation: [B, sum C, H, W] -> dict pass -> [B, C, H, W] (views)."""
    out, c = {}, 0
    for n in passes:
        k = channels(n)
        out[n] = t[:, c:c + k]
        c += k
    return out

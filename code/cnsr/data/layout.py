"""The training batch layout and moving batches to a device: one home for both.

Every producer of training batches (dataset files, on-the-fly rendering, compositing, the
viewer, evaluation) cuts its ``[B, V, ...]`` arrays into this layout with :func:`split_views`,
and every consumer moves them with :func:`batch_to_device` (docs/ARCHITECTURE.md)::

    observation_images {pass: [B, N, C, H, W]}   the first N views of each scene
    observation_poses  [B, N, 16, 1, 1]
    query_images       {pass: [B, C, H, W]}      the last view (the query view)
    query_poses        [B, 16, 1, 1]
    factor             int (0 lighting, 1 geometry, 2 material, -1 all random)

Input conditioning is applied once, when the layout is made: ``indirect`` is clamped to >= 0
and, when ``roughness`` is present, the mirror passes are zeroed where roughness > 0.75 (both
as the reference; :mod:`cnsr.models.inputs` applies the same idempotent rules to whatever it
is given; the two constants live in :mod:`cnsr.passes`).
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Mapping, Sequence, Union

import numpy as np
import torch

from ..passes import MIRROR_PASSES, ROUGH_THRESHOLD  # the same conditioning rules as the model

Batch = Dict[str, Any]


def condition_inputs(images: Dict[str, np.ndarray]) -> None:
    """In place: clamp ``indirect`` to >= 0; zero the mirror passes where roughness > 0.75."""
    if "indirect" in images:
        np.maximum(images["indirect"], 0, out=images["indirect"])
    rough = images.get("roughness")
    if rough is not None:
        mask = rough > ROUGH_THRESHOLD          # [..., 1, H, W] broadcasts over 3 channels
        for name in MIRROR_PASSES:
            if name in images:
                np.putmask(images[name], np.broadcast_to(mask, images[name].shape), 0)


def _copy_into(out: torch.Tensor, a: np.ndarray) -> None:
    """Copy (and convert) ``a``, any strided view, into the tensor ``out`` of the same shape.

    torch's ``copy_`` converts float16 -> float32 from a strided view (e.g. onto a mapped batch
    file) with vectorised code in one pass; NumPy's half conversion measured 3-5x slower here.
    Tensors cannot have negative strides, and our files' RGB passes have them (channels are
    stored sorted by name, B, G, R), so such an axis is copied one index at a time."""
    neg = next((i for i, s in enumerate(a.strides) if s < 0), None)
    if neg is None:
        out.copy_(torch.from_numpy(a))
        return
    index = [slice(None)] * a.ndim
    for i in range(a.shape[neg]):
        index[neg] = i
        _copy_into(out.select(neg, i), a[tuple(index)])


def _new_tensors(shapes: Sequence[Sequence[int]], dtype: torch.dtype) -> List[torch.Tensor]:
    """New contiguous ``dtype`` tensors of the given shapes, for one batch.

    In a loader worker process they share one block of shared memory, so that handing the
    batch over to the training process sends one handle instead of copying every tensor into
    shared memory (torch's own collate does the same); elsewhere they are ordinary tensors."""
    if torch.utils.data.get_worker_info() is None:
        return [torch.empty(tuple(s), dtype=dtype) for s in shapes]
    itemsize = torch.empty(0, dtype=dtype).element_size()
    sizes = [int(np.prod(s)) * itemsize for s in shapes]
    starts = np.cumsum([0] + [-(-n // 64) * 64 for n in sizes])   # 64-byte aligned
    memory = torch.empty(0, dtype=torch.uint8).set_(torch.UntypedStorage._new_shared(int(starts[-1])))
    return [memory[int(o):int(o) + n].view(dtype).view(tuple(s)) for o, n, s in zip(starts, sizes, shapes)]


def split_views(images: Mapping[str, np.ndarray], poses: np.ndarray, factor: int, n_obs: int,
                dtype=torch.float32) -> Batch:
    """[B, V, ...] arrays (or strided views onto a file) -> the training batch layout: the first
    ``n_obs`` views observe, the last one is the query. ``poses``: [B, V, 16] (any shape that
    reshapes to it). Each tensor is made by exactly one copy that also converts float16 ->
    float32, so a batch costs little beyond reading its bytes. Input conditioning
    (:func:`condition_inputs`) is applied to the copies; the inputs are left unchanged."""
    B = poses.shape[0]
    poses = np.asarray(poses, dtype=np.float32).reshape(B, -1, 16)
    sources = [a[:, :n_obs] for a in images.values()] + [a[:, -1] for a in images.values()]
    sources += [poses[:, :n_obs], poses[:, -1]]
    out = _new_tensors([a.shape for a in sources], dtype)
    with warnings.catch_warnings():
        # views onto a read-only mapped file: torch warns, but they are only read from
        warnings.simplefilter("ignore", UserWarning)
        for t, a in zip(out, sources):
            _copy_into(t, a)
    n = len(images)
    obs, query = dict(zip(images, out[:n])), dict(zip(images, out[n:2 * n]))
    condition_inputs({p: t.numpy() for p, t in obs.items()})      # in place, through NumPy views
    condition_inputs({p: t.numpy() for p, t in query.items()})
    return {
        "observation_images": obs,
        "observation_poses": out[-2].reshape(B, n_obs, 16, 1, 1),
        "query_images": query,
        "query_poses": out[-1].reshape(B, 16, 1, 1),
        "factor": int(factor),
    }


def batch_to_device(batch: Mapping[str, Any], device: Union[str, torch.device], to_float: bool = True,
                    channels_last: bool = False) -> Batch:
    """Move every tensor of a batch (nested dicts included) to ``device``, non-blocking (from
    pinned memory); floating tensors as float32 if ``to_float``; 4-D tensors in channels-last
    memory format if ``channels_last``. Other values (the factor) are kept as they are."""
    device = torch.device(device)

    def move(x):
        if torch.is_tensor(x):
            x = x.to(device, non_blocking=True)
            if to_float and x.is_floating_point():
                x = x.float()
            if channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            return x
        if isinstance(x, Mapping):
            return {k: move(v) for k, v in x.items()}
        return x
    return {k: move(v) for k, v in batch.items()}

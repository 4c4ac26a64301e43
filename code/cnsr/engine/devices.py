"""Devices: choosing one (and checking that it exists before work starts), and moving a model there."""
from __future__ import annotations

from typing import Callable, Union

import torch

DeviceLike = Union[None, str, torch.device]


class DeviceError(ValueError):
    """A device was asked for that this machine does not have (or a name torch does not know)."""


def resolve_device(device: DeviceLike = None) -> torch.device:
    """``device`` as given, else the first GPU when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def check_device(device: DeviceLike = None, what: str = "--device") -> torch.device:
    """:func:`resolve_device`, refusing a device that does not exist here with a
    :class:`DeviceError` that says which exist (``cuda`` without CUDA, ``cuda:3`` on a machine
    with one GPU, a misspelt name)."""
    try:
        dev = resolve_device(device)
    except (RuntimeError, ValueError) as e:
        raise DeviceError(f"{what} {device}: not a device name ({str(e).splitlines()[0]}); "
                          f"use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"{what} {device}: this machine has no CUDA device (torch "
                              f"{torch.__version__}{'' if torch.version.cuda else ', a CPU-only build'}); "
                              f"use --device cpu")
        if dev.index is not None and dev.index >= count:
            raise DeviceError(f"{what} {device}: this machine has {count} CUDA device(s), "
                              f"cuda:0{f' .. cuda:{count - 1}' if count > 1 else ''}")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError(f"{what} {device}: MPS is not available on this machine; use --device cpu")
    elif dev.type != "cpu":
        raise DeviceError(f"{what} {device}: cnsr runs on cpu or cuda devices")
    return dev


def convert_tensors(model: torch.nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.nn.Module:
    """Apply ``fn`` to every parameter (in place, keeping the Parameter objects) and buffer.

    What ``Module.to`` does, written out so that it does not depend on submodules leaving
    ``nn.Module._apply`` alone.
    """
    with torch.no_grad():
        for p in model.parameters():
            p.data = fn(p.data)
        for m in model.modules():
            for k, b in m._buffers.items():
                if b is not None:
                    m._buffers[k] = fn(b)
    return model


def move_to(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model.to(device)``; nothing to do when every tensor is already there (the CPU case)."""
    device = torch.device(device)
    tensors = list(model.parameters()) + list(model.buffers())
    if all(t.device == device or (device.index is None and t.device.type == device.type) for t in tensors):
        return model
    return convert_tensors(model, lambda t: t.to(device))


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """4-D parameters (convolution weights) in channels-last memory format."""
    return convert_tensors(model, lambda t: t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DDP/DataParallel/``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
            model = model.module
        else:
            return model

"""OpenEXR reading and writing of pass dictionaries with the project's channel naming.

A pass ``name`` with 3 channels is stored as ``name.R``, ``name.G``, ``name.B``; a 1-channel
pass as ``name.Y`` (:func:`cnsr.passes.exr_channel_names`). Names outside the pass table are
allowed too (1, 3 or 4 channels -> ``.Y`` / ``.R.G.B`` / ``.R.G.B.A``, others ``.0, .1, ...``).
Files are written atomically (temporary file in the same folder, then ``os.replace``), so a
crashed writer never leaves a truncated file under the final name. Extra header attributes
(strings, ints, floats, float vectors such as poses) round-trip through ``attrs``.

``default_layer``: one pass written a second time as the file's unnamed default layer (plain
``R``, ``G``, ``B``, or ``Y`` for a one-channel pass), which is what EXR viewers and tools
show when they open a file (tev, Blender, Mitsuba, OpenEXR's own tools): render outputs name
their ``beauty``. The header attribute ``cnsr.default_layer`` records which pass it copies, so
:func:`read_exr` returns the passes without the copy.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Union

import numpy as np

from ..passes import PASSES, exr_channel_names
from .atomic import atomic_path

PathLike = Union[str, os.PathLike]

COMPRESSIONS = ("none", "zip", "zips", "piz", "rle", "pxr24", "b44", "dwaa", "dwab")
#: Attributes every EXR header has; ``read_exr_attrs`` leaves them out.
STANDARD_ATTRIBUTES = frozenset({"channels", "compression", "dataWindow", "displayWindow", "lineOrder",
                                 "pixelAspectRatio", "screenWindowCenter", "screenWindowWidth", "type"})
_SUFFIXES = {1: ("Y",), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}
_ORDER = {"R": 0, "G": 1, "B": 2, "A": 3, "Y": 0}
#: header attribute naming the pass that the unnamed default layer copies
DEFAULT_LAYER_ATTR = "cnsr.default_layer"
#: channel names of the unnamed default layer
_DEFAULT_CHANNELS = {1: ("Y",), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}


def channel_names(name: str, nchannels: int) -> List[str]:
    """EXR channel names of a pass (project naming for known passes)."""
    if name in PASSES:
        names = exr_channel_names(name)
        if len(names) != nchannels:
            raise ValueError(f"pass {name!r} has {PASSES[name]} channels, got an array with {nchannels}")
        return names
    suffixes = _SUFFIXES.get(nchannels, tuple(str(i) for i in range(nchannels)))
    return [f"{name}.{s}" for s in suffixes]


def write_exr(path: PathLike, passes: Mapping[str, np.ndarray], half: bool = True,
              attrs: Optional[Mapping[str, object]] = None, compression: str = "zip",
              default_layer: Optional[str] = None) -> Path:
    """Write {name: (H, W, C) or (H, W) array} as one multi-channel scanline EXR, atomically.

    half: store float16 (default) or float32. attrs: extra header attributes (str, int, float,
    or a 1-D float array / list, e.g. a 16-float pose). compression: one of ``COMPRESSIONS``.
    default_layer: a pass of ``passes`` (1, 3 or 4 channels) also written as the unnamed
    default layer ``R, G, B`` / ``Y`` (module docstring). Returns the path written.
    """
    import OpenEXR

    path = Path(path)
    if not passes:
        raise ValueError(f"{path}: nothing to write (no passes)")
    comp = compression.lower()
    if comp not in COMPRESSIONS:
        raise ValueError(f"unknown EXR compression {compression!r}; one of {', '.join(COMPRESSIONS)}")
    dtype = np.float16 if half else np.float32
    chans: Dict[str, np.ndarray] = {}
    hw = None
    for name, arr in passes.items():
        a = np.asarray(arr)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(f"{path}: pass {name!r} must be (H, W, C) or (H, W), got shape {a.shape}")
        if hw is None:
            hw = a.shape[:2]
        elif a.shape[:2] != hw:
            raise ValueError(f"{path}: pass {name!r} is {a.shape[:2]}, the others {hw}")
        if half:
            a = np.clip(a, -65504.0, 65504.0)  # keep out-of-range values finite in half
        for c, cname in enumerate(channel_names(name, a.shape[2])):
            chans[cname] = np.ascontiguousarray(a[:, :, c], dtype=dtype)
        if name == default_layer:
            if a.shape[2] not in _DEFAULT_CHANNELS:
                raise ValueError(f"{path}: default layer {name!r} has {a.shape[2]} channels; "
                                 f"it needs 1, 3 or 4")
            for c, cname in enumerate(_DEFAULT_CHANNELS[a.shape[2]]):
                chans[cname] = chans[channel_names(name, a.shape[2])[c]]
    if default_layer is not None and default_layer not in passes:
        raise ValueError(f"{path}: default layer {default_layer!r} is not one of the passes "
                         f"({', '.join(passes)})")
    header = {"compression": getattr(OpenEXR, f"{comp.upper()}_COMPRESSION" if comp != "none" else "NO_COMPRESSION"),
              "type": OpenEXR.scanlineimage}
    for key, value in (attrs or {}).items():
        header[str(key)] = _attr_value(key, value)
    if default_layer is not None:
        header[DEFAULT_LAYER_ATTR] = str(default_layer)
    with atomic_path(path) as tmp:
        OpenEXR.File(header, chans).write(str(tmp))
    return path


def _attr_value(key, value):
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    a = np.asarray(value)
    if a.dtype.kind in "iuf" and a.ndim >= 1:
        return np.ascontiguousarray(a.reshape(-1), dtype=np.float32)
    raise TypeError(f"EXR attribute {key!r}: unsupported value {value!r}")


def _group_channels(names: Iterable[str]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = {}
    for n in names:
        groups.setdefault(n.rpartition(".")[0] or n, []).append(n)
    for base, lst in groups.items():
        lst.sort(key=lambda n: (_ORDER.get(n.rpartition(".")[2], 10), n))
    return groups


def read_exr(path: PathLike, passes: Optional[Iterable[str]] = None) -> Dict[str, np.ndarray]:
    """Read passes from an EXR as {name: float32 (H, W, C)}. ``passes=None`` reads every channel
    group (``beauty.R/G/B`` -> ``beauty``), except an unnamed default layer that copies a pass
    (``write_exr(default_layer=...)``); asking for a missing pass raises KeyError naming it."""
    import OpenEXR

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such EXR file")
    try:
        with OpenEXR.File(str(path), separate_channels=True) as f:
            chans = {k: np.array(v.pixels) for k, v in f.channels().items()}
            copied = f.header().get(DEFAULT_LAYER_ATTR)
    except Exception as e:  # the binding raises plain Exceptions for corrupt files
        raise OSError(f"{path}: cannot read EXR: {e}") from None
    groups = _group_channels(chans)
    if passes is None:
        wanted = list(groups)
        if copied in groups:
            wanted = [g for g in wanted if g not in ("R", "G", "B", "A", "Y")]
    else:
        wanted = list(passes)
    out: Dict[str, np.ndarray] = {}
    for name in wanted:
        if name not in groups:
            raise KeyError(f"{path}: no pass {name!r} in the file; it has {', '.join(sorted(groups))}")
        out[name] = np.stack([np.asarray(chans[c], dtype=np.float32) for c in groups[name]], axis=-1)
    return out


def read_exr_attrs(path: PathLike) -> Dict[str, object]:
    """The non-standard header attributes of an EXR (what ``write_exr(attrs=...)`` stored)."""
    import OpenEXR

    out = {}
    with OpenEXR.File(str(path), header_only=True) as f:  # the header dict is cleared on close
        for k, v in f.header().items():
            if k in STANDARD_ATTRIBUTES:
                continue
            out[k] = np.asarray(v, dtype=np.float32) if isinstance(v, (list, tuple, np.ndarray)) else v
    return out


def read_exr_image(path: PathLike) -> np.ndarray:
    """An EXR as one (H, W, 3) float32 image: its default layer (R, G, B or Y channels, or the pass
    it copies), else the first pass."""
    data = read_exr(path)
    copied = read_exr_attrs(path).get(DEFAULT_LAYER_ATTR)
    if copied in data:
        img = data[copied]
        return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img[..., :3]
    if "R" in data and "G" in data and "B" in data:  # plain RGB files: channels named R, G, B
        return np.concatenate([data["R"], data["G"], data["B"]], axis=-1)
    if "Y" in data:
        return np.repeat(data["Y"], 3, axis=-1)
    img = next(iter(data.values()))
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return img[..., :3]

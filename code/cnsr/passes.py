"""The G-buffer pass table: the one source of truth for pass names and channel counts.

Every part of the project (renderer bindings, dataset I/O, models, viewers) takes pass
names and channel counts from here. The C++ renderer carries its own copy of the names for
its semantics; ``tests/render/test_passes.py`` checks that the two agree.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

#: name -> number of channels, in the canonical order used everywhere (files, buffers).
PASSES: Dict[str, int] = {
    "beauty": 3,
    "position": 3,
    "normal": 3,
    "depth": 1,
    "id": 1,
    "albedo": 3,
    "roughness": 1,
    "direct": 3,
    "indirect": 3,
    "diffuse": 3,
    "specular": 3,
    "mirror": 3,
    "mirror_hit": 3,
    "mirror_normal": 3,
    "shadows": 1,
    "ao": 1,
}

PASS_NAMES: Tuple[str, ...] = tuple(PASSES)

#: Passes computed by path tracing (noisy); the rest are geometric G-buffer passes.
SHADING_PASSES: Tuple[str, ...] = ("beauty", "direct", "indirect", "diffuse", "specular")

#: Input conditioning (the reference's rules, applied by the loader and again by the model):
#: the mirror passes are zeroed where ``roughness`` exceeds ROUGH_THRESHOLD.
MIRROR_PASSES: Tuple[str, ...] = ("mirror", "mirror_hit", "mirror_normal")
ROUGH_THRESHOLD = 0.75

_RGB = ("R", "G", "B")


def channels(name: str) -> int:
    """Number of channels of pass ``name`` (1 or 3)."""
    try:
        return PASSES[name]
    except KeyError:
        raise KeyError(f"unknown pass {name!r}; known passes: {', '.join(PASS_NAMES)}") from None


def check_passes(names: Iterable[str], what: str = "passes") -> List[str]:
    """Validate a list of pass names, returning it as a list; raises ValueError naming the bad one."""
    out = list(names)
    for n in out:
        if n not in PASSES:
            raise ValueError(f"{what}: unknown pass {n!r}; known passes: {', '.join(PASS_NAMES)}")
    return out


def total_channels(names: Iterable[str]) -> int:
    """Sum of the channel counts of ``names`` (the ``x_dim`` of a network input)."""
    return sum(channels(n) for n in names)


def exr_channel_names(name: str) -> List[str]:
    """EXR channel names of a pass: ``<pass>.R/.G/.B`` for 3-channel, ``<pass>.Y`` for 1-channel passes."""
    c = channels(name)
    return [f"{name}.Y"] if c == 1 else [f"{name}.{s}" for s in _RGB]

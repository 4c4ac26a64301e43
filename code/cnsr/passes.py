"""The G-buffer pass table: the one source of truth for what the passes are.

Every part of the project (renderer bindings, dataset I/O, config rules, models, display,
viewers) takes pass names, channel counts and what follows from a pass's kind from
:data:`PASS_TABLE`: a new pass is one row here (and its semantics in the C++ renderer). The
C++ renderer carries its own copy of the names, channel counts and shading flags;
``tests/render/test_passes.py`` checks that the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple


@dataclass(frozen=True)
class PassInfo:
    """What the system needs to know about one pass.

    ``channels``: 1 or 3. ``display``: how :func:`cnsr.io.preview.display` shows it (``radiance``:
    Reinhard + sRGB; ``albedo``: clipped, sRGB; ``direction``: [-1, 1] -> [0, 1]; ``position``:
    min-max per image; ``depth``: near bright; ``id``: a palette; ``grey``: clipped to [0, 1]).
    ``signed``: may hold negative values (coordinates, directions), on which a log loss
    (log1p of the target) is NaN. ``shading``: computed by path tracing (noisy; the renderer
    runs its estimators only when such a pass is asked for); the others are geometric G-buffer
    passes.
    """
    channels: int
    display: str
    signed: bool = False
    shading: bool = False


#: name -> PassInfo, in the canonical order used everywhere (files, buffers, the renderer's table).
PASS_TABLE: Dict[str, PassInfo] = {
    "beauty": PassInfo(3, "radiance", shading=True),
    "position": PassInfo(3, "position", signed=True),
    "normal": PassInfo(3, "direction", signed=True),
    "depth": PassInfo(1, "depth"),
    "id": PassInfo(1, "id"),
    "albedo": PassInfo(3, "albedo"),
    "roughness": PassInfo(1, "grey"),
    "direct": PassInfo(3, "radiance", shading=True),
    "indirect": PassInfo(3, "radiance", shading=True),
    "diffuse": PassInfo(3, "radiance", shading=True),
    "specular": PassInfo(3, "radiance", shading=True),
    "mirror": PassInfo(3, "direction", signed=True),
    "mirror_hit": PassInfo(3, "position", signed=True),
    "mirror_normal": PassInfo(3, "direction", signed=True),
    "shadows": PassInfo(1, "grey"),
    "ao": PassInfo(1, "grey"),
}

#: name -> number of channels, in the canonical order.
PASSES: Dict[str, int] = {name: p.channels for name, p in PASS_TABLE.items()}

PASS_NAMES: Tuple[str, ...] = tuple(PASSES)

#: Passes computed by path tracing (noisy); the rest are geometric G-buffer passes.
SHADING_PASSES: Tuple[str, ...] = tuple(n for n, p in PASS_TABLE.items() if p.shading)

#: Passes with negative values (coordinates, directions): a log loss (log1p of the target) is NaN on them.
SIGNED_PASSES: Tuple[str, ...] = tuple(n for n, p in PASS_TABLE.items() if p.signed)

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

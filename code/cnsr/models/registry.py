"""Registries of the components a config names: encoders, generators (with their settings), losses.

Each component registers itself where it is defined::

    @dataclass
    class PixelSettings(Settings):
        layers: int = setting(8, "hidden 1x1-conv layers after the input layer", min=0)

    @register_generator("PixelCNN", settings=PixelSettings)
    class PixelGenerator(ImageGenerator):
        @classmethod
        def from_config(cls, settings, io, previous): ...

and :mod:`cnsr.config` derives the type names, the settings' keys, types, defaults and
constraints, and the loss names from these tables.

This module imports no torch, so that ``import cnsr.config`` (which the scene randomizers and
dataset tools use) stays light; the package's own components are imported on the first lookup.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

#: Modules whose import registers the package's own components.
BUILTIN_MODULES = ("cnsr.models.losses", "cnsr.models.encoders", "cnsr.models.generators")


class SettingError(ValueError):
    """A setting is invalid; ``key`` is its name (``channels[2]`` for a list item)."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


# ---------------------------------------------------------------------- settings
def setting(default: Any, doc: str, *, min: Optional[float] = None,
            choices: Optional[Sequence[str] | Callable[[], Sequence[str]]] = None,
            noun: Optional[str] = None, ours: bool = False):
    """A settings field: its default, one line of documentation and its constraints.

    ``min`` applies to a number or to every item of a list of numbers; ``choices`` (a sequence
    or a function returning one, looked up at validation time) to a string or every item of a
    list of strings, named ``noun`` in errors. ``ours``: not a key of the reference release.
    A list default is copied for each instance.
    """
    meta = {"doc": doc, "min": min, "choices": choices, "noun": noun, "ours": ours}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def loss_setting(default: List[str], doc: str = "image losses, summed (see cnsr.models.losses)"):
    """The ``loss`` setting: a list of names from the loss table."""
    return setting(default, doc, choices=loss_names, noun="loss")


@dataclass
class Settings:
    """Base class of a generator's typed ``settings`` (one dataclass per generator type).

    Field constraints (``setting(min=..., choices=...)``) are checked by :meth:`validate`;
    subclasses add checks that involve several fields or the generator's entry in the config
    (``spec``: its ``render_size``, passes...; ``position``: its index in the chain) in
    :meth:`check`, raising :class:`SettingError`.
    """

    def validate(self, spec: Any = None, position: int = 0) -> None:
        check_fields(self)
        self.check(spec, position)

    def check(self, spec: Any, position: int) -> None:
        """Checks beyond single fields; raise ``SettingError(key, problem)``. ``spec`` is the
        generator's :class:`~cnsr.config.GeneratorConfig` (None when checked outside a config)."""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def check_fields(obj: Any) -> None:
    """Check every field of a dataclass instance against its ``min`` / ``choices`` metadata."""
    for f in dataclasses.fields(obj):
        lo, choices = f.metadata.get("min"), f.metadata.get("choices")
        if lo is None and choices is None:
            continue
        value = getattr(obj, f.name)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        if callable(choices):
            choices = choices()
        for i, v in items:
            key = f.name if i is None else f"{f.name}[{i}]"
            if v is None:
                continue
            if lo is not None and v < lo:
                raise SettingError(key, f"must be >= {lo}, got {v!r}")
            if choices is not None and v not in choices:
                noun = f.metadata.get("noun") or f.name
                raise SettingError(key, f"unknown {noun} {v!r}; one of {', '.join(map(str, choices))}")


# ---------------------------------------------------------------------- generators
@dataclass(frozen=True)
class GeneratorIO:
    """What a generator is built for: channels of its inputs and outputs, its image size."""
    x_dim: int                      # channels of the concatenated query passes
    r_dim: int                      # channels of the concatenated representations it reads
    out_dim: int                    # channels of the concatenated output passes
    v_dim: int                      # pose dimensionality (model.pose_dim)
    render_size: int
    query_channels: Tuple[int, ...]  # channels of each query pass, in order


@dataclass(frozen=True)
class GeneratorEntry:
    name: str
    settings: type                  # a Settings dataclass
    #: (settings, io: GeneratorIO, previous: the generators built so far) -> nn.Module
    build: Callable[..., Any]
    cls: Any = None                 # the registered class (None for a build function)


_GENERATORS: Dict[str, GeneratorEntry] = {}


def register_generator(name: str, settings: type):
    """Class (or build-function) decorator: ``name`` is the config's ``type``.

    A class must provide ``from_config(settings, io, previous)``; a function has that
    signature itself (e.g. ``Copy`` returns an earlier generator).
    """
    if not (dataclasses.is_dataclass(settings) and issubclass(settings, Settings)):
        raise TypeError(f"generator {name!r}: settings must be a Settings dataclass, got {settings!r}")

    def deco(obj):
        if name in _GENERATORS:
            raise ValueError(f"a generator named {name!r} is registered already")
        is_class = isinstance(obj, type)
        if is_class and not callable(getattr(obj, "from_config", None)):
            raise TypeError(f"generator {name!r}: {obj.__name__} needs a from_config(settings, io, previous) classmethod")
        build = obj.from_config if is_class else obj
        _GENERATORS[name] = GeneratorEntry(name, settings, build, obj if is_class else None)
        return obj
    return deco


def unregister_generator(name: str) -> None:
    """Remove a generator type (for tests and plug-ins)."""
    del _GENERATORS[name]


def generators() -> Dict[str, GeneratorEntry]:
    """Generator type name -> entry, in registration order."""
    load_builtins()
    return dict(_GENERATORS)


def generator_types() -> Tuple[str, ...]:
    return tuple(generators())


# ---------------------------------------------------------------------- encoders
_ENCODERS: Dict[str, type] = {}


def register_encoder(name: str):
    """Class decorator: ``name`` is the config's ``representations[i].type``."""
    def deco(cls):
        if name in _ENCODERS:
            raise ValueError(f"an encoder named {name!r} is registered already")
        _ENCODERS[name] = cls
        return cls
    return deco


def encoders() -> Dict[str, type]:
    load_builtins()
    return dict(_ENCODERS)


def encoder_types() -> Tuple[str, ...]:
    return tuple(encoders())


# ---------------------------------------------------------------------- losses
@dataclass(frozen=True)
class LossEntry:
    name: str
    function: Callable[..., Any]     # (Y, y, iteration) -> scalar tensor
    log_space: bool                  # compares Y with log1p(y): the generator predicts log1p values


_LOSSES: Dict[str, LossEntry] = {}


def register_loss(name: str, log_space: bool):
    """Function decorator: ``name`` is an entry of a generator's ``settings.loss``."""
    def deco(fn):
        if name in _LOSSES:
            raise ValueError(f"a loss named {name!r} is registered already")
        _LOSSES[name] = LossEntry(name, fn, log_space)
        return fn
    return deco


def losses() -> Dict[str, LossEntry]:
    load_builtins()
    return dict(_LOSSES)


def loss_names() -> Tuple[str, ...]:
    return tuple(losses())


# ---------------------------------------------------------------------- loading
_loaded = False


def load_builtins() -> None:
    """Import the package's components once so that they register themselves."""
    global _loaded
    if _loaded:
        return
    _loaded = True   # first, so that lookups while these modules import do not recurse
    try:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)   # lazy: these import torch (see the module docstring)
    except BaseException:
        _loaded = False
        raise

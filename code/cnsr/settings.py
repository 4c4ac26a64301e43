"""Typed settings of the components a config names: one dataclass beside each component's class.

A component's settings are a :class:`Settings` dataclass whose fields carry their default, one
line of documentation and their constraints::

    @dataclass
    class PixelSettings(Settings):
        layers: int = setting(8, "hidden 1x1-conv layers after the input layer", min=0)

:mod:`cnsr.config` reads the keys, types, defaults and constraints from these dataclasses (a
config's ``settings`` object of a generator or an encoder becomes one), so no list of keys is
written twice. Checks across fields, or against the component's entry in the config, go in
:meth:`Settings.check`, which raises :class:`SettingError`; the config turns it into an error
naming the file and the key.

Torch-free, like everything in this layer (the scene and dataset tools validate configs too).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence


class SettingError(ValueError):
    """A setting is invalid; ``key`` is its name (``channels[2]`` for a list item).

    ``of_entry``: the key is one of the component's entry in the config (``render_size``,
    ``query_passes``...) that its type constrains, not one of its ``settings``.
    """

    def __init__(self, key: str, problem: str, *, of_entry: bool = False):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem, self.of_entry = key, problem, of_entry


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


@dataclass
class Settings:
    """Base class of a component's typed ``settings`` (one dataclass per encoder or generator type).

    Field constraints (``setting(min=..., choices=...)``) are checked by :meth:`validate`;
    subclasses add checks that involve several fields or the component's entry in the config
    (``spec``: its ``render_size``, passes...; ``position``: its index in its list) in
    :meth:`check`, raising :class:`SettingError`.
    """

    def validate(self, spec: Any = None, position: int = 0) -> None:
        check_fields(self)
        self.check(spec, position)

    def check(self, spec: Any, position: int) -> None:
        """Checks beyond single fields; raise ``SettingError(key, problem)``. ``spec`` is the
        component's entry in the config (a :class:`~cnsr.config.GeneratorConfig` or
        :class:`~cnsr.config.RepresentationConfig`; None when checked outside a config)."""

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


def is_settings_class(cls: Any) -> bool:
    """Whether ``cls`` is a :class:`Settings` dataclass (what a registry entry must carry)."""
    return isinstance(cls, type) and dataclasses.is_dataclass(cls) and issubclass(cls, Settings)

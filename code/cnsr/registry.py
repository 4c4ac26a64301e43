"""One registry per kind of thing a config or a tool names: encoders, generators, losses, scene
families and metrics.

Each component registers itself where it is defined, with its settings dataclass
(:mod:`cnsr.settings`) and what the rest of the system needs to know about it (its
capabilities)::

    @register_encoder("Pyramid", settings=PyramidSettings)
    class PyramidEncoder(Encoder): ...

    @register_generator("PixelCNN", settings=PixelSettings, per_pixel=True)
    class PixelGenerator(ImageGenerator): ...

    @register_loss("logl1", log_space=True)
    def logl1(Y, y, iteration): ...

    @register_scene_family("room", summary="PrimitiveRoom: ...")
    def room(seed=None, **options): ...

    @register_metric("rmse", label="RMSE", higher_is_better=False)
    def rmse(prediction, reference): ...

:mod:`cnsr.config` validates type names, ``settings`` and the rules between them (a log-space
generator cannot predict signed passes, a model needs something to train...) from these
entries alone, and the model, the scene tools and the evaluation tools build and call
components through them, so none of them names a concrete type.

The package's own components are found on the first lookup: each registry imports the modules
that hold its kind (a package with every module in it, so a new file there registers without
being listed anywhere). This module imports no torch, so that ``import cnsr.config`` (which
the scene randomizers and dataset tools use) stays light.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, Sequence, Tuple, TypeVar

from .settings import Settings, is_settings_class, setting

E = TypeVar("E")


class UnknownName(ValueError):
    """A name that no component of a registry has; the message lists the known ones."""


class Registry(Mapping, Generic[E]):
    """Name -> entry for one kind of component, in registration order.

    ``packages``: the modules holding the package's own components; each is imported on the
    first lookup, and a package together with every module in it.
    """

    def __init__(self, noun: str, packages: Sequence[str]):
        self.noun = noun
        self.packages = tuple(packages)
        self._entries: Dict[str, E] = {}
        self._default: Optional[str] = None
        self._loaded = False

    # ------------------------------------------------------------------ registering
    def add(self, name: str, entry: E, default: bool = False) -> E:
        """Register ``entry`` as ``name``; ``default``: the name a config entry without a
        ``type`` gets (one per registry)."""
        if name in self._entries:
            raise ValueError(f"a {self.noun} named {name!r} is registered already")
        if default and self._default is not None:
            raise ValueError(f"{name!r}: the default {self.noun} is {self._default!r} already")
        self._entries[name] = entry
        if default:
            self._default = name
        return entry

    def remove(self, name: str) -> None:
        """Take ``name`` out again (for tests and plug-ins)."""
        del self._entries[name]
        if self._default == name:
            self._default = None

    @property
    def default(self) -> Optional[str]:
        """The name a config entry without a ``type`` gets (None: every entry must name one)."""
        self.load()
        return self._default

    # ------------------------------------------------------------------ looking up
    def __getitem__(self, name: str) -> E:
        self.load()
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self.load()
        return len(self._entries)

    def names(self) -> Tuple[str, ...]:
        self.load()
        return tuple(self._entries)

    def lookup(self, name: Optional[str]) -> E:
        """The entry of ``name``, or :class:`UnknownName` listing the known names."""
        self.load()
        if name is None:
            raise UnknownName(f"a {self.noun} must be named; one of {', '.join(self._entries)}")
        if name not in self._entries:
            raise UnknownName(f"unknown {self.noun} {name!r}; one of {', '.join(self._entries)}")
        return self._entries[name]

    def load(self) -> None:
        """Import the package's own components once, so that they register themselves."""
        if self._loaded:
            return
        self._loaded = True   # first, so that lookups while these modules import do not recurse
        try:
            for name in self.packages:
                _import_all(name)   # lazy: models import torch (see the module docstring)
        except BaseException:
            self._loaded = False
            raise


def _import_all(name: str) -> None:
    """Import module ``name``; for a package, every module in it too."""
    module = importlib.import_module(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=f"{name}."):
        importlib.import_module(info.name)


def _check_settings(noun: str, name: str, settings: Any) -> None:
    if not is_settings_class(settings):
        raise TypeError(f"{noun} {name!r}: settings must be a Settings dataclass, got {settings!r}")


def _builder(noun: str, name: str, obj: Any, signature: str) -> Callable[..., Any]:
    """A class's ``from_config`` classmethod, or a build function itself."""
    if isinstance(obj, type):
        build = getattr(obj, "from_config", None)
        if not callable(build):
            raise TypeError(f"{noun} {name!r}: {obj.__name__} needs a from_config({signature}) classmethod")
        return build
    return obj


# ---------------------------------------------------------------------- encoders
@dataclass(frozen=True)
class EncoderIO:
    """What an encoder is built for: channels of its observation passes, its representation's
    size, the pose dimensionality and the observation image size."""
    x_dim: int
    r_dim: int
    v_dim: int
    render_size: int


@dataclass(frozen=True)
class EncoderEntry:
    name: str
    settings: type                  # a Settings dataclass: the entry's ``settings`` keys
    #: (settings, io: EncoderIO, **options) -> nn.Module; ``options`` are the keys every
    #: encoder shares (aggregation, partitioning, sharpness, gradient_reg, invariance_reg,
    #: composite_training: see cnsr.models.encoders)
    build: Callable[..., Any]
    cls: Any = None


ENCODERS: Registry[EncoderEntry] = Registry("encoder type", ["cnsr.models.encoders"])


def register_encoder(name: str, settings: type = Settings, *, default: bool = False):
    """Class decorator: ``name`` is the config's ``representations[i].type``, ``settings`` the
    dataclass of its ``representations[i].settings`` (none by default); ``default``: the type
    of an entry that names none. The class provides ``from_config(settings, io, **options)``
    (the encoders' base class does)."""
    _check_settings("encoder", name, settings)

    def deco(cls):
        build = _builder("encoder", name, cls, "settings, io, **options")
        ENCODERS.add(name, EncoderEntry(name, settings, build, cls), default=default)
        return cls
    return deco


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
    #: compares log1p(target) whatever its ``loss`` (the GQN's ELBO): it cannot predict signed passes
    log_space: bool = False
    #: has weights of its own that its loss trains (a Sum has none, a Copy runs another's)
    trainable: bool = True
    #: each output pixel depends only on the query buffers at that pixel (given a pooled,
    #: 1 x 1 representation), so it can run on any crop of the image
    per_pixel: bool = False
    #: the settings field holding the index of an earlier generator whose network it runs
    #: (a Copy): its capabilities and channel counts are that generator's
    reuses: Optional[str] = None


GENERATORS: Registry[GeneratorEntry] = Registry("generator type", ["cnsr.models.generators"])


def register_generator(name: str, settings: type, *, log_space: bool = False, trainable: bool = True,
                       per_pixel: bool = False, reuses: Optional[str] = None, default: bool = False):
    """Class (or build-function) decorator: ``name`` is the config's ``type``; the keywords are
    the generator's capabilities (:class:`GeneratorEntry`); ``default``: the type of an entry
    that names none.

    A class must provide ``from_config(settings, io, previous)``; a function has that
    signature itself (e.g. ``Copy`` returns an earlier generator).
    """
    _check_settings("generator", name, settings)
    if reuses is not None and reuses not in settings.__dataclass_fields__:
        raise TypeError(f"generator {name!r}: reuses={reuses!r} is not a field of {settings.__name__}")

    def deco(obj):
        build = _builder("generator", name, obj, "settings, io, previous")
        GENERATORS.add(name, GeneratorEntry(name, settings, build, obj if isinstance(obj, type) else None,
                                            log_space=log_space, trainable=trainable, per_pixel=per_pixel,
                                            reuses=reuses), default=default)
        return obj
    return deco


def network_of(generators: Sequence[Any], j: int) -> int:
    """The index of the generator whose network generator ``j`` runs: ``j`` itself, or, for one
    that reuses an earlier network (a Copy), that network's. ``generators``: config entries
    (``type``, ``settings``), parsed or not."""
    seen = set()
    while j not in seen:
        seen.add(j)
        g = generators[j]
        entry = GENERATORS.get(g.type)
        if entry is None or entry.reuses is None:
            return j
        s = g.settings
        k = s.get(entry.reuses) if isinstance(s, dict) else getattr(s, entry.reuses, None)
        if not isinstance(k, int) or not 0 <= k < j:
            return j
        j = k
    return j


def generator_entry(generators: Sequence[Any], j: int) -> GeneratorEntry:
    """The entry whose capabilities generator ``j`` has (that of the network it runs)."""
    return GENERATORS.lookup(generators[network_of(generators, j)].type)


# ---------------------------------------------------------------------- losses
@dataclass(frozen=True)
class LossEntry:
    name: str
    function: Callable[..., Any]     # (Y, y, iteration) -> scalar tensor
    log_space: bool                  # compares Y with log1p(y): the generator predicts log1p values


LOSSES: Registry[LossEntry] = Registry("loss", ["cnsr.models.losses"])


def register_loss(name: str, log_space: bool):
    """Function decorator: ``name`` is an entry of a generator's ``settings.loss``."""
    def deco(fn):
        LOSSES.add(name, LossEntry(name, fn, log_space))
        return fn
    return deco


def loss_setting(default: List[str], doc: str = "image losses, summed (see cnsr.models.losses)"):
    """The ``loss`` setting of a generator: a list of names from the loss registry."""
    return setting(default, doc, choices=LOSSES.names, noun="loss")


# ---------------------------------------------------------------------- scene families
@dataclass(frozen=True)
class SceneFamilyEntry:
    name: str
    #: (seed, **options) -> a cnsr.scenes.SceneRandomizer
    build: Callable[..., Any]
    summary: str = ""               # one line: what varies (command-line help)


SCENE_FAMILIES: Registry[SceneFamilyEntry] = Registry("dataset", ["cnsr.scenes"])


def register_scene_family(name: str, summary: str = "", *, default: bool = False):
    """Class or function decorator: ``name`` is a config's ``dataset``; ``default``: the dataset
    of a config that names none. A class is built as ``cls(seed, **options)``, a function
    called so."""
    def deco(obj):
        SCENE_FAMILIES.add(name, SceneFamilyEntry(name, obj, summary), default=default)
        return obj
    return deco


# ---------------------------------------------------------------------- metrics
MetricFn = Callable[[Any, Any], float]


@dataclass(frozen=True)
class Metric:
    """A registered metric: its function, the label of tables and the format of its value."""
    name: str
    fn: MetricFn
    label: str
    higher_is_better: bool
    fmt: str = ".4f"


METRICS: Registry[Metric] = Registry("metric", ["cnsr.metrics"])


def register_metric(name: str, label: str = "", higher_is_better: bool = True, fmt: str = ".4f"):
    """Function decorator: register ``fn(prediction, reference) -> float`` under ``name``."""
    def deco(fn: MetricFn) -> MetricFn:
        METRICS.add(name, Metric(name, fn, label or name.upper(), higher_is_better, fmt))
        return fn
    return deco

"""The attribution viewer's controls and its two settings file formats.

The controls are those of the paper's attribution viewer (:class:`AttributionSettings`): the
patch (``Pixel X``, ``Pixel Y``, ``Patch Size``), ``Activate Mean``, ``Representation Grad``,
``Partition Mean``, ``Range Min`` / ``Range Max``, ``Heatmap``, the query and observation
buffers and the ``Replace`` buttons. ``Pixel X`` and ``Pixel Y`` are stored as fractions in
[0, 1] as in the paper's tool, and shown as pixels, a latent dimension or a partition.

``Save`` writes a folder (:func:`write_view_folder`); two file formats restore a view
(:func:`read_view_file`):

* the release's ``settings.txt``: 9 lines (checkboxes, range, pixel, buffers, patch size,
  scene path); its scene comes back, with new observations;
* our ``settings.json`` (:func:`view_document`, written by ``Save`` beside ``scene.json``):
  the controls, the query and observation cameras, their render seeds, spp and size, so the
  same arrays come back.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..io.atomic import atomic_path
from ..io.jsonfile import read_json_file
from ..io.png import write_png

#: the release's slider ranges and defaults
RANGE_MIN_LIMIT = 0.005
RANGE_MAX_LIMIT = 5.0
RANGE_MAX_DEFAULT = 0.00025
PATCH_MIN, PATCH_MAX = 1, 64
#: the Replace buttons -> the partition they zero
REPLACE = {"Replace Light": "lighting", "Replace Geo": "geometry", "Replace Mat": "material", "Replace All": "all"}
MODES = ("patch", "mean", "dimension", "partition", "representation mean")
#: the ``format`` field of a settings.json
SETTINGS_FORMAT = "cnsr-attribution-settings"


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the file and the field."""


def frac_to_index(f: float, n: int) -> int:
    """The release's mapping of a slider fraction to one of ``n`` items: ``int(f * (n - 1))``."""
    return int(min(max(n - 1, 0), max(0, int(float(f) * (n - 1) + 1e-6))))


def index_to_frac(i: int, n: int) -> float:
    return 0.0 if n <= 1 else float(min(max(int(i), 0), n - 1)) / (n - 1)


@dataclass
class AttributionSettings:
    """The controls; ``pixel_x``/``pixel_y`` are fractions of the image (release convention)."""
    activate_mean: bool = False
    representation_grad: bool = False
    partition_mean: bool = False
    heatmap: bool = True
    range_min: float = 0.0
    range_max: float = RANGE_MAX_DEFAULT
    pixel_x: float = 0.5
    pixel_y: float = 0.5
    patch_size: int = 1
    observation_buffer: str = ""
    query_buffer: str = ""
    replaced: Optional[str] = None          # lighting | geometry | material | all | None

    def mode(self) -> str:
        """patch, mean, dimension, partition or representation mean (the release's precedence)."""
        if self.representation_grad and self.partition_mean:
            return "partition"
        if self.representation_grad:
            return "representation mean" if self.activate_mean else "dimension"
        return "mean" if self.activate_mean else "patch"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str) -> "AttributionSettings":
        out = cls()
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        for k, v in d.items():
            if k not in types:
                raise SettingsError(f"{where}: unknown control {k!r}")
            want = getattr(out, k)
            try:
                if k == "replaced":
                    if v is not None and v not in REPLACE.values():
                        raise ValueError(v)
                elif isinstance(want, bool):
                    if not isinstance(v, bool):
                        raise ValueError(v)
                elif isinstance(want, (int, float)):
                    v = type(want)(v)
                elif not isinstance(v, str):
                    raise ValueError(v)
            except (TypeError, ValueError):
                raise SettingsError(f"{where}: control {k!r} has an invalid value {v!r}") from None
            setattr(out, k, v)
        return out

    # the paper's settings.txt: 9 lines
    def to_release_text(self, scene_path: str) -> str:
        bits = " ".join(str(int(b)) for b in (self.activate_mean, self.representation_grad,
                                               self.partition_mean, self.heatmap))
        vals = [bits, self.range_min, self.range_max, self.pixel_x, self.pixel_y, self.observation_buffer,
                self.query_buffer, float(self.patch_size), scene_path]
        return "".join(f"{v}\n" for v in vals)

    @classmethod
    def from_release_text(cls, text: str, where: str) -> Tuple["AttributionSettings", str]:
        """(settings, scene path) from a release ``settings.txt``."""
        lines = [ln.strip() for ln in text.splitlines()]
        if len(lines) < 9:
            raise SettingsError(f"{where}: a settings.txt has 9 lines, this one {len(lines)}")
        names = ["checkboxes", "range min", "range max", "pixel x", "pixel y", "observation buffer",
                 "query buffer", "patch size", "scene path"]
        try:
            bits = [bool(int(b)) for b in lines[0].split()]
            if len(bits) != 4:
                raise ValueError
        except ValueError:
            raise SettingsError(f"{where}: line 1 (checkboxes) must be 4 numbers 0/1, got {lines[0]!r}") from None
        vals = []
        for i in (1, 2, 3, 4, 7):
            try:
                vals.append(float(lines[i]))
            except ValueError:
                raise SettingsError(f"{where}: line {i + 1} ({names[i]}) is not a number: {lines[i]!r}") from None
        s = cls(activate_mean=bits[0], representation_grad=bits[1], partition_mean=bits[2], heatmap=bits[3],
                range_min=vals[0], range_max=vals[1], pixel_x=vals[2], pixel_y=vals[3],
                patch_size=int(round(vals[4])), observation_buffer=lines[5], query_buffer=lines[6])
        return s, lines[8]


@dataclass
class SavedView:
    """What a settings file restores. ``scene_path``: the scene file it names. The cameras,
    render seeds, spp and size are None for a release ``settings.txt`` (new observations)."""
    settings: AttributionSettings
    scene_path: str
    query_camera: Optional[dict] = None
    observation_cameras: Optional[List[dict]] = None
    seeds: Optional[List[int]] = None
    spp: Optional[int] = None
    size: Optional[int] = None


def view_document(settings: AttributionSettings, desc: dict) -> dict:
    """The ``settings.json`` of a saved view: the controls and the scene description ``desc``
    (cameras, seeds, spp, size, source) of the scene saved beside it as ``scene.json``."""
    return {"format": SETTINGS_FORMAT, "version": 1, "controls": settings.to_dict(),
            "scene_file": "scene.json", "query_camera": desc["query_camera"],
            "observation_cameras": desc["observation_cameras"], "seeds": desc["seeds"],
            "spp": desc["spp"], "size": desc["size"], "source_scene_file": desc.get("source")}


def read_view_file(path: str) -> SavedView:
    """A ``settings.json`` of ``Save`` or a release ``settings.txt`` (module docstring);
    :class:`SettingsError` names the file and the field."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        d = read_json_file(p, SettingsError, "attribution settings file")
        if not isinstance(d, dict) or d.get("format") != SETTINGS_FORMAT:
            raise SettingsError(f"{p}: not an attribution settings file (field 'format')")
        for k in ("controls", "query_camera", "observation_cameras", "seeds", "spp", "size"):
            if k not in d:
                raise SettingsError(f"{p}: missing field {k!r}")
        settings = AttributionSettings.from_dict(d["controls"], f"{p}: controls")
        obs = d["observation_cameras"]
        if not isinstance(obs, list) or not obs or len(d["seeds"]) != len(obs) + 1:
            raise SettingsError(f"{p}: fields 'observation_cameras' and 'seeds' do not match "
                                "(one seed per observation and one for the query)")
        return SavedView(settings, str(p.parent / d.get("scene_file", "scene.json")), d["query_camera"], obs,
                         [int(s) for s in d["seeds"]], int(d["spp"]), int(d["size"]))
    try:
        text = p.read_text()
    except OSError as e:
        raise SettingsError(f"{p}: cannot read the settings file ({e.strerror or e})") from None
    settings, scene_path = AttributionSettings.from_release_text(text, str(p))
    if not Path(scene_path).is_file() and (p.parent / Path(scene_path).name).is_file():
        scene_path = str(p.parent / Path(scene_path).name)
    return SavedView(settings, scene_path)


def write_view_folder(out_folder: Path, scene: dict, document: dict, settings: AttributionSettings,
                      figure: np.ndarray, arrays: Dict[str, np.ndarray]) -> Path:
    """A new folder ``<out_folder>/<date>_<time>`` (``_2``, ``_3``... when taken) with scene.json,
    settings.json (``document``), settings.txt (the release's format), figure.png and
    arrays.npz; every file written atomically. Returns the folder."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    folder = Path(out_folder) / stamp
    i = 1
    while folder.exists():
        i += 1
        folder = Path(out_folder) / f"{stamp}_{i}"
    folder.mkdir(parents=True)
    with atomic_path(folder / "scene.json") as tmp:
        tmp.write_text(json.dumps(scene, indent=2))
    with atomic_path(folder / "settings.json") as tmp:
        tmp.write_text(json.dumps(document, indent=2))
    with atomic_path(folder / "settings.txt") as tmp:
        tmp.write_text(settings.to_release_text(str(folder / "scene.json")))
    write_png(folder / "figure.png", figure)
    with atomic_path(folder / "arrays.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return folder

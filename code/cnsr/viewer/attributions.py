"""State of ``visualize-attributions.py``, without any GL: the scene and its observations, the
model, the current gradient x input attribution, the controls (the paper's names), saving and
restoring them, and the layout of the window's tiles.

The controls are those of the paper's attribution viewer: the patch (``Pixel X``, ``Pixel Y``,
``Patch Size``; a red mark on the prediction), ``Activate Mean``, ``Representation Grad``
(one latent dimension chosen with ``Pixel X``), ``Partition Mean`` (the partition chosen with
``Pixel X``), ``Range Min`` / ``Range Max``, ``Heatmap``, the query and observation buffer
lists, ``New Scene``, ``Save`` and ``Replace Light / Geo / Mat / All``. ``Pixel X`` and
``Pixel Y`` are stored as fractions in [0, 1] as in the paper's tool (its ``settings.txt``
files load here), and shown as pixels, a latent dimension or a partition.

The attributions come from :class:`cnsr.analysis.attribution.AttributionSession`. :meth:`update`
computes what the controls ask for; it can run in a background thread
(:class:`BackgroundUpdater`) while the window keeps drawing the last result: a patch update
publishes the query attributions and the representation's gradient first and the
observations' attributions (a backward pass through the encoder) after them.

Canvas tiles (``TILE`` px squares, a whole multiple of the render size):

* row 0: ``reference`` (path traced) | ``prediction`` (patch marked) | ``replaced`` (the
  prediction with a partition zeroed) | ``query`` (the chosen query buffer) |
  ``query_attribution``;
* then per group of ``COLUMNS`` observations: ``observation_i`` (the chosen observation
  buffer) over ``observation_attribution_i``;
* last: ``representation``: the representation's values (top) and |gradient x value|
  (bottom) per dimension, coloured by partition.
"""
from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ..analysis import attribution as A
from ..config import output_pass
from ..data.layout import batch_to_device, split_views
from ..data.views import View, jitter_camera, render_views
from ..io.atomic import atomic_path
from ..io.jsonfile import read_json_file
from ..io.png import to_uint8, write_png
from ..io.preview import display, to_hwc
from ..render import Renderer
from ..scenes import make_randomizer
from . import TileCanvas

#: the release's slider ranges and defaults
RANGE_MIN_LIMIT = 0.005
RANGE_MAX_LIMIT = 5.0
RANGE_MAX_DEFAULT = 0.00025
PATCH_MIN, PATCH_MAX = 1, 64
#: the Replace buttons -> the partition they zero
REPLACE = {"Replace Light": "lighting", "Replace Geo": "geometry", "Replace Mat": "material", "Replace All": "all"}
#: colours of the partitions (lighting, geometry, material, null) in the representation plot
PARTITION_COLOURS = np.array([[0.9, 0.25, 0.2], [0.25, 0.8, 0.3], [0.3, 0.5, 1.0], [0.5, 0.5, 0.5]], np.float32)
COLUMNS = 5
GAP = 4
POSITIVE = np.array([1.0, 0.15, 0.1], np.float32)
NEGATIVE = np.array([0.1, 0.45, 1.0], np.float32)
MODES = ("patch", "mean", "dimension", "partition", "representation mean")


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


def colorize(attr: np.ndarray, lo: float, hi: float, heatmap: bool, base: Optional[np.ndarray] = None) -> np.ndarray:
    """A signed 2-D attribution map -> RGB in [0, 1]. The magnitude is scaled so that ``lo``
    is 0 and ``hi`` is 1. ``heatmap``: red for positive, blue for negative, over a half-bright
    ``base`` image; otherwise the magnitude in grey."""
    a = np.asarray(attr, np.float32)
    m = np.clip((np.abs(a) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)[..., None]
    if not heatmap:
        return np.repeat(m, 3, axis=-1)
    col = np.where(a[..., None] >= 0, POSITIVE, NEGATIVE)
    under = 0.5 * (base if base is not None else np.zeros(a.shape + (3,), np.float32))
    return np.clip((1.0 - m) * under + m * col, 0.0, 1.0).astype(np.float32)


def representation_plot(rep: np.ndarray, contribution: np.ndarray, owner: np.ndarray, width: int,
                        height: int) -> np.ndarray:
    """Bars per dimension: the representation's values (top half, around a middle line,
    scaled by the largest |value|) and its |gradient x value| (bottom half, scaled by the
    largest), coloured by partition."""
    out = np.full((height, width, 3), 0.08, np.float32)
    r = len(rep)
    if r == 0:
        return out
    half = height // 2
    cols = np.minimum((np.arange(width) * r) // width, r - 1)
    colour = PARTITION_COLOURS[np.clip(owner[cols], 0, 3)]
    v = rep[cols] / max(float(np.abs(rep).max()), 1e-12)
    c = contribution[cols] / max(float(contribution.max()), 1e-12)
    mid = half // 2
    ys = np.arange(height)[:, None]
    top = (ys < half) & (((ys >= mid - v * (mid - 1)) & (ys <= mid)) | ((ys <= mid - v * (mid - 1)) & (ys >= mid)))
    bottom = (ys >= half) & (ys >= height - 1 - c * (height - half - 2))
    mask = top | bottom
    out[mask] = np.broadcast_to(colour[None], out.shape)[mask]
    out[half - 1:half] = 0.3
    return out


@dataclass
class SceneData:
    """One rendered scene: its description, the batch (numpy copies for display and saving)
    and the attribution session."""
    version: int
    desc: dict
    query: Dict[str, np.ndarray]          # pass -> [C, H, W] (as the networks see it)
    observations: Dict[str, np.ndarray]   # pass -> [N, C, H, W]
    session: A.AttributionSession
    batch: dict
    owner: np.ndarray                     # partition of each representation dimension


@dataclass
class Result:
    key: tuple
    query: Dict[str, np.ndarray]                    # pass -> [C, H, W]
    observations: Optional[Dict[str, np.ndarray]]   # pass -> [N, C, H, W]; None until computed
    representation: np.ndarray                      # [r, ...] of encoder 0
    representation_grad: np.ndarray
    prediction: np.ndarray                          # [C, H, W]
    target: float
    seconds: float = 0.0                            # compute time of the first part
    observation_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class AttributionViewerState:
    """Everything of the attribution viewer except drawing.

    ``update()`` renders what changed and computes the attribution the controls ask for (True
    if anything new was published); ``canvas()`` composes the window image; ``bars()`` gives
    the summed |attribution| per partition, observation, observation buffer and query buffer;
    ``save()`` writes a result folder and ``--settings`` files restore it.
    """

    def __init__(self, cfg, model, renderer=None, scene_file: Optional[str] = None,
                 settings_file: Optional[str] = None, seed: int = 0, views: Optional[int] = None,
                 size: Optional[int] = None, spp: Optional[int] = None, device="cpu",
                 out_folder: str = "attributions", tile_scale: int = 0):
        self.cfg, self.model = cfg, model
        self.device = torch.device(device)
        self.renderer = renderer or Renderer()
        self.out_folder = Path(out_folder)
        self.scene_file = scene_file
        self.views = max(1, int(views if views is not None else cfg.views_per_scene - 1))
        self.size = int(size or cfg.max_render_size())
        self.spp = max(1, int(spp or cfg.samples_per_pixel))
        self.seed = int(seed)
        self.passes = list(dict.fromkeys(list(cfg.needed_passes()) + ["beauty"]))
        self.query_passes = A.query_passes(model)
        self.observation_passes = A.observation_passes(model)
        self.output_pass = output_pass(cfg)
        self.rng = np.random.default_rng(seed)
        self.randomizer = make_randomizer(cfg.dataset, seed) if scene_file is None else None
        self.tile = self.size * (tile_scale or max(1, math.ceil(128 / self.size)))
        qb = self.query_passes[1] if len(self.query_passes) > 1 else (self.query_passes or [""])[0]
        self.settings = AttributionSettings(observation_buffer=(self.observation_passes or [""])[0], query_buffer=qb)
        self._lock = threading.Lock()
        self._scene_desc: Optional[dict] = None
        self._scene_version = 0
        self._next_seed = self.seed * 1000003 + 1
        self.scene_data: Optional[SceneData] = None
        self.result: Optional[Result] = None
        self.replaced_image: Optional[Tuple[tuple, np.ndarray]] = None
        self.version = 0                 # bumped at every publication
        self.last_save: Optional[Path] = None
        if settings_file:
            self.load_settings(settings_file, scene_file=scene_file)
        else:
            self.new_scene()

    # ------------------------------------------------------------------ scenes
    def _seeds(self) -> List[int]:
        seeds = list(range(self._next_seed, self._next_seed + self.views + 1))
        self._next_seed += self.views + 1
        return seeds

    def _jittered(self, cam: dict) -> List[dict]:
        return [jitter_camera(cam, self.rng) for _ in range(self.views)]

    def _scene_from_file(self, path: str) -> dict:
        scene = read_json_file(path, SettingsError, "scene file")
        cam = scene.get("camera") if isinstance(scene, dict) else None
        if not isinstance(cam, dict) or "position" not in cam or "lookat" not in cam:
            raise SettingsError(f"{path}: the scene has no camera (camera.position and camera.lookat)")
        return scene

    def new_scene(self) -> None:
        """'New Scene': a new random scene (or the scene file again with new observations): its
        camera is the query view, the observations are new random views of it."""
        if self.scene_file is not None:
            scene = self._scene_from_file(self.scene_file)
            query_cam = dict(scene["camera"])
            obs = self._jittered(query_cam)
        else:
            rz = self.randomizer
            rz.random_scene()
            rz.random_view()
            scene = rz.to_json()
            query_cam = dict(scene["camera"])
            obs = []
            for _ in range(self.views):
                rz.random_view()
                obs.append(dict(rz.to_json()["camera"]))
        self._set_scene({"scene": scene, "query_camera": query_cam, "observation_cameras": obs,
                         "seeds": self._seeds(), "spp": self.spp, "size": self.size,
                         "source": self.scene_file})
        self.settings.replaced = None

    def _set_scene(self, desc: dict) -> None:
        with self._lock:
            self._scene_desc = desc
            self._scene_version += 1

    def _render_scene(self, version: int, desc: dict) -> SceneData:
        # a scene file is seen through its path: its relative file names resolve against its folder
        source = desc["source"] if desc.get("source") and Path(desc["source"]).is_file() else desc["scene"]
        cams = list(desc["observation_cameras"]) + [desc["query_camera"]]
        seeds = [int(s) for s in desc["seeds"]]
        arrays, poses = render_views(self.renderer, [[View(source, cam) for cam in cams]], int(desc["size"]),
                                     int(desc["spp"]), self.passes, seed=lambda scene, b, v, views: seeds[v])
        images = {p: arrays[p] for p in self.passes}                                # [1, V+1, C, H, W]
        n = len(desc["observation_cameras"])
        batch = split_views(images, poses, -1, n)
        query = {k: v[0].numpy().copy() for k, v in batch["query_images"].items()}
        observations = {k: v[0].numpy().copy() for k, v in batch["observation_images"].items()}
        batch = batch_to_device(batch, self.device)
        session = A.AttributionSession(self.model, batch, self.output_pass)
        owner = A.partition_owner(self.model).numpy()
        return SceneData(version, desc, query, observations, session, batch, owner)

    # ------------------------------------------------------------------ controls
    def mode(self) -> str:
        return self.settings.mode()

    def image_size(self) -> int:
        return self.size

    def representation_dim(self) -> int:
        return int(self.model.representation.representations[0].r_dim)

    def pixel_range(self, axis: str = "x") -> int:
        """How many values ``Pixel X`` (``axis='x'``) or ``Pixel Y`` choose from in this mode."""
        mode = self.mode()
        if axis == "x" and mode == "dimension":
            return self.representation_dim()
        if axis == "x" and mode == "partition":
            return 3
        return self.size

    def pixel_index(self, axis: str = "x") -> int:
        """The patch's top-left pixel, the latent dimension or the partition (``Pixel X``)."""
        f = self.settings.pixel_x if axis == "x" else self.settings.pixel_y
        if axis == "x" and self.mode() == "partition":
            return min(2, int(f * 3))      # the release's partition choice
        return frac_to_index(f, self.pixel_range(axis))

    def set_pixel_index(self, axis: str, value: int) -> None:
        n = self.pixel_range(axis)
        value = min(max(int(value), 0), n - 1)
        if axis == "x" and self.mode() == "partition":
            f = (value + 0.5) / 3.0
        else:
            f = index_to_frac(value, n)
        if axis == "x":
            self.settings.pixel_x = f
        else:
            self.settings.pixel_y = f

    def set_patch_size(self, value: int) -> None:
        self.settings.patch_size = int(min(PATCH_MAX, max(PATCH_MIN, int(value))))

    def set_range(self, lo: Optional[float] = None, hi: Optional[float] = None) -> None:
        if lo is not None:
            self.settings.range_min = float(min(max(lo, 0.0), RANGE_MIN_LIMIT))
        if hi is not None:
            self.settings.range_max = float(min(max(hi, 0.0), RANGE_MAX_LIMIT))

    def set_buffers(self, query: Optional[str] = None, observation: Optional[str] = None) -> None:
        if query is not None:
            if query not in self.query_passes:
                raise ValueError(f"query buffer {query!r} is not one of {self.query_passes}")
            self.settings.query_buffer = query
        if observation is not None:
            if observation not in self.observation_passes:
                raise ValueError(f"observation buffer {observation!r} is not one of {self.observation_passes}")
            self.settings.observation_buffer = observation

    def replace(self, partition: Optional[str]) -> None:
        """'Replace Light/Geo/Mat/All' (a name of REPLACE or a partition), None: no replacement."""
        partition = REPLACE.get(partition, partition)
        if partition is not None and partition not in REPLACE.values():
            raise ValueError(f"unknown partition {partition!r}")
        self.settings.replaced = partition

    def click(self, px: float, py: float) -> bool:
        """A click or drag at pixel (px, py) of the prediction: in patch mode the patch moves so
        that it is centred there. Returns True if the patch moved."""
        if self.mode() != "patch":
            return False
        half = (self.settings.patch_size - 1) // 2
        before = (self.pixel_index("x"), self.pixel_index("y"))
        self.set_pixel_index("x", int(px) - half)
        self.set_pixel_index("y", int(py) - half)
        return (self.pixel_index("x"), self.pixel_index("y")) != before

    def auto_range(self) -> None:
        """Range Min 0 and Range Max the largest |attribution| of the observation buffer shown
        (the range is for the observations' row, as in the paper's tool; the query buffer's
        when there are no observation attributions, as in representation-free targets)."""
        res = self.result
        if res is None:
            return
        peak = 0.0
        if res.observations and self.settings.observation_buffer in res.observations:
            peak = float(np.abs(res.observations[self.settings.observation_buffer].sum(1)).max())
        q = res.query.get(self.settings.query_buffer)
        if peak == 0.0 and q is not None:
            peak = float(np.abs(q.sum(0)).max())
        self.set_range(0.0, peak if peak > 0 else RANGE_MAX_DEFAULT)

    def patch_box(self) -> Tuple[int, int, int, int]:
        """(x0, x1, y0, y1) of the patch on the prediction, clipped to the image."""
        return A.patch_bounds(self.size, self.size, self.pixel_index("x"), self.pixel_index("y"),
                              self.settings.patch_size)

    # ------------------------------------------------------------------ computing
    def target_key(self, settings: Optional[AttributionSettings] = None) -> tuple:
        """What the attribution depends on: the scene and the target (not the display controls)."""
        s = settings or self.settings
        mode = s.mode()
        if mode == "patch":
            x0, _, y0, _ = A.patch_bounds(self.size, self.size, frac_to_index(s.pixel_x, self.size),
                                          frac_to_index(s.pixel_y, self.size), s.patch_size)
            params: tuple = (x0, y0, int(s.patch_size))
        elif mode == "dimension":
            params = (frac_to_index(s.pixel_x, self.representation_dim()),)
        elif mode == "partition":
            params = (min(2, int(s.pixel_x * 3)),)
        else:
            params = ()
        return (self._scene_version, mode) + params

    def needs_update(self) -> bool:
        sd, res = self.scene_data, self.result
        if sd is None or sd.version != self._scene_version:
            return True
        if res is None or res.key != self.target_key() or res.observations is None:
            return True
        rep = self.settings.replaced
        return rep is not None and (self.replaced_image is None or self.replaced_image[0] != (sd.version, rep))

    def busy(self) -> bool:
        """True while the shown attribution is not the one the controls ask for."""
        return self.needs_update()

    def _publish(self, **kw) -> None:
        for k, v in kw.items():
            setattr(self, k, v)
        self.version += 1

    def _compute(self, sd: SceneData, settings: AttributionSettings, key: tuple) -> Result:
        s = sd.session
        mode = key[1]
        t = time.perf_counter()
        if mode == "patch":
            att = s.patch(key[2], key[3], key[4], observations=False)
        elif mode == "mean":
            att = s.patch(mean=True, observations=False)
        elif mode == "dimension":
            att = s.representation(dim=key[2], observations=False)
        elif mode == "partition":
            att = s.representation(dim=key[2], partition_mean=True, observations=False)
        else:
            att = s.representation(mean=True, observations=False)
        seconds = time.perf_counter() - t
        res = Result(key=key, query={k: v[0].detach().cpu().numpy() for k, v in att.query.items()},
                     observations=None,
                     representation=att.representation[0][0].detach().cpu().numpy(),
                     representation_grad=att.representation_grad[0][0].detach().cpu().numpy(),
                     prediction=s.prediction[0].detach().cpu().numpy(), target=att.target, seconds=seconds)
        res.extra["grads"] = att.representation_grad
        return res

    def _observations(self, sd: SceneData, res: Result) -> Result:
        t = time.perf_counter()
        obs = sd.session.observation_attribution(res.extra.pop("grads"))
        return dataclasses.replace(res, observations={k: v[0].detach().cpu().numpy() for k, v in obs.items()},
                                   observation_seconds=time.perf_counter() - t)

    def update(self, progressive: bool = False) -> bool:
        """Render a new scene if there is one, compute the attribution the controls ask for and
        the replaced prediction. ``progressive`` (background thread): the first part of an
        attribution is published before the observations' part, which is skipped when the
        controls changed meanwhile. Returns True if anything was published."""
        changed = False
        with self._lock:
            version, desc = self._scene_version, self._scene_desc
        sd = self.scene_data
        if sd is None or sd.version != version:
            sd = self._render_scene(version, desc)
            self._publish(scene_data=sd)
            changed = True
        settings = dataclasses.replace(self.settings)
        key = self.target_key(settings)
        if key[0] != sd.version:
            return changed
        res = self.result
        if res is None or res.key != key:
            res = self._compute(sd, settings, key)
            if progressive:
                self._publish(result=res)
                changed = True
                if self.target_key() != key:
                    return changed
            res = self._observations(sd, res)
            self._publish(result=res)
            changed = True
        elif res.observations is None:
            self._publish(result=self._observations(sd, res))
            changed = True
        rep = settings.replaced
        if rep is not None and (self.replaced_image is None or self.replaced_image[0] != (sd.version, rep)):
            with torch.no_grad():
                out = A.replace_partition(self.model, sd.batch, rep)
            img = A.output_image(out, self.output_pass)[0].detach().cpu().numpy()
            self._publish(replaced_image=((sd.version, rep), img))
            changed = True
        return changed

    def wait(self, timeout: float = 60.0) -> None:
        """Compute now (synchronously) until the shown state matches the controls."""
        end = time.time() + timeout
        while self.needs_update() and time.time() < end:
            self.update()

    # ------------------------------------------------------------------ numbers
    def bars(self) -> List[Tuple[str, Optional[List[Tuple[str, float]]]]]:
        """The summed |attribution| per partition (|gradient x value| of the representation's
        dimensions), per observation (all its buffers), per observation buffer and per query
        buffer; a group is None while it is being computed."""
        res, sd = self.result, self.scene_data
        if res is None or sd is None:
            return []
        contrib = np.abs(res.representation * res.representation_grad)
        contrib = contrib.reshape(contrib.shape[0], -1).sum(1)
        names = ["lighting", "geometry", "material", "null"]
        parts = [(names[p], float(contrib[sd.owner == p].sum())) for p in range(4) if p < 3 or (sd.owner == 3).any()]
        groups: List[Tuple[str, Optional[List[Tuple[str, float]]]]] = [("Partitions", parts)]
        if res.observations is None:
            groups += [("Observations", None), ("Observation buffers", None)]
        else:
            per_obs = [sum(float(np.abs(v[i]).sum()) for v in res.observations.values())
                       for i in range(len(sd.desc["observation_cameras"]))]
            groups.append(("Observations", [(f"obs {i}", v) for i, v in enumerate(per_obs)]))
            groups.append(("Observation buffers", [(k, float(np.abs(v).sum())) for k, v in res.observations.items()]))
        groups.append(("Query buffers", [(k, float(np.abs(v).sum())) for k, v in res.query.items()]))
        return groups

    # ------------------------------------------------------------------ layout
    def n_observations(self) -> int:
        sd = self.scene_data
        return len(sd.desc["observation_cameras"]) if sd is not None else self.views

    def layout(self) -> TileCanvas:
        t, g = self.tile, GAP
        n = self.n_observations()
        cols = max(COLUMNS, 1)
        tiles = []
        for i, name in enumerate(("reference", "prediction", "replaced", "query", "query_attribution")):
            tiles.append((name, g + i * (t + g), g, t, t))
        groups = math.ceil(n / cols)
        for i in range(n):
            grp, c = divmod(i, cols)
            y = g + (t + g) * (1 + 2 * grp)
            tiles.append((f"observation_{i}", g + c * (t + g), y, t, t))
            tiles.append((f"observation_attribution_{i}", g + c * (t + g), y + t + g, t, t))
        width = g + cols * (t + g)
        y = g + (t + g) * (1 + 2 * groups)
        plot_h = max(t // 2, 48)
        tiles.append(("representation", g, y, width - 2 * g, plot_h))
        return TileCanvas(width, y + plot_h + g, tiles)

    def target_text(self) -> str:
        """What is differentiated, in words."""
        mode = self.mode()
        if mode == "patch":
            x0, x1, y0, y1 = self.patch_box()
            return f"patch ({x0}, {y0}) {x1 - x0}x{y1 - y0}"
        if mode == "dimension":
            return f"dimension {self.pixel_index('x')}"
        if mode == "partition":
            return f"{A.PARTITIONS[self.pixel_index('x')]} mean"
        return "image mean" if mode == "mean" else mode

    def labels(self) -> Dict[str, str]:
        s = self.settings
        out = {"reference": f"reference ({self.spp} spp)", "prediction": "prediction",
               "replaced": f"{s.replaced} zeroed" if s.replaced else "replaced (none)",
               "query": f"query {s.query_buffer}", "query_attribution": f"attribution {s.query_buffer}",
               "representation": "representation | gradient x value"}
        for i in range(self.n_observations()):
            out[f"observation_{i}"] = f"obs {i} {s.observation_buffer}"
            out[f"observation_attribution_{i}"] = f"attribution {i}"
        return out

    def _scene_tiles(self, sd: SceneData) -> Dict[str, np.ndarray]:
        """The tiles that depend only on the scene and the chosen buffers (cached)."""
        s = self.settings
        key = (sd.version, s.query_buffer, s.observation_buffer)
        cached = getattr(self, "_scene_tile_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        op, qb, ob = self.output_pass, s.query_buffer, s.observation_buffer
        out: Dict[str, np.ndarray] = {}
        ref = sd.query.get(op, sd.query.get("beauty"))
        if ref is not None:
            out["reference"] = display(op, to_hwc(ref))
        out["prediction"] = display(op, to_hwc(sd.session.prediction[0]))
        if qb in sd.query:
            out["query"] = display(qb, to_hwc(sd.query[qb]))
        if ob in sd.observations:
            for i in range(sd.observations[ob].shape[0]):
                out[f"observation_{i}"] = display(ob, to_hwc(sd.observations[ob][i]))
        self._scene_tile_cache = (key, out)
        return out

    def tile_images(self) -> Dict[str, np.ndarray]:
        sd, res, s = self.scene_data, self.result, self.settings
        if sd is None:
            return {}
        out = dict(self._scene_tiles(sd))
        op, qb, ob = self.output_pass, s.query_buffer, s.observation_buffer
        rep = self.replaced_image
        if s.replaced is not None and rep is not None and rep[0] == (sd.version, s.replaced):
            out["replaced"] = display(op, to_hwc(rep[1]))
        fresh = res is not None and res.key[0] == sd.version
        if fresh and qb in res.query:
            out["query_attribution"] = colorize(res.query[qb].sum(0), s.range_min, s.range_max, s.heatmap,
                                                out.get("query"))
        if fresh and res.observations is not None and ob in res.observations:
            for i in range(res.observations[ob].shape[0]):
                out[f"observation_attribution_{i}"] = colorize(res.observations[ob][i].sum(0), s.range_min,
                                                               s.range_max, s.heatmap, out.get(f"observation_{i}"))
        return out

    def canvas_key(self) -> tuple:
        """Everything the canvas depends on (the window recomposes when it changes)."""
        return (self.version, dataclasses.astuple(self.settings))

    def _base_key(self) -> tuple:
        """What the canvas without the patch mark depends on (not the patch position)."""
        s = self.settings
        return (self.version, s.heatmap, s.range_min, s.range_max, s.query_buffer, s.observation_buffer, s.replaced)

    def _base(self) -> Tuple[np.ndarray, np.ndarray]:
        """The canvas without the patch mark, float and uint8, cached: dragging the patch only
        redraws the mark until a new result arrives."""
        key = self._base_key()
        cached = getattr(self, "_base_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        lay = self.layout()
        img = lay.compose(self.tile_images())
        tiles = {t[0]: t[1:] for t in lay.tiles}
        res, sd = self.result, self.scene_data
        if res is not None and sd is not None and res.key[0] == sd.version:
            x, y, w, h = tiles["representation"]
            r = res.representation.shape[0]
            img[y:y + h, x:x + w] = representation_plot(
                res.representation.reshape(r, -1).mean(1),
                np.abs(res.representation * res.representation_grad).reshape(r, -1).sum(1), sd.owner, w, h)
        rgb8 = to_uint8(img)
        self._base_cache = (key, img, rgb8)
        return img, rgb8

    def canvas(self) -> np.ndarray:
        """The window image: ``(H, W, 3)`` float32 in [0, 1], y down (the patch marked in red)."""
        img = self._base()[0].copy()
        if self.mode() == "patch":
            self._mark_patch(img, {t[0]: t[1:] for t in self.layout().tiles}["prediction"], 1.0)
        return img

    def canvas_rgb8(self) -> np.ndarray:
        """:meth:`canvas` as uint8 (what the window uploads)."""
        img = self._base()[1].copy()
        if self.mode() == "patch":
            self._mark_patch(img, {t[0]: t[1:] for t in self.layout().tiles}["prediction"], 255)
        return img

    def _mark_patch(self, img: np.ndarray, tile, one) -> None:
        x, y, w, h = tile
        k = w / self.size
        x0, x1, y0, y1 = self.patch_box()
        a, b = x + int(x0 * k), x + int(math.ceil(x1 * k))
        c, d = y + int(y0 * k), y + int(math.ceil(y1 * k))
        red = np.array([one, 0, 0], img.dtype)
        if (x1 - x0) * k <= 6:                      # small patch: a filled red dot
            img[c:d, a:b] = red
        else:                                        # larger: its outline, 2 px
            img[c:c + 2, a:b] = red
            img[d - 2:d, a:b] = red
            img[c:d, a:a + 2] = red
            img[c:d, b - 2:b] = red

    def tile_at(self, cx: float, cy: float) -> Optional[Tuple[str, float, float]]:
        """(tile name, image pixel x, image pixel y) under canvas point (cx, cy), or None."""
        for name, x, y, w, h in self.layout().tiles:
            if x <= cx < x + w and y <= cy < y + h and name != "representation":
                return name, (cx - x) * self.size / w, (cy - y) * self.size / h
        return None

    def status(self) -> str:
        res = self.result
        t = ""
        if res is not None:
            t = f"; last update {1000 * res.seconds:.0f} ms + observations {1000 * res.observation_seconds:.0f} ms"
        return (f"target: {self.target_text()}\n{self.size}x{self.size}, {self.n_observations()} observations, "
                f"{self.spp} spp{t}")

    # ------------------------------------------------------------------ saving
    def settings_dict(self) -> dict:
        sd = self.scene_data
        desc = sd.desc if sd is not None else self._scene_desc
        return {"format": "cnsr-attribution-settings", "version": 1, "controls": self.settings.to_dict(),
                "scene_file": "scene.json", "query_camera": desc["query_camera"],
                "observation_cameras": desc["observation_cameras"], "seeds": desc["seeds"],
                "spp": desc["spp"], "size": desc["size"], "source_scene_file": desc.get("source")}

    def arrays(self) -> Dict[str, np.ndarray]:
        """The arrays of a result folder: query buffers and their attributions, observation
        buffers and theirs, the representation and its gradient, the partitions, the images."""
        self.wait()
        sd, res = self.scene_data, self.result
        out: Dict[str, np.ndarray] = {}
        for k in self.query_passes:
            if k in sd.query:
                out[f"query.{k}"] = sd.query[k]
            if k in res.query:
                out[f"query_attribution.{k}"] = res.query[k]
        for k in self.observation_passes:
            out[f"observation.{k}"] = sd.observations[k]
            out[f"observation_attribution.{k}"] = res.observations[k]
        out["representation"] = res.representation
        out["representation_gradient"] = res.representation_grad
        out["partition_owner"] = sd.owner.astype(np.int64)
        for p, name in enumerate(A.PARTITIONS):
            idx = np.nonzero(sd.owner == p)[0]
            out[name] = np.array([idx.min(), idx.max() + 1] if idx.size else [-1, -1], np.int64)
        out["prediction"] = res.prediction
        out["reference"] = sd.query.get(self.output_pass, sd.query.get("beauty"))
        if self.settings.replaced is not None and self.replaced_image is not None:
            out["replaced"] = self.replaced_image[1]
        out["target"] = np.array(res.target)
        return out

    def save(self, figure: Optional[np.ndarray] = None) -> Path:
        """'Save': a new folder ``<out_folder>/<date>_<time>`` with settings.json, settings.txt
        (the release's format), scene.json, figure.png (``figure``, default the canvas) and
        arrays.npz. Returns the folder."""
        self.wait()
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        folder = self.out_folder / stamp
        i = 1
        while folder.exists():
            i += 1
            folder = self.out_folder / f"{stamp}_{i}"
        folder.mkdir(parents=True)
        with atomic_path(folder / "scene.json") as tmp:
            tmp.write_text(json.dumps(self.scene_data.desc["scene"], indent=2))
        with atomic_path(folder / "settings.json") as tmp:
            tmp.write_text(json.dumps(self.settings_dict(), indent=2))
        with atomic_path(folder / "settings.txt") as tmp:
            tmp.write_text(self.settings.to_release_text(str(folder / "scene.json")))
        write_png(folder / "figure.png", self.canvas() if figure is None else figure)
        with atomic_path(folder / "arrays.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **self.arrays())
        self.last_save = folder
        return folder

    def load_settings(self, path: str, scene_file: Optional[str] = None) -> None:
        """Restore a saved view: a ``settings.json`` of :meth:`save` (the same scene, views,
        render seeds and controls, so the same arrays), or the release's ``settings.txt`` (its
        scene file, new observations). ``scene_file`` replaces the settings' scene. 'New Scene'
        afterwards draws random scenes as usual (new views of ``scene_file`` when given)."""
        p = Path(path)
        if p.suffix.lower() == ".json":
            d = read_json_file(p, SettingsError, "attribution settings file")
            if not isinstance(d, dict) or d.get("format") != "cnsr-attribution-settings":
                raise SettingsError(f"{p}: not an attribution settings file (field 'format')")
            for k in ("controls", "query_camera", "observation_cameras", "seeds", "spp", "size"):
                if k not in d:
                    raise SettingsError(f"{p}: missing field {k!r}")
            settings = AttributionSettings.from_dict(d["controls"], f"{p}: controls")
            if int(d["size"]) != self.size:
                raise SettingsError(f"{p}: field 'size' is {d['size']}, the viewer renders at {self.size} "
                                    f"(use --render_size {d['size']})")
            scene_path = scene_file or str(p.parent / d.get("scene_file", "scene.json"))
            scene = self._scene_from_file(scene_path)
            obs = d["observation_cameras"]
            if not isinstance(obs, list) or not obs or len(d["seeds"]) != len(obs) + 1:
                raise SettingsError(f"{p}: fields 'observation_cameras' and 'seeds' do not match "
                                    "(one seed per observation and one for the query)")
            self.views = len(obs)
            self.spp = int(d["spp"])
            desc = {"scene": scene, "query_camera": d["query_camera"] if scene_file is None else scene["camera"],
                    "observation_cameras": obs, "seeds": [int(s) for s in d["seeds"]], "spp": self.spp,
                    "size": self.size, "source": scene_path}
        else:
            try:
                text = p.read_text()
            except OSError as e:
                raise SettingsError(f"{p}: cannot read the settings file ({e.strerror or e})") from None
            settings, scene_path = AttributionSettings.from_release_text(text, str(p))
            if scene_file is not None:
                scene_path = scene_file
            elif not Path(scene_path).is_file() and (p.parent / Path(scene_path).name).is_file():
                scene_path = str(p.parent / Path(scene_path).name)
            scene = self._scene_from_file(scene_path)
            desc = {"scene": scene, "query_camera": dict(scene["camera"]),
                    "observation_cameras": self._jittered(scene["camera"]), "seeds": self._seeds(),
                    "spp": self.spp, "size": self.size, "source": scene_path}
        if settings.observation_buffer not in self.observation_passes:
            raise SettingsError(f"{p}: observation buffer {settings.observation_buffer!r} is not one of "
                                f"{self.observation_passes}")
        if settings.query_buffer not in self.query_passes:
            raise SettingsError(f"{p}: query buffer {settings.query_buffer!r} is not one of {self.query_passes}")
        # 'New Scene' afterwards: random scenes again (new views of --scene_file when given)
        self.settings = settings
        self.set_patch_size(settings.patch_size)
        self._set_scene(desc)


class BackgroundUpdater:
    """Runs :meth:`AttributionViewerState.update` in a thread whenever the controls ask for a
    new attribution, so that the window keeps drawing. ``error`` holds the last exception."""

    def __init__(self, state: AttributionViewerState, poll: float = 0.01):
        self.state, self.poll = state, poll
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attribution-update", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.state.needs_update():
                    self.state.update(progressive=True)
                    continue
            except Exception as e:  # noqa: BLE001 - shown in the window, the thread goes on
                self.error = e
                time.sleep(0.5)
            self._stop.wait(self.poll)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

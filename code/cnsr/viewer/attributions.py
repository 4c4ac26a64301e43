"""State of ``visualize-attributions.py``, without any GL: the scene and its observations, the
model, the current gradient x input attribution, what the controls ask for, and the layout of the
window's tiles.

The parts live beside it: the controls and their two settings file formats in
:mod:`.attribution_settings`, the colouring of attributions in :mod:`.colouring`, the scene,
observation and batch handling shared with the GQN viewer in :mod:`.session`, the background
thread in :mod:`.background`.

The attributions come from :class:`cnsr.analysis.attribution.AttributionSession`. :meth:`update`
computes what the controls ask for; it can run in a background thread
(:class:`~cnsr.viewer.background.BackgroundUpdater`) while the window keeps drawing the last
result: a patch update publishes the query attributions and the representation's gradient first
and the observations' attributions (a backward pass through the encoder) after them.

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
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ..analysis import attribution as A
from ..io.png import to_uint8
from ..io.preview import display, to_hwc
from ..models.partition import PARTITIONS
from . import TileCanvas
from .attribution_settings import (PATCH_MAX, PATCH_MIN, RANGE_MAX_DEFAULT, RANGE_MAX_LIMIT, RANGE_MIN_LIMIT, REPLACE,
                                   AttributionSettings, SettingsError, frac_to_index, index_to_frac,
                                   read_view_file, view_document, write_view_folder)
from .colouring import colorize, representation_plot
from .session import ViewerSession

COLUMNS = 5
GAP = 4


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


class AttributionViewerState(ViewerSession):
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
        super().__init__(cfg, model, renderer, scene_file, seed, views, size, device)
        self.out_folder = Path(out_folder)
        self.spp = max(1, int(spp or cfg.samples_per_pixel))
        self.seed = int(seed)
        self.query_passes = A.query_passes(model)
        self.observation_passes = A.observation_passes(model)
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

    def new_scene(self) -> None:
        """'New Scene': a new random scene (or the scene file again with new observations): its
        camera is the query view, the observations are new random views of it."""
        scene = self.draw_scene(SettingsError)
        query_cam = dict(scene["camera"])
        obs = self.observation_cameras(query_cam)
        self._set_scene({"scene": scene, "query_camera": query_cam, "observation_cameras": obs,
                         "seeds": self._seeds(), "spp": self.spp, "size": self.size,
                         "source": self.scene_file})
        self.settings.replaced = None

    def _set_scene(self, desc: dict) -> None:
        with self._lock:
            self._scene_desc = desc
            self._scene_version += 1

    def _render_scene(self, version: int, desc: dict) -> SceneData:
        source = self.scene_source(desc["scene"], desc.get("source"))
        images, poses = self.render(source, list(desc["observation_cameras"]) + [desc["query_camera"]],
                                    desc["spp"], desc["seeds"])                    # [1, V+1, C, H, W]
        batch = self.to_batch(images, poses, len(desc["observation_cameras"]))
        query = {k: v[0].cpu().numpy().copy() for k, v in batch["query_images"].items()}
        observations = {k: v[0].cpu().numpy().copy() for k, v in batch["observation_images"].items()}
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
        parts = [(PARTITIONS[p], float(contrib[sd.owner == p].sum())) for p in range(4)
                 if p < 3 or (sd.owner == 3).any()]
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
        out["reference"] = display(op, to_hwc(sd.query[op]))
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
        """The ``settings.json`` of the view shown (:func:`~.attribution_settings.view_document`)."""
        sd = self.scene_data
        return view_document(self.settings, sd.desc if sd is not None else self._scene_desc)

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
        out["reference"] = sd.query[self.output_pass]
        if self.settings.replaced is not None and self.replaced_image is not None:
            out["replaced"] = self.replaced_image[1]
        out["target"] = np.array(res.target)
        return out

    def save(self, figure: Optional[np.ndarray] = None) -> Path:
        """'Save': a new folder ``<out_folder>/<date>_<time>`` with settings.json, settings.txt
        (the release's format), scene.json, figure.png (``figure``, default the canvas) and
        arrays.npz. Returns the folder."""
        self.wait()
        folder = write_view_folder(self.out_folder, self.scene_data.desc["scene"], self.settings_dict(),
                                   self.settings, self.canvas() if figure is None else figure, self.arrays())
        self.last_save = folder
        return folder

    def load_settings(self, path: str, scene_file: Optional[str] = None) -> None:
        """Restore a saved view: a ``settings.json`` of :meth:`save` (the same scene, views,
        render seeds and controls, so the same arrays), or the release's ``settings.txt`` (its
        scene file, new observations). ``scene_file`` replaces the settings' scene. 'New Scene'
        afterwards draws random scenes as usual (new views of ``scene_file`` when given)."""
        view = read_view_file(path)
        scene_path = scene_file or view.scene_path
        scene = self.read_scene(scene_path, SettingsError)
        if view.seeds is not None:
            if view.size != self.size:
                raise SettingsError(f"{path}: field 'size' is {view.size}, the viewer renders at {self.size} "
                                    f"(use --render_size {view.size})")
            self.views = len(view.observation_cameras)
            self.spp = view.spp
            query_cam = view.query_camera if scene_file is None else scene["camera"]
            obs, seeds = view.observation_cameras, view.seeds
        else:
            query_cam = dict(scene["camera"])
            obs, seeds = self.jittered_cameras(query_cam), self._seeds()
        settings = view.settings
        if settings.observation_buffer not in self.observation_passes:
            raise SettingsError(f"{path}: observation buffer {settings.observation_buffer!r} is not one of "
                                f"{self.observation_passes}")
        if settings.query_buffer not in self.query_passes:
            raise SettingsError(f"{path}: query buffer {settings.query_buffer!r} is not one of {self.query_passes}")
        self.settings = settings
        self.set_patch_size(settings.patch_size)
        self._set_scene({"scene": scene, "query_camera": query_cam, "observation_cameras": obs, "seeds": seeds,
                         "spp": self.spp, "size": self.size, "source": scene_path})

"""How passes are shown: one display mapping per pass kind and one grid builder.

Every image a person looks at goes through here: ``render-scene.py --png``, the contact sheets
of ``preview-scenes.py``, the TensorBoard images of training, the grids of ``evaluate.py``, the
strips of ``composite.py`` and the tiles of the interactive viewer; so one pass looks the same
everywhere.

:func:`display` maps a linear pass to RGB in [0, 1] by its display kind, the ``display`` column of
the pass table (:data:`cnsr.passes.PASS_TABLE`):

* ``radiance`` (``beauty``, ``direct``, ``indirect``, ``diffuse``, ``specular``): times ``exposure``,
  Reinhard ``x / (1 + x)`` per channel (highlights roll off instead of clipping), then the sRGB
  curve; negative values and NaN/Inf show as 0;
* ``albedo`` (a reflectance in [0, 1]): clipped to [0, 1], then the sRGB curve;
* ``direction``, unit vectors (``normal``, ``mirror``, ``mirror_normal``): ``0.5 * x + 0.5``, i.e.
  [-1, 1] -> [0, 1];
* ``position`` (``position``, ``mirror_hit``): each channel min-max normalised per image;
* ``depth``: ``1 - 0.85 * d / d_max`` per image where ``d > 0`` (near is bright, the farthest hit
  0.15), 0 where nothing was hit (``d <= 0``);
* ``id`` (the stored ``material id / max id``): the integer id ``round(v * M)``, M the smallest
  denominator that makes the image's main values whole multiples of 1/M, edge pixels that mix
  two ids aside (:func:`id_denominator`; the max id itself, or a divisor when the image shows few
  ids), coloured by the fixed
  16-colour :data:`ID_PALETTE`; 0 (id 0 and nothing hit) is black. Distinct ids of one image
  (up to 16) always get distinct colours;
* ``grey`` (``roughness``, ``shadows``, ``ao``, and names not in the table): the value clipped to
  [0, 1].

One-channel results are repeated to RGB. Per-image normalisation (positions, depth) is over
each image's pixels, never across a batch.

:func:`grid` lays out rows x columns of tiles (optional gap, nearest upscaling to a minimum tile
size, row and column labels drawn into the image with Pillow's default font);
:func:`grid_cells` gives its tile rectangles for layouts that place tiles themselves (the viewer).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..passes import PASS_TABLE
from .png import linear_to_srgb, tonemap, write_png

#: the display kinds, one mapping each (the module docstring)
DISPLAY_KINDS = ("radiance", "albedo", "direction", "position", "depth", "id", "grey")
#: grey of the space between and around tiles
BACKGROUND = 0.12
#: pixels between a label and the tiles, and around it
LABEL_PAD = 2

Rect = Tuple[int, int, int, int]   # x, y, width, height (pixels, y down)


def _torch_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (this module serves the renderer's
    scripts too, which never load torch: an object cannot be a tensor unless torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.is_tensor(x)


def display_kind(pass_name: str) -> str:
    """How a pass is shown: its ``display`` in the pass table (one of :data:`DISPLAY_KINDS`);
    ``'grey'`` for a name the table does not have."""
    info = PASS_TABLE.get(pass_name)
    return info.display if info is not None else "grey"


#: colours of ids 1, 2, ... (id 0, and nothing hit, are black); repeats after 16 ids
ID_PALETTE = np.array([
    (0.90, 0.30, 0.25), (0.30, 0.65, 0.90), (0.40, 0.80, 0.35), (0.95, 0.78, 0.20),
    (0.65, 0.40, 0.85), (0.95, 0.55, 0.20), (0.25, 0.80, 0.75), (0.90, 0.45, 0.70),
    (0.60, 0.45, 0.30), (0.75, 0.92, 0.45), (0.35, 0.40, 0.80), (0.85, 0.85, 0.85),
    (0.55, 0.20, 0.30), (0.20, 0.50, 0.35), (0.95, 0.88, 0.62), (0.45, 0.60, 0.65)])
#: largest id denominator (max id) searched for
MAX_ID = 256


def id_denominator(values: np.ndarray) -> int:
    """The smallest M <= MAX_ID that makes the image's main values whole multiples of 1/M, or 0
    when there is none (then the values are no ids of one scene).

    The id pass stores ``id / max_id`` averaged over a pixel's samples, so pixels on an edge hold
    mixtures (multiples of ``1 / (spp * max_id)``). The main values are the most frequent ones
    that together cover 80% of the nonzero pixels: the regions, not their edges."""
    v = values[values > 0]
    if v.size == 0:
        return 1
    u, counts = np.unique(v, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    covered = np.cumsum(counts[order])
    main = u[order[:int(np.searchsorted(covered, 0.8 * v.size)) + 1]]
    for m in range(1, MAX_ID + 1):
        if np.abs(main * m - np.round(main * m)).max() < 1e-3:
            return m
    return 0


def _id_colours(v: np.ndarray) -> np.ndarray:
    """``(..., H, W)`` id values -> ``(..., H, W, 3)``: each image's ids ``round(v * M)``
    (:func:`id_denominator`) coloured by :data:`ID_PALETTE`."""
    flat = v.reshape(-1, *v.shape[-2:])
    out = np.zeros(flat.shape + (3,))
    for i, img in enumerate(flat):
        m = id_denominator(img)
        if m:
            k = np.round(img * m).astype(np.int64)
        else:   # not k / M: rank the distinct values instead
            k = np.searchsorted(np.unique(img[img > 0]), img) + 1
        out[i] = np.where((img > 0)[..., None], ID_PALETTE[(np.maximum(k, 1) - 1) % len(ID_PALETTE)], 0.0)
    return out.reshape(v.shape + (3,))


def _display_hwc(pass_name: str, img: np.ndarray, exposure: float) -> np.ndarray:
    """The mapping on a channels-last array ``(..., H, W, C)``."""
    img = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    kind = display_kind(pass_name)
    if kind == "radiance":
        out = tonemap(img, exposure)
    elif kind == "albedo":
        out = linear_to_srgb(img)
    elif kind == "direction":
        out = 0.5 * img + 0.5
    elif kind == "position":
        lo = img.min(axis=(-3, -2), keepdims=True)
        hi = img.max(axis=(-3, -2), keepdims=True)
        out = (img - lo) / np.maximum(hi - lo, 1e-6)
    elif kind == "depth":
        d = img[..., :1]
        valid = d > 0
        far = np.where(valid, d, -np.inf).max(axis=(-3, -2), keepdims=True)
        far = np.where(np.isfinite(far) & (far > 0), far, 1.0)
        out = np.where(valid, 1.0 - 0.85 * d / far, 0.0)
    elif kind == "id":
        out = _id_colours(img[..., 0])
    elif kind == "grey":
        out = img
    else:
        raise ValueError(f"pass {pass_name!r}: unknown display kind {kind!r}; one of {', '.join(DISPLAY_KINDS)}")
    out = np.asarray(out, dtype=np.float64)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.clip(out[..., :3], 0.0, 1.0).astype(np.float32)


def display(pass_name: str, image: Any, exposure: float = 1.0) -> Any:
    """Pass ``pass_name`` as displayable RGB float32 in [0, 1] (rules in the module docstring).

    NumPy input is channels-last, as the renderer returns passes: ``(H, W)``, ``(..., H, W, C)``
    -> ``(..., H, W, 3)``. Torch input is channels-first, as the networks hold them:
    ``[..., C, H, W]`` -> a tensor ``[..., 3, H, W]`` on the input's device (not differentiable)."""
    if _torch_tensor(image):
        a = image.detach().float().cpu().numpy()
        out = _display_hwc(pass_name, np.moveaxis(a, -3, -1), exposure)
        return sys.modules["torch"].from_numpy(np.ascontiguousarray(np.moveaxis(out, -1, -3))).to(image.device)
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    return _display_hwc(pass_name, a, exposure)


def to_hwc(image: Any) -> np.ndarray:
    """A channels-first image ``[C, H, W]`` (or ``[1, C, H, W]``), torch tensor or NumPy array,
    as float32 channels-last NumPy ``(H, W, C)``."""
    a = image.detach().float().cpu().numpy() if _torch_tensor(image) else np.asarray(image, np.float32)
    if a.ndim == 4:
        a = a[0]
    return np.moveaxis(a, 0, -1).astype(np.float32)


def _tile(image: Any) -> np.ndarray:
    """A tile of :func:`grid` / :func:`paste` as ``(h, w, C)``: tensors are channels-first
    (:func:`to_hwc`), arrays channels-last (``(h, w)`` gets a channel axis)."""
    if _torch_tensor(image):
        return to_hwc(image)
    a = np.asarray(image, np.float32)
    return a[..., None] if a.ndim == 2 else a


def resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W, ...)`` array to ``(height, width, ...)``."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    rows = np.minimum((np.arange(height) * h) // max(height, 1), h - 1)
    cols = np.minimum((np.arange(width) * w) // max(width, 1), w - 1)
    return image[rows][:, cols]


def paste(canvas: np.ndarray, image: Any, rect: Rect) -> None:
    """Draw a displayable ``image`` (NumPy ``(h, w[, C])`` or a tensor ``[C, h, w]``; grey is repeated to RGB) into
    ``canvas`` ``(H, W, 3)`` at ``rect``, resized nearest to the rectangle and clipped to [0, 1]."""
    x, y, w, h = rect
    if w <= 0 or h <= 0:
        return
    img = _tile(image)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    canvas[y:y + h, x:x + w] = np.clip(resize_nearest(img[..., :3], h, w), 0.0, 1.0)


def grid_cells(rows: int, cols: int, tile_h: int, tile_w: int, gap: int = 0, x0: int = 0,
               y0: int = 0) -> List[Rect]:
    """Rectangles of ``rows`` x ``cols`` tiles, row-major, with ``gap`` pixels between and around
    them, the block's top-left corner at (``x0``, ``y0``)."""
    return [(x0 + gap + c * (tile_w + gap), y0 + gap + r * (tile_h + gap), tile_w, tile_h)
            for r in range(rows) for c in range(cols)]


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _text_size(text: str, font) -> Tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(math.ceil(right)), int(math.ceil(bottom))


def grid(tiles: Sequence[Sequence[Optional[Any]]], gap: int = 0, background: float = BACKGROUND,
         tile_size: Optional[Tuple[int, int]] = None, min_tile: int = 0,
         row_labels: Optional[Sequence[str]] = None, col_labels: Optional[Sequence[str]] = None,
         label_color: Tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Rows x columns of displayable tiles -> one float32 ``(H, W, 3)`` image in [0, 1].

    ``tiles[r][c]``: a displayable image (NumPy ``(h, w)`` / ``(h, w, 1|3)``, or a torch tensor
    ``[1|3, h, w]``, e.g. from :func:`display`) or None (left ``background``); rows may be
    shorter than the longest. Every tile is resized (nearest) to one tile size: ``tile_size``
    ``(h, w)`` when given, else the largest tile's height and width; ``min_tile`` then scales
    that size up by the smallest whole factor that makes both sides at least ``min_tile``.
    ``gap`` pixels of ``background`` lie between and around the tiles. ``row_labels`` are
    drawn left of the rows, ``col_labels`` above the columns, in ``label_color``."""
    rows = [list(r) for r in tiles]
    ncols = max((len(r) for r in rows), default=0)
    present = [_tile(t) for r in rows for t in r if t is not None]
    if not rows or ncols == 0 or not present:
        raise ValueError("grid: no tiles")
    if tile_size is not None:
        th, tw = int(tile_size[0]), int(tile_size[1])
    else:
        th, tw = max(t.shape[0] for t in present), max(t.shape[1] for t in present)
    if min_tile and min(th, tw) < min_tile:
        k = math.ceil(min_tile / min(th, tw))
        th, tw = th * k, tw * k
    font = _font() if (row_labels or col_labels) else None
    left = top = 0
    if row_labels:
        left = max(_text_size(str(s), font)[0] for s in row_labels) + 2 * LABEL_PAD
    if col_labels:
        top = max(_text_size(str(s), font)[1] for s in col_labels) + 2 * LABEL_PAD
    height = top + gap + len(rows) * (th + gap)
    width = left + gap + ncols * (tw + gap)
    canvas = np.full((height, width, 3), background, np.float32)
    cells = grid_cells(len(rows), ncols, th, tw, gap, left, top)
    for r, row in enumerate(rows):
        for c, t in enumerate(row):
            if t is not None:
                paste(canvas, t, cells[r * ncols + c])
    if font is not None:
        mask = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask)
        for r, text in enumerate(row_labels or []):
            _, y, _, _ = cells[r * ncols]
            draw.text((LABEL_PAD, y + max(0, (th - _text_size(str(text), font)[1]) // 2)), str(text),
                      fill=255, font=font)
        for c, text in enumerate(col_labels or []):
            x, _, _, _ = cells[c]
            draw.text((x + max(0, (tw - _text_size(str(text), font)[0]) // 2), LABEL_PAD), str(text),
                      fill=255, font=font)
        a = np.asarray(mask, np.float32)[..., None] / 255.0
        canvas = canvas * (1.0 - a) + np.asarray(label_color, np.float32) * a
    return canvas.astype(np.float32)


def write_pass_previews(prefix: str, passes: Dict[str, np.ndarray]) -> List[Path]:
    """Write ``<prefix>.<pass>.png`` (the :func:`display` of every pass); returns the paths."""
    return [Path(write_png(f"{prefix}.{name}.png", display(name, img))) for name, img in passes.items()]

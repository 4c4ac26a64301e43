"""Our dataset file format: one OpenEXR file per batch, a contact sheet of all its views.

Layout of ``batch%09d.exr`` (a batch of B scenes seen from V views at H x W pixels):

- a single-part scanline EXR image of (B*H) rows x (V*W) columns: scene ``b``, view ``v``
  is the tile at rows ``b*H .. b*H+H-1`` and columns ``v*W .. v*W+W-1`` (rows = scenes,
  columns = views, the query view last), so any EXR viewer shows the whole batch;
- one half-float channel per pass channel, named as ``render-scene.py`` names them
  (``beauty.R/G/B``, ``depth.Y``; :func:`cnsr.passes.exr_channel_names`);
- header attributes: ``cnsr.format`` ("cnsr-batch-1"), ``cnsr.scenes`` (B), ``cnsr.views`` (V),
  ``cnsr.factor`` (0 lighting, 1 geometry, 2 material, -1 all random), ``cnsr.poses``
  (float vector of B*V*16: the world-to-camera pose of every view, scene-major), and
  provenance: ``cnsr.dataset``, ``cnsr.spp`` and either ``cnsr.seed``/``cnsr.split``/``cnsr.index``
  (the batch's scenes are :func:`cnsr.data.batches.make_batch` of those) or ``cnsr.json_folder``;
- no compression by default. Uncompressed scanlines are a regular array on disk, so
  :func:`read_batch_exr` maps them straight into NumPy and copies out only the channels a
  config needs, with no per-pixel decoding at all: that is what makes loading several
  times faster than inflating the reference's ``np.savez_compressed`` batches. Compressed
  files (``compression="zip"`` etc., for users short of disk) are read through the OpenEXR
  library instead.
"""
from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from ..io.exr import write_exr
from ..passes import PASS_NAMES, channels, check_passes, exr_channel_names

FORMAT_TAG = "cnsr-batch-1"

PathLike = Union[str, os.PathLike]


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, truncated or inconsistent; the message names it."""


@dataclass
class BatchData:
    """One batch as stored on disk.

    images: pass -> array [B, V, C, H, W] (float16 as stored, or float32)
    poses:  [B, V, 16] float32 world-to-camera poses (column-major lookAt)
    factor: 0 lighting, 1 geometry, 2 material, -1 everything random
    """
    images: Dict[str, np.ndarray]
    poses: np.ndarray
    factor: int
    meta: Dict[str, object] = field(default_factory=dict)

    @property
    def shape(self):
        """(B, V, H, W) of the batch."""
        a = next(iter(self.images.values()))
        return a.shape[0], a.shape[1], a.shape[3], a.shape[4]


#: EXR compressions a batch file may use (lossless ones; "none" is what loads fastest)
COMPRESSIONS = ("none", "zip", "zips", "piz", "rle")


def atomic_target(path: Path) -> Path:
    """The hidden temporary name a file is written under before it is renamed into place."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def finish_atomic(tmp: Path, path: Path) -> None:
    """Flush ``tmp`` to disk and rename it to ``path`` (atomic on POSIX file systems)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_batch_exr(path: PathLike, images: Dict[str, np.ndarray], poses: np.ndarray, factor: int,
                    compression: str = "none", meta: Optional[Dict[str, object]] = None) -> None:
    """Write a batch atomically as one contact-sheet EXR (layout in the module docstring).

    images: pass -> [B, V, C, H, W] array (any float dtype; stored as half, clamped to its range)
    poses:  [B, V, 16] (or [B, V, 16, 1, 1]) world-to-camera poses
    meta:   extra header attributes (``dataset`` str, ``spp`` int, ``seed`` int)
    """
    path = Path(path)
    if not images:
        raise ValueError(f"{path}: a batch needs at least one pass")
    check_passes(images, f"{path}: passes")
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown EXR compression {compression!r}; one of {', '.join(COMPRESSIONS)}")
    B, V, _, H, W = next(iter(images.values())).shape
    poses = np.asarray(poses, dtype=np.float32).reshape(B, V, 16)
    sheets = {}
    for name in PASS_NAMES:
        if name not in images:
            continue
        a = np.asarray(images[name])
        if a.shape != (B, V, channels(name), H, W):
            raise ValueError(f"{path}: pass {name!r} has shape {a.shape}, expected {(B, V, channels(name), H, W)}")
        # [B, V, C, H, W] -> a (B*H) x (V*W) x C sheet: scenes down, views across
        sheets[name] = a.transpose(0, 3, 1, 4, 2).reshape(B * H, V * W, a.shape[2])
    attrs = {"cnsr.format": FORMAT_TAG, "cnsr.scenes": int(B), "cnsr.views": int(V),
             "cnsr.factor": int(factor), "cnsr.poses": poses.reshape(-1)}
    for key, value in (meta or {}).items():
        attrs[f"cnsr.{key}"] = value if isinstance(value, str) else int(value)
    write_exr(path, sheets, half=True, attrs=attrs, compression=compression)


# ---------------------------------------------------------------------- reading
_MAGIC = b"\x76\x2f\x31\x01"
_HALF = 1


def _parse_header(buf: memoryview, path: Path):
    """Parse the header of a single-part EXR: (attributes dict, offset just past the header).

    Only what we need is decoded: chlist, compression, dataWindow, lineOrder, and the
    int/string/floatvector attributes we write; everything else is kept as raw bytes.
    """
    if len(buf) < 8 or bytes(buf[:4]) != _MAGIC:
        raise DatasetError(f"{path}: not an OpenEXR file (bad magic number)")
    flags = struct.unpack_from("<I", buf, 4)[0]
    attrs = {"_flags": flags}
    pos = 8
    n = len(buf)

    def cstr(p):
        end = bytes(buf[p:p + 256]).find(b"\0")
        if end < 0:
            raise DatasetError(f"{path}: truncated header")
        return bytes(buf[p:p + end]).decode("latin-1"), p + end + 1

    while True:
        if pos >= n:
            raise DatasetError(f"{path}: truncated header")
        if buf[pos] == 0:
            pos += 1
            break
        name, pos = cstr(pos)
        typ, pos = cstr(pos)
        if pos + 4 > n:
            raise DatasetError(f"{path}: truncated header")
        size = struct.unpack_from("<i", buf, pos)[0]
        pos += 4
        if size < 0 or pos + size > n:
            raise DatasetError(f"{path}: truncated header (attribute {name!r})")
        data = buf[pos:pos + size]
        pos += size
        if typ == "chlist":
            chans, p = [], 0
            while p < size and data[p] != 0:
                end = bytes(data[p:]).find(b"\0")
                cname = bytes(data[p:p + end]).decode("latin-1")
                ptype, _, xs, ys = struct.unpack_from("<iIii", data, p + end + 1)
                chans.append((cname, ptype, xs, ys))
                p += end + 1 + 16
            attrs[name] = chans
        elif typ in ("compression", "lineOrder"):
            attrs[name] = data[0]
        elif typ == "box2i":
            attrs[name] = struct.unpack_from("<4i", data, 0)
        elif typ == "int":
            attrs[name] = struct.unpack_from("<i", data, 0)[0]
        elif typ == "string":
            attrs[name] = bytes(data).decode("utf-8")
        elif typ == "floatvector":
            attrs[name] = np.frombuffer(data, dtype="<f4").copy()
        else:
            attrs[name] = bytes(data)
    return attrs, pos


def _meta_from_attrs(attrs: Dict[str, object], path: Path):
    try:
        B, V = int(attrs["cnsr.scenes"]), int(attrs["cnsr.views"])
        factor = int(attrs["cnsr.factor"])
        poses = np.asarray(attrs["cnsr.poses"], dtype=np.float32)
    except KeyError as e:
        raise DatasetError(f"{path}: not a cnsr batch file (header attribute {e.args[0]!r} missing)") from None
    if poses.size != B * V * 16:
        raise DatasetError(f"{path}: cnsr.poses holds {poses.size} floats, expected {B}*{V}*16")
    meta = {k[5:]: v for k, v in attrs.items() if isinstance(k, str) and k.startswith("cnsr.")
            and k not in ("cnsr.poses",)}
    return B, V, factor, poses.reshape(B, V, 16), meta


def _channel_slices(names: List[str], wanted: Sequence[str], path: Path):
    """For each wanted pass, a slice selecting its channels (R, G, B order) from the sorted list."""
    index = {n: i for i, n in enumerate(names)}
    out = {}
    for p in wanted:
        try:
            idx = [index[c] for c in exr_channel_names(p)]
        except KeyError:
            have = sorted({n.split(".")[0] for n in names})
            raise DatasetError(f"{path}: pass {p!r} is not in this file (it holds {', '.join(have)})") from None
        if len(idx) == 1:
            out[p] = slice(idx[0], idx[0] + 1)
        else:
            step = idx[1] - idx[0]
            if step == 0 or any(b - a != step for a, b in zip(idx, idx[1:])):
                out[p] = idx  # not evenly spaced: fancy indexing (a copy)
            else:
                stop = idx[-1] + step
                out[p] = slice(idx[0], stop if stop >= 0 else None, step)
    return out


class ExrBatchFile:
    """An opened batch file: header parsed, pixels mapped, nothing copied yet.

    ``sheet(pass)`` gives a [B, V, C, H, W] float16 view straight onto the file's pixels
    (uncompressed files) so callers copy out exactly the scenes and views they need in one
    pass. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: PathLike):
        self.path = path = Path(path)
        self._map = None
        # Map the file rather than read it: only the pages holding the wanted channels are
        # touched and nothing is copied twice (a plain read() of a 56 MB batch costs more
        # than everything else together).
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    raise DatasetError(f"{path}: empty file (truncated)")
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
        if hasattr(self._map, "madvise") and hasattr(mmap, "MADV_WILLNEED"):
            self._map.madvise(mmap.MADV_WILLNEED)  # start reading ahead while we parse
        buf = memoryview(self._map)
        attrs, pos = _parse_header(buf, path)
        if attrs["_flags"] & 0x1A00:  # tiled, deep or multi-part: not ours
            raise DatasetError(f"{path}: not a cnsr batch file (tiled, deep or multi-part EXR)")
        B, V, self.factor, self.poses, self.meta = _meta_from_attrs(attrs, path)
        try:
            chans = attrs["channels"]
            x0, y0, x1, y1 = attrs["dataWindow"]
        except KeyError as e:
            raise DatasetError(f"{path}: EXR header lacks {e.args[0]!r}") from None
        rows, cols = y1 - y0 + 1, x1 - x0 + 1
        if rows <= 0 or cols <= 0 or rows % B or cols % V:
            raise DatasetError(f"{path}: image {cols}x{rows} is not {V} views x {B} scenes")
        self.shape = (B, V, rows // B, cols // V)
        self._names = [c[0] for c in chans]
        self.passes = [p for p in PASS_NAMES if all(c in self._names for c in exr_channel_names(p))]
        self._slices = {}
        simple = (attrs.get("compression") == 0 and attrs.get("lineOrder", 0) == 0
                  and all(c[1] == _HALF and c[2] == 1 and c[3] == 1 for c in chans))
        if simple:
            self._lines = _uncompressed_lines(buf, pos, rows, cols, len(self._names), y0, path)
        else:
            self._lines = None  # decoded lazily by the library, only if pixels are asked for
        self._rows, self._cols = rows, cols

    def sheet(self, name: str) -> np.ndarray:
        """Pass ``name`` as a [B, V, C, H, W] float16 array (a view onto the file when uncompressed)."""
        if name not in self._slices:
            self._slices.update(_channel_slices(self._names, [name], self.path))
        if self._lines is None:
            self._lines = _library_lines(self.path, self._names, self._rows, self._cols)
        B, V, H, W = self.shape
        C = channels(name)
        return self._lines[:, self._slices[name]].reshape(B, H, C, V, W).transpose(0, 3, 2, 1, 4)

    def close(self) -> None:
        self._lines = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a caller still holds a view; the GC closes the map later
                pass
            self._map = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_batch_exr(path: PathLike, passes: Optional[Iterable[str]] = None,
                   dtype=np.float16) -> BatchData:
    """Read a batch written by :func:`write_batch_exr`, only the given ``passes`` (None = all).

    Returns images as pass -> [B, V, C, H, W] arrays of ``dtype``. Uncompressed files are
    mapped directly (fast path); other compressions go through the OpenEXR library.
    Raises :class:`DatasetError` naming the file when it is corrupt, truncated or lacks a pass.
    """
    with ExrBatchFile(path) as f:
        wanted = f.passes if passes is None else check_passes(passes, f"{path}: passes")
        images = {p: np.array(f.sheet(p), dtype=dtype, order="C") for p in wanted}
        return BatchData(images=images, poses=f.poses, factor=f.factor, meta=dict(f.meta))


def _uncompressed_lines(buf: memoryview, pos: int, rows: int, cols: int, nch: int, y0: int,
                        path: Path) -> np.ndarray:
    """The pixel data of an uncompressed half-float scanline EXR as a [rows, nch, cols] view."""
    table_end = pos + 8 * rows
    if table_end > len(buf):
        raise DatasetError(f"{path}: truncated (line offset table incomplete)")
    offsets = np.frombuffer(buf, dtype="<u8", count=rows, offset=pos)
    chunk = 8 + 2 * nch * cols   # int32 y, int32 byte count, then every channel's line
    start = int(offsets[0])
    if rows > 1 and not np.all(np.diff(offsets.astype(np.int64)) == chunk):
        raise DatasetError(f"{path}: corrupt line offset table")
    end = start + rows * chunk
    if end > len(buf):
        raise DatasetError(f"{path}: truncated ({len(buf)} bytes, expected {end})")
    block = np.frombuffer(buf, dtype=np.uint8, count=rows * chunk, offset=start).reshape(rows, chunk)
    head = block[[0, -1], :8].copy().view("<i4")
    if head[0, 0] != y0 or head[1, 0] != y0 + rows - 1 or head[0, 1] != chunk - 8:
        raise DatasetError(f"{path}: corrupt scanline data")
    return block[:, 8:].view(np.float16).reshape(rows, nch, cols)


def _library_lines(path: Path, names: List[str], rows: int, cols: int) -> np.ndarray:
    """Decode a (compressed) file with the OpenEXR library into the same [rows, nch, cols] layout."""
    import OpenEXR  # optional library, needed only for compressed files: imported when one is read

    try:
        f = OpenEXR.File(str(path), separate_channels=True)
        ch = f.channels()
    except Exception as e:  # the library raises plain exceptions on damaged data
        raise DatasetError(f"{path}: corrupt or truncated EXR ({e})") from None
    out = np.empty((rows, len(names), cols), dtype=np.float16)
    for i, n in enumerate(names):
        out[:, i, :] = ch[n].pixels
    return out


def read_batch_meta(path: PathLike) -> Dict[str, object]:
    """Header attributes of a batch file (scenes, views, factor, poses, ...) without its pixels."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read(1 << 20)
    attrs, _ = _parse_header(memoryview(raw), path)
    B, V, factor, poses, meta = _meta_from_attrs(attrs, path)
    meta.update(scenes=B, views=V, factor=factor, poses=poses,
                passes=[p for p in PASS_NAMES if all(c in [x[0] for x in attrs["channels"]]
                                                       for c in exr_channel_names(p))])
    return meta

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
  :func:`read_batch_exr` reads them in one piece into NumPy and copies out only the channels a
  config needs, with no per-pixel decoding at all: that is what makes loading several
  times faster than inflating the reference's ``np.savez_compressed`` batches. Compressed
  files (``compression="zip"`` etc., for users short of disk) are read through the OpenEXR
  library instead.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from ..io.atomic import fsync_file
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
    fsync_file(tmp)
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
#: Largest scene or view count a header may claim (a batch of the paper's datasets holds 16 x 4).
MAX_BATCH_DIM = 1 << 16
#: Factors a batch may have: 0 lighting, 1 geometry, 2 material, -1 everything random.
FACTORS = (-1, 0, 1, 2)
#: Sizes of the attribute types we decode (bytes), where fixed.
_FIXED = {"int": 4, "box2i": 16, "compression": 1, "lineOrder": 1}


class _NeedMore(Exception):
    """The header goes on past the bytes read so far."""


def _parse_header(buf: memoryview, path: Path, complete: bool = True):
    """Parse the header of a single-part EXR: (attributes dict, offset just past the header).

    Only what we need is decoded: chlist, compression, dataWindow, lineOrder, and the
    int/string/floatvector attributes we write; everything else is kept as raw bytes. Every
    attribute's size is checked against its type, so a damaged header is a :class:`DatasetError`
    naming the file and the attribute. ``complete=False``: ``buf`` is the start of a longer file
    (:class:`_NeedMore` when the header runs past it).
    """
    n = len(buf)
    if n < 8 and not complete:
        raise _NeedMore
    if n < 8 or bytes(buf[:4]) != _MAGIC:
        raise DatasetError(f"{path}: not an OpenEXR file (bad magic number)")
    flags = struct.unpack_from("<I", buf, 4)[0]
    attrs = {"_flags": flags}
    pos = 8

    def short():
        if not complete:
            raise _NeedMore
        raise DatasetError(f"{path}: truncated header")

    def cstr(p):
        end = bytes(buf[p:p + 256]).find(b"\0")
        if end < 0:
            if p + 256 > n:
                short()
            raise DatasetError(f"{path}: corrupt header (a name longer than 255 bytes at byte {p})")
        return bytes(buf[p:p + end]).decode("latin-1"), p + end + 1

    while True:
        if pos >= n:
            short()
        if buf[pos] == 0:
            pos += 1
            break
        name, pos = cstr(pos)
        typ, pos = cstr(pos)
        if pos + 4 > n:
            short()
        size = struct.unpack_from("<i", buf, pos)[0]
        pos += 4
        if size < 0:
            raise DatasetError(f"{path}: corrupt header (attribute {name!r} has size {size})")
        if pos + size > n:
            if not complete:
                raise _NeedMore
            raise DatasetError(f"{path}: truncated header (attribute {name!r})")
        data = buf[pos:pos + size]
        pos += size
        try:
            attrs[name] = _decode_attribute(typ, data, size)
        except (struct.error, IndexError, ValueError) as e:   # UnicodeDecodeError is a ValueError
            raise DatasetError(f"{path}: header attribute {name!r} ({typ}, {size} bytes) is malformed "
                               f"({type(e).__name__}: {e})") from None
    return attrs, pos


def _decode_attribute(typ: str, data: memoryview, size: int):
    if typ in _FIXED and size < _FIXED[typ]:
        raise ValueError(f"{typ} needs {_FIXED[typ]} bytes")
    if typ == "chlist":
        chans, p = [], 0
        while p < size and data[p] != 0:
            end = bytes(data[p:]).find(b"\0")
            if end < 0 or p + end + 1 + 16 > size:
                raise ValueError("channel list runs past the attribute")
            cname = bytes(data[p:p + end]).decode("latin-1")
            ptype, _, xs, ys = struct.unpack_from("<iIii", data, p + end + 1)
            chans.append((cname, ptype, xs, ys))
            p += end + 1 + 16
        return chans
    if typ in ("compression", "lineOrder"):
        return data[0]
    if typ == "box2i":
        return struct.unpack_from("<4i", data, 0)
    if typ == "int":
        return struct.unpack_from("<i", data, 0)[0]
    if typ == "string":
        return bytes(data).decode("utf-8")
    if typ == "floatvector":
        if size % 4:
            raise ValueError("not a whole number of floats")
        return np.frombuffer(data, dtype="<f4").copy()
    return bytes(data)


def _meta_from_attrs(attrs: Dict[str, object], path: Path):
    """The batch's shape, factor, poses and provenance from its header, every field checked."""
    def field_int(key: str, lo: int, hi: int, allowed=None) -> int:
        value = attrs[key]
        if isinstance(value, bytes) or not isinstance(value, (int, np.integer)):
            raise DatasetError(f"{path}: header attribute {key!r} must be an int, got {type(value).__name__}")
        value = int(value)
        if (allowed is not None and value not in allowed) or (allowed is None and not lo <= value <= hi):
            want = f"one of {', '.join(map(str, allowed))}" if allowed is not None else f"in [{lo}, {hi}]"
            raise DatasetError(f"{path}: header attribute {key!r} is {value}, must be {want}")
        return value

    try:
        B = field_int("cnsr.scenes", 1, MAX_BATCH_DIM)
        V = field_int("cnsr.views", 1, MAX_BATCH_DIM)
        factor = field_int("cnsr.factor", 0, 0, allowed=FACTORS)
        poses = attrs["cnsr.poses"]
    except KeyError as e:
        raise DatasetError(f"{path}: not a cnsr batch file (header attribute {e.args[0]!r} missing)") from None
    if not isinstance(poses, np.ndarray):
        raise DatasetError(f"{path}: header attribute 'cnsr.poses' must be a floatvector")
    if poses.size != B * V * 16:
        raise DatasetError(f"{path}: cnsr.poses holds {poses.size} floats, expected {B}*{V}*16")
    if not np.isfinite(poses).all():
        raise DatasetError(f"{path}: cnsr.poses holds NaN or infinite values")
    meta = {k[5:]: v for k, v in attrs.items() if isinstance(k, str) and k.startswith("cnsr.")
            and k not in ("cnsr.poses",)}
    return B, V, factor, poses.astype(np.float32).reshape(B, V, 16), meta


def _read_header(f, path: Path, size: int):
    """Read just enough of an open file to parse its header: (attrs, offset past the header)."""
    chunk = 1 << 16
    while True:
        f.seek(0)
        buf = f.read(min(chunk, size))
        try:
            return _parse_header(memoryview(buf), path, complete=len(buf) >= size)
        except _NeedMore:
            if len(buf) >= size:
                raise DatasetError(f"{path}: truncated header") from None
            chunk *= 4


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
    """An opened batch file: header parsed and checked, pixels read when first asked for.

    ``sheet(pass)`` gives a [B, V, C, H, W] float16 view onto the file's pixels (uncompressed
    files: one read of the pixel block into memory) so callers copy out exactly the scenes and
    views they need. The file is read, not mapped: a file truncated while it is being read (a
    dataset rewritten during training) is then a :class:`DatasetError` naming it, where a
    mapping would kill the process with SIGBUS. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: PathLike):
        self.path = path = Path(path)
        self._file = None
        try:
            self._file = open(path, "rb")
            size = os.fstat(self._file.fileno()).st_size
        except OSError as e:
            self.close()
            raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
        try:
            if size == 0:
                raise DatasetError(f"{path}: empty file (truncated)")
            attrs, pos = _read_header(self._file, path, size)
            self._open(attrs, pos, size)
        except OSError as e:
            self.close()
            raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
        except BaseException:
            self.close()
            raise

    def _open(self, attrs, pos: int, size: int) -> None:
        path = self.path
        if attrs["_flags"] & 0x1A00:  # tiled, deep or multi-part: not ours
            raise DatasetError(f"{path}: not a cnsr batch file (tiled, deep or multi-part EXR)")
        B, V, self.factor, self.poses, self.meta = _meta_from_attrs(attrs, path)
        try:
            chans = attrs["channels"]
            x0, y0, x1, y1 = attrs["dataWindow"]
        except KeyError as e:
            raise DatasetError(f"{path}: EXR header lacks {e.args[0]!r}") from None
        if not isinstance(chans, list) or not chans:
            raise DatasetError(f"{path}: the EXR header lists no channels")
        rows, cols = y1 - y0 + 1, x1 - x0 + 1
        if rows <= 0 or cols <= 0 or rows % B or cols % V:
            raise DatasetError(f"{path}: image {cols}x{rows} is not {V} views x {B} scenes")
        self.shape = (B, V, rows // B, cols // V)
        self._names = [c[0] for c in chans]
        self.passes = [p for p in PASS_NAMES if all(c in self._names for c in exr_channel_names(p))]
        self._slices = {}
        self._lines = None
        self._rows, self._cols, self._y0 = rows, cols, y0
        self._simple = (attrs.get("compression") == 0 and attrs.get("lineOrder", 0) == 0
                        and all(c[1] == _HALF and c[2] == 1 and c[3] == 1 for c in chans))
        if self._simple:
            self._block = _uncompressed_block(self._file, pos, rows, cols, len(self._names), size, path)

    def sheet(self, name: str) -> np.ndarray:
        """Pass ``name`` as a [B, V, C, H, W] float16 array (a view onto the pixels read)."""
        if name not in self._slices:
            self._slices.update(_channel_slices(self._names, [name], self.path))
        if self._lines is None:
            if self._file is None:
                raise DatasetError(f"{self.path}: the batch file was closed")
            if self._simple:
                self._lines = _read_lines(self._file, self._block, self._rows, self._cols, len(self._names),
                                          self._y0, self.path)
            else:
                self._lines = _library_lines(self.path, self._names, self._rows, self._cols)
        B, V, H, W = self.shape
        C = channels(name)
        return self._lines[:, self._slices[name]].reshape(B, H, C, V, W).transpose(0, 3, 2, 1, 4)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

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


def _uncompressed_block(f, pos: int, rows: int, cols: int, nch: int, size: int, path: Path):
    """Where the pixels of an uncompressed half-float scanline EXR lie: (start, chunk), checked
    against the line offset table and the file's size (a truncated file is named at once)."""
    table_end = pos + 8 * rows
    if table_end > size:
        raise DatasetError(f"{path}: truncated (line offset table incomplete)")
    f.seek(pos)
    raw = f.read(8 * rows)
    if len(raw) < 8 * rows:
        raise DatasetError(f"{path}: truncated (line offset table incomplete)")
    offsets = np.frombuffer(raw, dtype="<u8")
    chunk = 8 + 2 * nch * cols   # int32 y, int32 byte count, then every channel's line
    start = int(offsets[0])
    if rows > 1 and not np.all(np.diff(offsets.astype(np.int64)) == chunk):
        raise DatasetError(f"{path}: corrupt line offset table")
    end = start + rows * chunk
    if start < table_end or end > size:
        raise DatasetError(f"{path}: truncated ({size} bytes, expected {end})")
    return start, chunk


def _read_lines(f, block, rows: int, cols: int, nch: int, y0: int, path: Path) -> np.ndarray:
    """Read the pixel block located by :func:`_uncompressed_block` as a [rows, nch, cols] view."""
    start, chunk = block
    data = np.empty(rows * chunk, dtype=np.uint8)
    try:
        f.seek(start)
        got = f.readinto(memoryview(data))
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
    if got != data.size:
        raise DatasetError(f"{path}: truncated while being read ({start + (got or 0)} bytes, expected "
                           f"{start + data.size}): was the file rewritten during the run?")
    block = data.reshape(rows, chunk)
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
    try:
        with open(path, "rb") as f:
            attrs, _ = _read_header(f, path, os.fstat(f.fileno()).st_size)
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
    B, V, factor, poses, meta = _meta_from_attrs(attrs, path)
    names = [x[0] for x in attrs.get("channels", [])]
    meta.update(scenes=B, views=V, factor=factor, poses=poses,
                passes=[p for p in PASS_NAMES if all(c in names for c in exr_channel_names(p))])
    return meta

"""Tone mapping and a small dependency-free PNG encoder/decoder (8-bit RGB / grey).

Used for contact sheets and previews; datasets themselves are OpenEXR (see :mod:`cnsr.io`).
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Union

import numpy as np

from .atomic import atomic_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve applied to linear values clipped to [0, 1]."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def tonemap(hdr: np.ndarray, exposure: float = 1.0, reinhard: bool = True) -> np.ndarray:
    """Linear HDR ``(H, W, C)`` -> display-ready float32 in [0, 1]: exposure, Reinhard
    (``x / (1 + x)`` per channel, so highlights roll off instead of clipping), then sRGB.
    NaN/Inf become 0."""
    x = np.nan_to_num(np.asarray(hdr, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    x = np.maximum(x * float(exposure), 0.0)
    if reinhard:
        x = x / (1.0 + x)
    return linear_to_srgb(x).astype(np.float32)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 with rounding; (H, W) and (H, W, 1|3) accepted."""
    return (np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(img: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` (floats in [0, 1] are
    converted with :func:`to_uint8`)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = to_uint8(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        colour_type, channels = 0, 1
    elif a.ndim == 3 and a.shape[2] == 3:
        colour_type, channels = 2, 3
    else:
        raise ValueError(f"encode_png: expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {a.shape}")
    h, w = a.shape[:2]
    rows = a.reshape(h, w * channels)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def write_png(path: Union[str, os.PathLike], img: np.ndarray) -> Path:
    """Write ``img`` (see :func:`encode_png`) to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    data = encode_png(img)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _unfilter(raw: bytes, h: int, stride: int, bpp: int) -> np.ndarray:
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    pos = 0
    for y in range(h):
        ftype = raw[pos]
        line = np.frombuffer(raw, np.uint8, stride, pos + 1).astype(np.int32)
        pos += stride + 1
        cur = np.zeros(stride, np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        elif ftype in (1, 3, 4):
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                up = prev[i]
                if ftype == 1:
                    pred = left
                elif ftype == 3:
                    pred = (left + up) >> 1
                else:
                    ul = prev[i - bpp] if i >= bpp else 0
                    p = left + up - ul
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                cur[i] = (line[i] + pred) & 0xFF
        else:
            raise ValueError(f"PNG: unknown filter type {ftype} in row {y}")
        out[y] = cur
        prev = cur
    return out


def read_png(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an 8-bit, non-interlaced grey/RGB/RGBA PNG -> uint8 ``(H, W)`` or ``(H, W, C)``."""
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"{path}: truncated PNG chunk at byte {pos}")
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise ValueError(f"{path}: truncated PNG chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError(f"{path}: PNG without IHDR")
    w, h, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: only 8-bit non-interlaced grey/RGB/RGBA PNGs are supported")
    img = _unfilter(zlib.decompress(idat), h, w * channels, channels)
    return img.reshape(h, w) if channels == 1 else img.reshape(h, w, channels)

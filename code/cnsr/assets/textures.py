"""Image textures: PNG/JPG (and anything else Pillow reads) and OpenEXR, as (H, W, 3) float32."""
from __future__ import annotations

import os
from typing import Dict, Tuple

import numpy as np

_cache: Dict[Tuple[str, float, int], np.ndarray] = {}


def as_rgb(img) -> np.ndarray:
    """An image ``(H, W)`` or ``(H, W, 1|3|4)`` as contiguous float32 ``(H, W, 3)``: grey is
    repeated, alpha dropped. Raises ValueError for other shapes."""
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W, 3) image, got shape {img.shape}")
    return np.ascontiguousarray(np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[:, :, :3])


def load_texture(path: str) -> np.ndarray:
    """Load an image as (H, W, 3) float32, row 0 = top. 8/16-bit images are scaled to [0, 1]
    without gamma conversion (as the reference's stb loader did); EXR values are kept linear.
    Raises OSError if the file cannot be read or decoded."""
    path = os.fspath(path)
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime, st.st_size)
    if key in _cache:
        return _cache[key]
    if path.lower().endswith(".exr"):
        from ..io.exr import read_exr_image

        img = read_exr_image(path)
    else:
        img = _load_image(path)
    try:
        img = as_rgb(img)
    except ValueError as e:
        raise OSError(f"{path}: {e}") from None
    if not np.isfinite(img).all():
        raise OSError(f"{path}: texture holds non-finite values")
    _cache[key] = img
    return img


def _load_image(path: str) -> np.ndarray:
    """PNG/JPG/... through Pillow; 8-bit PNGs also without it (cnsr.io.png's decoder)."""
    try:
        from PIL import Image
    except ImportError:
        if path.lower().endswith(".png"):
            from ..io.png import read_png

            try:
                return read_png(path).astype(np.float32) / 255.0
            except (ValueError, OSError) as e:
                raise OSError(f"{path}: cannot read texture: {e}") from None
        raise OSError(f"{path}: reading this image format needs Pillow (pip install pillow)") from None
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(im, dtype=np.float32) / 65535.0
            return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except OSError as e:
        raise OSError(f"{path}: cannot read texture: {e}") from None

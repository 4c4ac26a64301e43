"""File formats: OpenEXR pass files (:mod:`cnsr.io.exr`) and PNG previews (:mod:`cnsr.io.png`:
tone mapping and a dependency-free PNG codec)."""
from .exr import read_exr, read_exr_attrs, read_exr_image, write_exr

__all__ = ["read_exr", "read_exr_attrs", "read_exr_image", "write_exr"]

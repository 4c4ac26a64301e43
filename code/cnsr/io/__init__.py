"""File formats: OpenEXR pass files (:mod:`cnsr.io.exr`), PNG previews (:mod:`cnsr.io.png`:
tone mapping and a dependency-free PNG codec), the pass-to-display mapping
(:mod:`cnsr.io.preview`) and atomic file writes (:mod:`cnsr.io.atomic`)."""
from .exr import read_exr, read_exr_attrs, read_exr_image, write_exr

__all__ = ["read_exr", "read_exr_attrs", "read_exr_image", "write_exr"]

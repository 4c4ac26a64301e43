"""File formats: PNG previews (:mod:`cnsr.io.png`: tone mapping and a dependency-free PNG codec)."""

"""Registers the built-in meshes under our names and the reference system's OBJ basenames."""
from __future__ import annotations

from . import register_mesh
from .shapes import cube_mesh, cylinder_mesh, dodecahedron_mesh
from .teapot import teapot_mesh

for _name in ("teapot", "teapot2"):
    register_mesh(_name, teapot_mesh, overwrite=False)
for _name in ("cube", "cube_bigger"):
    register_mesh(_name, cube_mesh, overwrite=False)
register_mesh("dodecahedron", dodecahedron_mesh, overwrite=False)
register_mesh("cylinder", cylinder_mesh, overwrite=False)

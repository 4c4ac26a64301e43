"""Python side of the renderer: scene JSON -> C++ scene, camera, pose, and rendering.

``Renderer`` is the entry point (see its docstring and docs/ARCHITECTURE.md); bad input
raises :class:`SceneError` (a ``ValueError``) naming the file and field.
"""
from .camera import look_at_matrix, look_at_pose, ray_directions
from .renderer import Renderer, render_scene
from .scene import CompiledScene, SceneError, compile_scene, read_scene

__all__ = ["Renderer", "render_scene", "SceneError", "CompiledScene", "compile_scene", "read_scene",
           "look_at_pose", "look_at_matrix", "ray_directions"]

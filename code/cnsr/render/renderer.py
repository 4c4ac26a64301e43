"""The Python face of the C++ path tracer."""
from __future__ import annotations

import math
from typing import Dict, Iterable, Optional, Sequence

import numpy as np

from ..passes import PASS_NAMES, check_passes
from .camera import look_at_pose
from .scene import INT_LIMIT, VALUE_LIMIT, CameraSettings, CompiledScene, SceneError, SceneSource, compile_scene

#: Largest image side ``render`` accepts (the output alone is 3 GB of float32 per 3-channel
#: pass at this size).
MAX_IMAGE_SIZE = 16384


class Renderer:
    """Renders one camera view of a scene into G-buffer passes.

    >>> r = Renderer(threads=0)                 # 0 = all cores
    >>> r.load_scene("scene.json")              # JSON string, path or dict
    >>> r.set_camera([0, 1, 3], [0, 0, 0], fov=75)
    >>> out = r.render(size=64, spp=16, seed=0, passes=["beauty", "normal"])
    >>> out["beauty"].shape                     # (64, 64, 3) float32, row 0 = top
    >>> r.pose()                                # (16,) float32 world-to-camera, column-major

    Rendering releases the GIL and is deterministic for a seed whatever the thread count.
    """

    def __init__(self, threads: int = 0, nee: bool = True):
        self.threads = int(threads)
        self.nee = bool(nee)
        self._scene: Optional[CompiledScene] = None
        self._camera: Optional[CameraSettings] = None
        self._native_camera = None
        self.bounces: Optional[int] = None  # None = the scene's setting
        #: Ray counts of the last render: {"rays_intersect": int, "rays_occluded": int}.
        self.last_stats: Dict[str, int] = {}
        self.hide_lights: Optional[bool] = None  # None = the scene's setting

    # -- scene and camera ---------------------------------------------------------------------
    def load_scene(self, scene: SceneSource) -> CompiledScene:
        """Load a scene (JSON string, file path or dict); its camera, if any, becomes current.
        Relative file names resolve against the scene file's folder, then the asset registry."""
        compiled = compile_scene(scene)
        self._scene = compiled
        if compiled.camera is not None:
            c = compiled.camera
            self.set_camera(c.position, c.lookat, c.fov, c.near, c.far)
        return compiled

    @property
    def scene(self) -> CompiledScene:
        if self._scene is None:
            raise SceneError("no scene loaded: call load_scene() first")
        return self._scene

    def set_camera(self, position: Sequence[float], lookat: Sequence[float], fov: Optional[float] = None,
                   near: Optional[float] = None, far: Optional[float] = None) -> None:
        """Pinhole camera at ``position`` looking at ``lookat`` (+Y up); unspecified fov/near/far
        keep their previous values (defaults 75 degrees, 0.01, 100)."""
        from .. import _renderer  # the C++ extension, imported when used: scene parsing works without a build

        prev = self._camera or CameraSettings((0.0, 0.0, 0.0), (0.0, 0.0, -1.0))
        pos = _vec3(position, "camera position")
        look = _vec3(lookat, "camera lookat")
        if np.allclose(pos, look):
            raise SceneError("camera position and lookat must differ")
        fov = prev.fov if fov is None else _scalar(fov, "camera fov")
        near = prev.near if near is None else _scalar(near, "camera near")
        far = prev.far if far is None else _scalar(far, "camera far")
        if not (0.0 < fov < 180.0):
            raise SceneError(f"camera fov must be in (0, 180) degrees, got {fov}")
        if not (near > 0.0 and far > near and math.isfinite(far)):
            raise SceneError(f"camera needs 0 < near < far, got near={near}, far={far}")
        self._camera = CameraSettings(tuple(pos.tolist()), tuple(look.tolist()), fov, near, far)
        self._native_camera = _renderer.Camera(list(pos), list(look), fov, near, far)

    def set_nee(self, enabled: bool) -> None:
        """Next-event estimation on (default) or off (pure BSDF sampling, for 'nonee' references)."""
        self.nee = bool(enabled)

    @property
    def camera(self) -> Optional[CameraSettings]:
        return self._camera

    def pose(self) -> np.ndarray:
        """(16,) float32 world-to-camera lookAt matrix, column-major (translation at 12, 13, 14)."""
        if self._native_camera is None:
            raise SceneError("no camera set: call set_camera() or load a scene with a camera")
        return np.asarray(self._native_camera.pose(), dtype=np.float32)

    # -- rendering ----------------------------------------------------------------------------
    def render(self, size: int = 64, spp: int = 16, seed: Optional[int] = 0,
               passes: Optional[Iterable[str]] = None, threads: Optional[int] = None) -> Dict[str, np.ndarray]:
        """Render the current view. ``passes=None`` renders all 16; only the requested passes are
        computed. ``seed=None`` uses the scene's seed. Returns {pass: float32 (size, size, C)}."""
        from .. import _renderer  # the C++ extension, imported when used (see set_camera)

        scene = self.scene
        if self._native_camera is None:
            raise SceneError(f"{scene.name}: no camera: the scene has none and set_camera() was not called")
        size = _positive_int(size, "size", MAX_IMAGE_SIZE)
        spp = _positive_int(spp, "spp", INT_LIMIT)
        bounces = scene.bounces if self.bounces is None else _nonnegative_int(self.bounces, "bounces")
        names = list(PASS_NAMES) if passes is None else list(dict.fromkeys(check_passes(passes)))
        if not names:
            raise ValueError("passes: at least one pass must be requested")
        seed = (scene.seed if seed is None else int(seed)) & ((1 << 64) - 1)
        nthreads = self.threads if threads is None else int(threads)
        out, self.last_stats = _renderer.render(
            scene.native, self._native_camera, size, size, spp, seed, names, max(0, nthreads),
            bounces,
            scene.hide_lights if self.hide_lights is None else bool(self.hide_lights),
            self.nee, list(scene.background), True)
        return {n: out[n] for n in names}


def render_scene(scene: SceneSource, size: int = 64, spp: int = 16, seed: Optional[int] = 0,
                 passes: Optional[Iterable[str]] = None, threads: int = 0, nee: bool = True) -> Dict[str, np.ndarray]:
    """One-shot: load ``scene`` and render it from its own camera."""
    r = Renderer(threads=threads, nee=nee)
    r.load_scene(scene)
    return r.render(size=size, spp=spp, seed=seed, passes=passes)


def _vec3(v, what: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SceneError(f"{what} must be 3 numbers, got {v!r}") from None
    if a.shape != (3,) or not np.isfinite(a).all():
        raise SceneError(f"{what} must be 3 finite numbers, got {v!r}")
    if not (np.abs(a) <= VALUE_LIMIT).all():
        raise SceneError(f"{what} must be at most {VALUE_LIMIT:g} in magnitude, got {a.tolist()}")
    return a


def _scalar(v, what: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        raise SceneError(f"{what} must be a number, got {v!r}") from None
    if not (math.isfinite(x) and abs(x) <= VALUE_LIMIT):
        raise SceneError(f"{what} must be finite and at most {VALUE_LIMIT:g} in magnitude, got {v!r}")
    return x


def _positive_int(v, what: str, hi: int = INT_LIMIT) -> int:
    try:
        ok = not isinstance(v, bool) and int(v) == v and 0 < int(v) <= hi
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{what} must be an integer in [1, {hi}], got {v!r}")
    return int(v)


def _nonnegative_int(v, what: str) -> int:
    try:
        ok = not isinstance(v, bool) and int(v) == v and 0 <= int(v) <= INT_LIMIT
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{what} must be an integer in [0, {INT_LIMIT}], got {v!r}")
    return int(v)


__all__ = ["Renderer", "render_scene", "look_at_pose"]

"""Agreement with an independent renderer: Mitsuba 3 (scalar_rgb) on a diffuse scene lit by a
sphere light. Stated tolerance: image mean within 2 %, every 4x4 block within 8 % + 0.01."""
import math

import numpy as np
import pytest

from cnsr.render import Renderer
from cnsr.render.scene import grid_quad
from render_helpers import material

mi = pytest.importorskip("mitsuba")

EMISSION, RADIUS, LIGHT = 12.0, 0.3, [0.6, 1.6, 0.4]
CAMERA = {"position": [0.3, 1.2, 3.2], "lookat": [0.0, 0.6, 0.0], "fov": 50.0}
OBJECTS = [  # (name, colour, our geometry entry)
    ("floor", [0.7, 0.7, 0.7], {"type": "grid", "position": [0, 0, 0], "normal": [0, 1, 0], "size": [4, 1, 4]}),
    ("wall", [0.8, 0.3, 0.2], {"type": "grid", "position": [0, 1, -2], "normal": [0, 0, 1], "size": [4, 2, 1]}),
    ("side", [0.2, 0.7, 0.3], {"type": "grid", "position": [-2, 1, 0], "normal": [1, 0, 0], "size": [1, 2, 4]}),
    ("ball", [0.2, 0.5, 0.8], {"type": "sphere", "position": [-0.5, 0.5, 0], "radius": 0.5}),
]


def our_scene(bounces):
    mats = {n: material(c) for n, c, _ in OBJECTS}
    mats["light"] = material((0, 0, 0), emission=(EMISSION,) * 3)
    geo = [dict(g, material=n) for n, _, g in OBJECTS]
    return {"bounces": bounces, "hide_lights": False, "camera": CAMERA, "materials": mats, "geometry": geo,
            "lights": [{"type": "sphere", "material": "light", "position": LIGHT, "radius": RADIUS}]}


def mitsuba_scene(bounces, size, spp):
    T = mi.ScalarTransform4f
    d = {"type": "scene",
         # Mitsuba's max_depth counts path segments including the camera ray
         "integrator": {"type": "path", "max_depth": bounces + 1, "rr_depth": 1000},
         "sensor": {"type": "perspective", "fov": CAMERA["fov"], "fov_axis": "y",
                    "to_world": T().look_at(origin=CAMERA["position"], target=CAMERA["lookat"], up=[0, 1, 0]),
                    "film": {"type": "hdrfilm", "width": size, "height": size, "rfilter": {"type": "box"}},
                    "sampler": {"type": "independent", "sample_count": spp}}}
    for name, colour, g in OBJECTS:
        bsdf = {"type": "diffuse", "reflectance": {"type": "rgb", "value": colour}}
        if g["type"] == "sphere":
            d[name] = {"type": "sphere", "center": g["position"], "radius": g["radius"], "bsdf": bsdf}
        else:
            c, e1, e2, n = grid_quad(np.array(g["position"], float), np.array(g["normal"], float),
                                     np.array(g["size"], float), np.eye(4))
            m = np.eye(4)
            m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = e1 / 2, e2 / 2, n, c + e1 / 2 + e2 / 2
            d[name] = {"type": "rectangle", "to_world": T(m.tolist()), "bsdf": bsdf}
    le = EMISSION / (4 * math.pi * RADIUS ** 2)
    d["light"] = {"type": "sphere", "center": LIGHT, "radius": RADIUS,
                  "emitter": {"type": "area", "radiance": {"type": "rgb", "value": [le] * 3}},
                  "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0, 0, 0]}}}
    return d


def test_agrees_with_mitsuba_on_a_diffuse_scene():
    mi.set_variant("scalar_rgb")
    size, spp, bounces = 24, 256, 3
    ref = np.array(mi.render(mi.load_dict(mitsuba_scene(bounces, size, spp)), spp=spp, seed=0))[..., :3]
    r = Renderer(threads=2)
    r.load_scene(our_scene(bounces))
    ours = r.render(size=size, spp=spp, seed=0, passes=["beauty"])["beauty"]
    assert ours.mean() == pytest.approx(ref.mean(), rel=0.02)
    blocks = lambda a: a.reshape(size // 4, 4, size // 4, 4, 3).mean(axis=(1, 3))  # noqa: E731
    bo, br = blocks(ours), blocks(ref)
    assert (np.abs(bo - br) <= 0.08 * br + 0.01).all(), np.abs(bo - br).max()

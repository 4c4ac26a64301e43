"""The lane loops: every instruction-set build the CPU runs (baseline, AVX2, AVX-512) renders
the same bits, spheres in the BVH give the same images as the spheres' lane loops, and the lane
loops' sine/cosine is accurate."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnsr import _renderer
from render_helpers import box_room

ROOT = Path(__file__).resolve().parents[2]


def test_lane_sincos_matches_libm():
    x = np.concatenate([np.linspace(-np.pi, 2 * np.pi, 100001), [0.0, np.pi / 4, np.pi / 2, np.pi, 1e-20, -1e-20]])
    x = x.astype(np.float32)
    s, c = (np.asarray(v, np.float64) for v in _renderer._lane_sincos(x.tolist()))
    xd = x.astype(np.float64)
    assert np.abs(s - np.sin(xd)).max() < 2e-7
    assert np.abs(c - np.cos(xd)).max() < 2e-7
    assert np.all(np.abs(s) <= 1.0) and np.all(np.abs(c) <= 1.0)
    assert s[x == 0][0] == 0.0 and c[x == 0][0] == 1.0


_RENDER = """
import json, sys
import numpy as np
from cnsr import _renderer
from cnsr.render import Renderer
r = Renderer(threads=2)
r.load_scene(json.loads(sys.argv[1]))
out = r.render(size=16, spp=3, seed=5)
r.set_nee(False)
out.update({"nonee_" + k: v for k, v in r.render(size=16, spp=3, seed=5, passes=["beauty", "diffuse"]).items()})
np.savez(sys.argv[2], isa=np.array(_renderer.lanes_isa()), **out)
"""
ISAS = {"baseline": 0, "avx2": 1, "avx512": 2}
WIDER = [isa for isa in ("avx2", "avx512") if ISAS[isa] <= ISAS[_renderer.lanes_isa()]]


def render_with(tmp_path, scene, isa):
    env = dict(os.environ, CNSR_LANES=isa, PYTHONPATH=str(ROOT / "code"))
    env.pop("CNSR_NO_AVX2", None)
    out = tmp_path / f"{isa}.npz"
    subprocess.run([sys.executable, "-c", _RENDER, json.dumps(scene, default=list), str(out)], check=True, env=env,
                   cwd=ROOT)
    data = np.load(out)
    assert str(data["isa"]) == isa
    return data


@pytest.mark.skipif(not WIDER, reason="the CPU has no AVX2 (only the baseline build runs)")
@pytest.mark.parametrize("isa", WIDER or ["avx2"])
@pytest.mark.parametrize("which", ["box_room", "archviz", "spheres"])
def test_wide_and_baseline_lanes_render_the_same_bits(tmp_path, which, isa):
    # sphere lights and glossy objects; quad lights, textures and 8 bounces; spheres in the BVH
    if which == "box_room":
        scene = box_room(glossy=True, bounces=3)
    elif which == "archviz":
        scene = str(ROOT / "examples" / "archviz.json")
    else:
        scene = many_spheres(40)
    base, wide = render_with(tmp_path, scene, "baseline"), render_with(tmp_path, scene, isa)
    for name in base.files:
        if name != "isa":
            np.testing.assert_array_equal(wide[name], base[name], err_msg=name)


def many_spheres(n, seed=0):
    """A room of grids with n small spheres (some glossy) and a visible sphere light."""
    rng = np.random.default_rng(seed)
    scene = box_room(glossy=True, bounces=3)
    scene["materials"]["dot"] = dict(scene["materials"]["ball"], roughness=0.4)
    scene["geometry"] = [g for g in scene["geometry"] if g["type"] == "grid"] + [
        {"type": "sphere", "material": "dot" if k % 2 else "ball", "radius": float(rng.uniform(0.05, 0.2)),
         "position": [float(rng.uniform(-1.8, 1.8)), float(rng.uniform(0.1, 2.2)), float(rng.uniform(-1.8, 1.0))]}
        for k in range(n)]
    return scene


@pytest.mark.parametrize("hide_lights", [False, True])
def test_spheres_in_the_bvh_render_as_the_sphere_lane_loops(hide_lights):
    """The same scene committed with its spheres in the BVH (a user geometry) and in the lane
    loops renders identical passes (both run the same ray/sphere test)."""
    from cnsr.render.scene import compile_scene

    scene = many_spheres(30, seed=1)
    scene["hide_lights"] = hide_lights
    cam = scene["camera"]
    camera = _renderer.Camera(cam["position"], cam["lookat"], cam["fov"])
    passes = [name for name, _ in _renderer.PASSES]
    outs = []
    for bvh_min in (1, 10 ** 6):
        native = compile_scene(scene, sphere_bvh_min=bvh_min).native
        assert native.spheres_in_bvh == (bvh_min == 1)
        outs.append(_renderer.render(native, camera, 16, 16, 4, 7, passes, 2, 3, hide_lights))
    for name in passes:
        np.testing.assert_array_equal(outs[0][name], outs[1][name], err_msg=name)

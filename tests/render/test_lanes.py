"""The vectorised shading lanes: the AVX2 and baseline builds agree bit for bit, and the lane
loops' sine/cosine is accurate."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnsr import _renderer
from cnsr.render import Renderer
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
np.savez(sys.argv[2], isa=np.array(_renderer.lanes_isa()), **out)
"""


@pytest.mark.skipif(_renderer.lanes_isa() != "avx2", reason="the CPU has no AVX2 (only the baseline build runs)")
@pytest.mark.parametrize("which", ["box_room", "archviz"])
def test_avx2_and_baseline_lanes_render_the_same_bits(tmp_path, which):
    # sphere lights and glossy objects; quad lights, textures and 8 bounces
    scene = box_room(glossy=True, bounces=3) if which == "box_room" else str(ROOT / "examples" / "archviz.json")
    r = Renderer(threads=2)
    r.load_scene(scene)
    ours = r.render(size=16, spp=3, seed=5)
    env = dict(os.environ, CNSR_NO_AVX2="1", PYTHONPATH=str(ROOT / "code"))
    out = tmp_path / "baseline.npz"
    subprocess.run([sys.executable, "-c", _RENDER, json.dumps(scene), str(out)], check=True, env=env, cwd=ROOT)
    base = np.load(out)
    assert str(base["isa"]) == "baseline"
    for name, img in ours.items():
        np.testing.assert_array_equal(img, base[name], err_msg=name)

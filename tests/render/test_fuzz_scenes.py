"""Fuzzing scene descriptions: valid and mutated scene dicts either load and render or raise
SceneError naming where the problem is: never another exception, never a signal. The scenes
are drawn here (a fixed, derandomized set) and rendered in a subprocess, so that an abort in
the renderer fails the test instead of killing pytest."""
import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from render_helpers import box_room

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzzing import mutated  # noqa: E402

CODE = Path(os.environ.get("FUZZ_CODE", Path(__file__).resolve().parents[2] / "code"))

RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from cnsr.render import Renderer, SceneError
r = Renderer(threads=1)
for line in open(sys.argv[2]):
    scene = json.loads(line)
    try:
        r.load_scene(scene)
        if r.camera is None:
            r.set_camera([0, 1, 3], [0, 0, 0])
        r.render(size=4, spp=1)
        print(json.dumps(["ok", ""]), flush=True)
    except SceneError as e:
        print(json.dumps(["SceneError", str(e)]), flush=True)
    except Exception as e:
        print(json.dumps(["other", f"{type(e).__name__}: {e}"]), flush=True)
"""


@st.composite
def valid_scenes(draw):
    """Random spheres, grids and meshes with values anywhere in the documented ranges."""
    coord = st.floats(-1e6, 1e6)
    vec = st.lists(coord, min_size=3, max_size=3)
    scene = {"materials": {"m": {"color": draw(st.lists(st.floats(0, 1e3), min_size=3, max_size=3)),
                                 "emission": draw(st.lists(st.floats(0, 1e3), min_size=3, max_size=3)),
                                 "roughness": draw(st.floats(0, 1)), "id": draw(st.integers(0, 2 ** 31 - 2))}},
             "bounces": draw(st.integers(0, 6)),
             "camera": {"position": draw(vec), "lookat": [0.0, 0.0, 0.0], "fov": draw(st.floats(1, 170)),
                        "far": draw(st.floats(1, 1e8))}}
    scene["geometry"] = [{"type": "sphere", "material": "m", "position": draw(vec),
                          "radius": draw(st.floats(1e-6, 1e6))},
                         {"type": "grid", "material": "m", "position": draw(vec), "normal": [0, 1, 0],
                          "size": [draw(st.floats(1e-3, 1e6)), 1, draw(st.floats(1e-3, 1e6))]},
                         {"type": "mesh", "material": "m", "vertices": [draw(vec), draw(vec), draw(vec)],
                          "faces": [[0, 1, 2]]}]
    if max(abs(x) for x in scene["camera"]["position"]) < 1e-6:  # the loader refuses position == lookat
        scene["camera"]["position"] = [1.0, 0.0, 0.0]
    return scene


def render_all(tmp_path, scenes):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(s) + "\n" for s in scenes))
    p = subprocess.run([sys.executable, "-c", RUNNER, str(CODE), str(cases)], capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, f"the renderer process ended with {p.returncode}: {p.stderr[-2000:]}"
    results = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(results) == len(scenes)
    return results


def collect(strategy, n):
    found = []

    @settings(max_examples=n, derandomize=True, deadline=None, database=None)
    @given(strategy)
    def draw(x):
        found.append(x)

    draw()
    return found


def test_mutated_scenes_load_or_raise_scene_error_naming_the_place(tmp_path):
    scenes = collect(mutated(box_room()), 150)
    results = render_all(tmp_path, scenes)
    others = [(s, msg) for (kind, msg), s in zip(results, scenes) if kind == "other"]
    assert not others, others[:3]
    for kind, msg in results:
        if kind == "SceneError":
            # '<dict>: geometry[3] (type 'grid'): field 'size': ...' or '<dict>: the scene is empty ...'
            assert msg.startswith("<dict>") or msg.startswith("camera"), msg
            assert len(msg) > len("<dict>: ") + 5, msg
    assert sum(k == "ok" for k, _ in results) >= 3 and sum(k == "SceneError" for k, _ in results) >= 30


def test_valid_scenes_in_the_documented_ranges_load_and_render(tmp_path):
    scenes = collect(valid_scenes(), 40)
    results = render_all(tmp_path, scenes)
    bad = [(s, r) for s, r in zip(scenes, results) if r[0] != "ok"]
    assert not bad, bad[:3]

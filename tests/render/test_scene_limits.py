"""Every value that reaches Embree is range-checked first: a finite but huge number is a
SceneError naming the field, never an abort inside the renderer."""
import json
import subprocess
import sys

import numpy as np
import pytest

from render_helpers import box_room
from cnsr.render import Renderer, SceneError
from cnsr.render.scene import VALUE_LIMIT

HUGE = 1e20


def scale(s, t=0.0):
    return [[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [t, 0, 0, 1]]


CASES = {
    "camera position": (lambda s: s["camera"].update(position=[HUGE, 1, 2]), r"camera: field 'position'"),
    "camera lookat": (lambda s: s["camera"].update(lookat=[0, -HUGE, 0]), r"camera: field 'lookat'"),
    "camera far": (lambda s: s["camera"].update(far=HUGE), r"camera: field 'far'"),
    "sphere position": (lambda s: s["geometry"][6].update(position=[HUGE, 0, 0]), r"geometry\[6\].*'position'"),
    "sphere radius": (lambda s: s["geometry"][6].update(radius=HUGE), r"geometry\[6\].*'radius'"),
    "grid size": (lambda s: s["geometry"][0].update(size=[HUGE, 1, 4]), r"geometry\[0\].*'size'"),
    "transform entry": (lambda s: s["geometry"][7].update(transform=scale(HUGE)), r"geometry\[7\].*'transform'"),
    "light position": (lambda s: s["lights"][0].update(position=[0, HUGE, 0]), r"lights\[0\].*'position'"),
    "emission": (lambda s: s["materials"]["light"].update(emission=[HUGE] * 3), r"materials\['light'\].*'emission'"),
    "integer beyond float": (lambda s: s["geometry"][6].update(radius=10 ** 400), r"geometry\[6\].*'radius'"),
    "integer vector beyond float": (lambda s: s["geometry"][6].update(position=[10 ** 400, 0, 0]), r"'position'"),
    "bounces beyond int32": (lambda s: s.update(bounces=2 ** 31), r"field 'bounces'"),
    "material id beyond int32": (lambda s: s["materials"]["ball"].update(id=10 ** 400), r"field 'id'"),
    # each value is in range but the world-space result is not
    "sphere after transform": (lambda s: s["geometry"][6].update(position=[1e5, 0, 0], transform=scale(1e4)),
                               r"geometry\[6\].*'position'.*world space"),
    "grid after transform": (lambda s: s["geometry"][0].update(transform=scale(1e8)), r"geometry\[0\].*world space"),
    "obj vertices after transform": (lambda s: s["geometry"][7].update(transform=scale(1e8, 1e8)),
                                     r"geometry\[7\].*'filename'.*world space"),
    "inline mesh vertices": (lambda s: s["geometry"].append(
        {"type": "mesh", "material": "cube", "vertices": [[0, 0, 0], [1, 0, 0], [0, HUGE, 0]], "faces": [[0, 1, 2]]}),
        r"geometry\[8\].*'vertices'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_huge_values_raise_scene_error_naming_the_field(case):
    edit, needle = CASES[case]
    scene = box_room()
    edit(scene)
    with pytest.raises(SceneError, match=needle):
        Renderer().load_scene(scene)


def test_values_at_the_limit_still_load():
    scene = box_room()
    scene["geometry"][6].update(position=[0.0, 0.0, 0.0], radius=VALUE_LIMIT / 10)
    scene["camera"]["far"] = VALUE_LIMIT
    Renderer().load_scene(scene)   # no error


@pytest.mark.parametrize("args, needle", [
    (([HUGE, 0, 0], [0, 0, 0]), "position"),
    (([0, 0, 0], [0, 0, -HUGE]), "lookat"),
    (([0, 0, 1], [0, 0, 0], 70, 0.1, HUGE), "far"),
    (([0, 0, 1], [0, 0, 0], 70, "near", 10), "near"),
    (([0, 0, 1], [0, 0, 0], 10 ** 400), "fov"),
])
def test_set_camera_range_checks(args, needle):
    r = Renderer()
    with pytest.raises(SceneError, match=needle):
        r.set_camera(*args)


def test_render_size_spp_and_bounces_are_range_checked_before_allocating():
    r = Renderer(threads=1)
    r.load_scene(box_room())
    with pytest.raises(ValueError, match="size"):
        r.render(size=100000, spp=1, passes=["depth"])
    with pytest.raises(ValueError, match="spp"):
        r.render(size=4, spp=2 ** 40, passes=["depth"])
    r.bounces = 2 ** 31
    with pytest.raises(ValueError, match="bounces"):
        r.render(size=4, spp=1, passes=["beauty"])


def test_render_scene_script_reports_a_huge_camera_and_exits_2(repo_root, tmp_path):
    """Through the script, in a subprocess: an error message and exit code 2, not a signal."""
    scene = box_room()
    scene["camera"]["position"] = [HUGE, 1.0, 2.0]
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(scene))
    p = subprocess.run([sys.executable, str(repo_root / "code" / "render-scene.py"), "--scene_file", str(path),
                        "--image_size", "8", "--spp", "1", "--out", str(tmp_path / "o.exr")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "huge.json" in p.stderr and "position" in p.stderr and "Traceback" not in p.stderr

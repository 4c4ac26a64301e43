"""code/render-scene.py end to end: EXR channels, passes, previews, errors."""
import json
import subprocess
import sys

import numpy as np

from render_helpers import box_room


def run(repo_root, *args):
    return subprocess.run([sys.executable, str(repo_root / "code" / "render-scene.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_render_scene_writes_named_channels(repo_root, tmp_path):
    from cnsr.io.exr import read_exr, read_exr_attrs
    from cnsr.passes import PASS_NAMES, exr_channel_names

    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(box_room()))
    out = tmp_path / "out" / "img.exr"
    p = run(repo_root, "--scene_file", scene, "--size", 8, "--spp", 2, "--threads", 2, "--out", out, "--png")
    assert p.returncode == 0, p.stderr
    assert "rendered" in p.stdout and " s " in p.stdout
    import OpenEXR

    with OpenEXR.File(str(out), separate_channels=True) as f:
        names = set(f.channels())
    assert names == {c for n in PASS_NAMES for c in exr_channel_names(n)}
    data = read_exr(out)
    assert data["beauty"].shape == (8, 8, 3) and data["depth"].shape == (8, 8, 1)
    assert "cnsr.pose" in read_exr_attrs(out)
    assert (tmp_path / "out" / "img.beauty.png").is_file() and (tmp_path / "out" / "img.depth.png").is_file()

    half = tmp_path / "half.exr"
    p = run(repo_root, "--scene_file", scene, "--size", 8, "--spp", 1, "--passes", "beauty,depth", "--half",
            "--no-nee", "--seed", 3, "--out", half)
    assert p.returncode == 0, p.stderr
    d = read_exr(half)
    assert set(d) == {"beauty", "depth"} and np.isfinite(d["beauty"]).all()


def test_render_scene_reports_bad_input(repo_root, tmp_path):
    scene = box_room()
    scene["geometry"][0]["type"] = "torus"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(scene))
    p = run(repo_root, "--scene_file", f, "--size", 8, "--spp", 1, "--out", tmp_path / "x.exr")
    assert p.returncode == 2 and "torus" in p.stderr
    p = run(repo_root, "--scene_file", tmp_path / "none.json", "--size", 8, "--spp", 1, "--out", tmp_path / "x.exr")
    assert p.returncode == 2 and "none.json" in p.stderr
    f.write_text(json.dumps(box_room()))
    p = run(repo_root, "--scene_file", f, "--size", 8, "--spp", 1, "--passes", "beauty,shine", "--out", tmp_path / "x.exr")
    assert p.returncode == 2 and "shine" in p.stderr

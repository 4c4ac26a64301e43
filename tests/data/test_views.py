"""Rendering the views of scenes into batch arrays (cnsr.data.views.render_views), its seed
rules, and the camera-jitter rule for scene files."""
import json
from pathlib import Path

import numpy as np
import pytest

from cnsr.data import DatasetError, read_batch_exr
from cnsr.data.batches import make_batch
from cnsr.data.generate import RenderSettings, random_tasks, run_tasks
from cnsr.data.json_batches import create_json_dataset
from cnsr.data.views import JITTER_SCALE, View, jitter_camera, offset_seeds, render_seed, render_views

ROOT = Path(__file__).resolve().parents[2]
PASSES = ["beauty", "depth", "normal"]


def test_seed_rules():
    assert render_seed({"seed": 5}, 1, 2, 3) == 5 * 1000003 + 1 * 3 + 2
    assert render_seed({}, 0, 1, 2) == 1                                      # no seed: 0
    assert render_seed({"seed": 3000}, 0, 0, 1) == (3000 * 1000003) % 2 ** 31  # 31 bits
    rule = offset_seeds(7)
    assert [rule({"seed": 99}, 0, v, 4) for v in range(4)] == [7063, 7064, 7065, 7066]
    assert rule({}, 1, 0, 4) == 7 * 1009 + 4


def test_jitter_rule_statistics():
    cam = {"position": [1.0, 2.0, 3.0], "lookat": [1.0, 2.0, -1.0], "fov": 40.0, "near": 0.5}
    rng = np.random.default_rng(0)
    offsets = np.array([np.subtract(jitter_camera(cam, rng)["position"], cam["position"]) for _ in range(4000)])
    sigma = JITTER_SCALE * 4.0                                  # 5% of the distance 4 to the lookat
    assert JITTER_SCALE == 0.05
    np.testing.assert_allclose(offsets.mean(0), 0, atol=4 * sigma / np.sqrt(4000))
    np.testing.assert_allclose(offsets.std(0), sigma, rtol=0.05)   # per axis
    assert abs(np.corrcoef(offsets.T)[0, 1]) < 0.1                    # independent axes


def test_jitter_rule_deterministic_and_keeps_the_rest():
    cam = {"position": [0.0, 1.0, 2.0], "lookat": [0.0, 0.0, 0.0], "fov": 60.0, "far": 9.0}
    a = [jitter_camera(cam, np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]                                          # same generator state, same camera
    rng = np.random.default_rng(3)
    first, second = jitter_camera(cam, rng), jitter_camera(cam, rng)
    assert first == a[0] and second != first                     # one draw of 3 values per camera
    expect = np.add(cam["position"], np.random.default_rng(3).normal(0.0, 0.05 * np.sqrt(5.0), 3))
    np.testing.assert_allclose(first["position"], expect)
    assert {k: v for k, v in first.items() if k != "position"} == {k: v for k, v in cam.items() if k != "position"}
    assert cam["position"] == [0.0, 1.0, 2.0]                    # the input is not changed
    assert jitter_camera(cam, np.random.default_rng(3), scale=0.0)["position"] == cam["position"]


def test_compositing_scene_file_views_use_the_jitter_rule():
    from cnsr.analysis.compositing import scene_views

    path = ROOT / "examples" / "room.json"
    if not path.is_file():
        pytest.skip("examples/room.json not in the checkout")
    cam = json.loads(path.read_text())["camera"]
    views = scene_views(str(path), 3, seed=11)
    rng = np.random.default_rng(11)
    assert [v.camera for v in views[:3]] == [jitter_camera(cam, rng) for _ in range(3)]
    assert views[-1].camera == cam and all(v.scene == str(path) for v in views)


# ------------------------------------------------------------------ rendering (needs the renderer)
@pytest.fixture(scope="module")
def renderer():
    pytest.importorskip("cnsr._renderer")
    from cnsr.render import Renderer
    return Renderer(threads=1)


class CountingRenderer:
    """A renderer that counts scene loads."""

    def __init__(self, renderer):
        self.r, self.loads = renderer, 0

    def load_scene(self, scene):
        self.loads += 1
        return self.r.load_scene(scene)

    def __getattr__(self, name):
        return getattr(self.r, name)


def test_render_views_reproduces_generated_batch(tmp_path, renderer):
    """The rendering function with the default seed rule gives what dataset generation wrote."""
    settings = RenderSettings(size=16, spp=1, passes=PASSES, threads=1, dataset="room")
    run_tasks(random_tasks("room", tmp_path, 4, {"train": 1}, 2, 2, 3, True), settings, workers=1, progress=False)
    data = read_batch_exr(tmp_path / "train" / "batch000000000.exr")
    scenes, factor = make_batch("room", 4, "train", 0, 2, 3, True)
    counting = CountingRenderer(renderer)
    images, poses = render_views(counting, scenes, 16, 1, PASSES)
    assert counting.loads == 2                                    # one load per scene: views differ in the camera
    assert data.factor == factor and poses.shape == (2, 3, 16) and poses.dtype == np.float32
    for p in PASSES:
        assert images[p].shape == data.images[p].shape and images[p].dtype == np.float32
        np.testing.assert_array_equal(images[p].astype(np.float16), data.images[p])
    np.testing.assert_array_equal(poses, data.poses)


def test_view_forms_render_the_same(tmp_path, renderer):
    create_json_dataset("room", tmp_path, {"train": 1, "test": 0}, 2, 1, 1, 2, False, progress=False)
    files = sorted((tmp_path / "train" / "batch000000000" / "scene0000").glob("view*.json"))
    dicts = [json.loads(f.read_text()) for f in files]
    by_path, _ = render_views(renderer, [files], 16, 1, ["beauty"])
    by_dict, _ = render_views(renderer, [dicts], 16, 1, ["beauty"])
    # the first view's scene seen from each view's camera (View: scene + camera)
    as_view, _ = render_views(renderer, [[View(files[0], d["camera"]) for d in dicts]], 16, 1, ["beauty"])
    np.testing.assert_array_equal(by_path["beauty"], by_dict["beauty"])
    np.testing.assert_array_equal(by_path["beauty"], as_view["beauty"])
    assert not np.array_equal(by_path["beauty"][0, 0], by_path["beauty"][0, 1])   # two different views
    # another seed rule changes the noise, not the views
    other, _ = render_views(renderer, [dicts], 16, 1, ["beauty"], seed=offset_seeds(1))
    assert not np.array_equal(other["beauty"], by_dict["beauty"])


def test_render_views_bad_input(renderer):
    from cnsr.scenes import make_randomizer

    scene = make_randomizer("room", 0).to_json()
    with pytest.raises(DatasetError, match="scene 1 of the batch has 1 views, scene 0 has 2"):
        render_views(renderer, [[scene, scene], [scene]], 8, 1, ["beauty"])
    no_camera = {k: v for k, v in scene.items() if k != "camera"}
    with pytest.raises(DatasetError, match="no camera"):
        render_views(renderer, [[no_camera]], 8, 1, ["beauty"])

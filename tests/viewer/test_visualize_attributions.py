"""visualize-attributions: the GL-free viewer state (every control, the attributions it shows,
save -> restore, the paper's settings.txt) and one headless run of the real application."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tiny import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "code" / "visualize-attributions.py"
SIZE = 16


def tiny_cfg():
    return tiny_config(SIZE, representation={"representation_dim": 9},
                       generator={"query_passes": ["normal", "position", "albedo"],
                                  "settings": {"layers": 1, "hidden_units": 8, "end_relu": False}},
                       job_name="attrview", seed=1, samples_per_pixel=2, batch_size=1, test_batch_size=1,
                       views_per_scene=4, latent_separation=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder = tmp_path_factory.mktemp("attrview")
    cfg_path = folder / "cfg.json"
    cfg_path.write_text(json.dumps(tiny_cfg()))
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    with torch.no_grad():
        model.representation.representations[0].deltas.copy_(torch.tensor([0.3, -0.2, 0.5]))
    ckpt = save_checkpoint(folder, "attrview", model, torch.optim.Adam(model.parameters()), 10 ** 6)
    return cfg_path, ckpt


def make_state(tiny, tmp_path, **kw):
    from cnsr.config import load_config
    from cnsr.engine.api import load_model
    from cnsr.viewer.attributions import AttributionViewerState

    cfg = load_config(str(tiny[0]))
    kw.setdefault("seed", 3)
    s = AttributionViewerState(cfg, load_model(cfg, tiny[1]), out_folder=str(tmp_path / "out"), **kw)
    s.wait()
    return s


@pytest.fixture
def state(tiny, tmp_path):
    return make_state(tiny, tmp_path)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_release_defaults_and_pixel_mapping(state):
    s = state.settings
    assert (s.activate_mean, s.representation_grad, s.partition_mean, s.heatmap) == (False, False, False, True)
    assert (s.range_min, s.range_max, s.pixel_x, s.pixel_y, s.patch_size) == (0.0, 0.00025, 0.5, 0.5, 1)
    assert s.query_buffer == "position" and s.observation_buffer == "beauty"   # the release's list defaults
    assert state.mode() == "patch" and state.pixel_index("x") == int(0.5 * (SIZE - 1))
    for i in range(SIZE):                               # slider value -> fraction -> the same pixel
        state.set_pixel_index("x", i)
        assert state.pixel_index("x") == i
    state.set_pixel_index("y", 10 ** 6)
    assert state.pixel_index("y") == SIZE - 1


def test_patch_controls_and_click(state):
    from cnsr.analysis.attribution import patch_attribution

    state.set_pixel_index("x", 3)
    state.set_pixel_index("y", 5)
    state.set_patch_size(3)
    assert state.needs_update()
    state.wait()
    assert state.patch_box() == (3, 6, 5, 8)
    res, sd = state.result, state.scene_data
    ref = patch_attribution(state.model, sd.batch, x=3, y=5, size=3)
    for k in ref.query:
        close(res.query[k], ref.query[k][0].numpy())
    for k in ref.observations:
        close(res.observations[k], ref.observations[k][0].numpy())
    # a pixel generator: the query attribution lives on the patch only
    support = np.abs(res.query["normal"]).sum(0) > 0
    assert support[5:8, 3:6].all() and support.sum() == 9
    # a click centres the patch on the pixel; a drag to the border clips it
    assert state.click(10.7, 2.2)
    assert state.patch_box()[0] == 9 and state.patch_box()[2] == 1
    state.click(SIZE - 1, SIZE - 1)
    assert state.patch_box() == (SIZE - 2, SIZE, SIZE - 2, SIZE)
    state.set_patch_size(500)
    assert state.settings.patch_size == 64
    # clicks only move the patch in patch mode
    state.settings.activate_mean = True
    assert not state.click(1, 1)


def test_modes_compute_their_targets(state):
    from cnsr.analysis.attribution import PARTITIONS, patch_attribution, representation_attribution

    sd = state.scene_data
    st = state.settings
    st.activate_mean = True
    state.wait()
    ref = patch_attribution(state.model, sd.batch, mean=True)
    close(state.result.observations["normal"], ref.observations["normal"][0].numpy())
    assert state.result.key[1] == "mean"

    st.activate_mean, st.representation_grad = False, True
    assert state.pixel_range("x") == 9
    state.set_pixel_index("x", 6)
    state.wait()
    assert state.result.key[1:] == ("dimension", 6) and state.target_text() == "dimension 6"
    ref = representation_attribution(state.model, sd.batch, dim=6)
    close(state.result.observations["beauty"], ref.observations["beauty"][0].numpy())
    assert state.result.query == {}

    st.partition_mean = True
    assert state.pixel_range("x") == 3
    for p in range(3):
        state.set_pixel_index("x", p)
        state.wait()
        assert state.result.key[1:] == ("partition", p) and state.target_text() == f"{PARTITIONS[p]} mean"
        ref = representation_attribution(state.model, sd.batch, dim=p, partition_mean=True)
        close(state.result.observations["beauty"], ref.observations["beauty"][0].numpy())

    st.partition_mean, st.activate_mean = False, True
    state.wait()
    ref = representation_attribution(state.model, sd.batch, mean=True)
    assert state.result.key[1] == "representation mean"
    close(state.result.observations["normal"], ref.observations["normal"][0].numpy())


def test_display_controls_change_the_canvas_not_the_attribution(state):
    res, version = state.result, state.version
    base = state.canvas()
    lay = {t[0]: t[1:] for t in state.layout().tiles}
    x, y, w, h = lay["observation_attribution_0"]

    def tile(img, name):
        x, y, w, h = lay[name]
        return img[y:y + h, x:x + w]

    state.auto_range()
    assert state.settings.range_max == pytest.approx(np.abs(res.observations["beauty"].sum(1)).max(), rel=1e-5)
    ranged = state.canvas()
    assert not np.array_equal(tile(base, "observation_attribution_0"), tile(ranged, "observation_attribution_0"))
    state.settings.heatmap = False
    grey = tile(state.canvas(), "observation_attribution_0")
    assert np.allclose(grey[..., 0], grey[..., 1]) and np.allclose(grey[..., 1], grey[..., 2])
    state.set_range(hi=10.0)
    assert state.settings.range_max == 5.0
    state.set_range(lo=0.004)
    dim = tile(state.canvas(), "observation_attribution_0")
    assert dim.max() < grey.max() or grey.max() == 0
    before = tile(state.canvas(), "query")
    state.set_buffers(query="normal", observation="normal")
    assert not np.array_equal(before, tile(state.canvas(), "query"))
    with pytest.raises(ValueError):
        state.set_buffers(query="beauty")
    assert not state.needs_update() and state.result is res and state.version == version
    assert state.canvas_key() != (version, ())


def test_replace_buttons_match_replace_partition(state):
    from cnsr.analysis.attribution import replace_partition
    from cnsr.io.preview import display

    sd = state.scene_data
    lay = {t[0]: t[1:] for t in state.layout().tiles}
    x, y, w, h = lay["replaced"]
    assert "replaced" not in state.tile_images()
    for button, part in [("Replace Light", "lighting"), ("Replace Geo", "geometry"), ("Replace Mat", "material"),
                         ("Replace All", "all")]:
        state.replace(button)
        assert state.settings.replaced == part and state.needs_update()
        state.wait()
        with torch.no_grad():
            expected = replace_partition(state.model, sd.batch, part)[-1]["beauty"][0].numpy()
        np.testing.assert_array_equal(state.replaced_image[1], expected)
        shown = state.tile_images()["replaced"]
        np.testing.assert_array_equal(shown, display("beauty", np.moveaxis(expected, 0, -1)))
        assert part in state.labels()["replaced"]
    state.replace(None)
    assert "replaced" not in state.tile_images()
    with pytest.raises(ValueError):
        state.replace("Replace Everything")


def test_bars_are_the_summed_magnitudes(state):
    res, sd = state.result, state.scene_data
    groups = dict(state.bars())
    contrib = np.abs(res.representation * res.representation_grad).reshape(9, -1).sum(1)
    parts = dict(groups["Partitions"])
    assert set(parts) == {"lighting", "geometry", "material"}
    assert sum(parts.values()) == pytest.approx(contrib.sum(), rel=1e-6)
    obs = dict(groups["Observations"])
    assert list(obs) == ["obs 0", "obs 1", "obs 2"]
    assert obs["obs 1"] == pytest.approx(sum(np.abs(v[1]).sum() for v in res.observations.values()), rel=1e-6)
    per_buffer = dict(groups["Observation buffers"])
    assert sum(obs.values()) == pytest.approx(sum(per_buffer.values()), rel=1e-6)
    q = dict(groups["Query buffers"])
    assert set(q) == {"normal", "position", "albedo"}
    assert q["albedo"] == pytest.approx(np.abs(res.query["albedo"]).sum(), rel=1e-6)


def test_save_then_settings_restore_the_same_view(state, tiny, tmp_path):
    state.set_pixel_index("x", 11)
    state.set_pixel_index("y", 4)
    state.set_patch_size(2)
    state.set_buffers(query="albedo", observation="normal")
    state.set_range(0.001, 0.5)
    state.replace("Replace Mat")
    folder = state.save()
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "figure.png", "scene.json", "settings.json",
                                                       "settings.txt"]
    from cnsr.io.png import read_png

    assert read_png(folder / "figure.png").shape[:2] == state.canvas().shape[:2]
    saved = dict(np.load(folder / "arrays.npz"))
    assert {"query.normal", "query_attribution.albedo", "observation.beauty", "observation_attribution.normal",
            "representation", "representation_gradient", "lighting", "geometry", "material", "replaced"} <= set(saved)
    assert saved["observation.beauty"].shape == (3, 3, SIZE, SIZE)
    owner = saved["partition_owner"]
    lo, hi = saved["geometry"]
    assert (owner[lo:hi] == 1).all() and (owner == 1).sum() == hi - lo

    again = make_state(tiny, tmp_path, seed=99, settings_file=str(folder / "settings.json"))
    assert again.settings == state.settings
    restored = again.arrays()
    assert set(restored) == set(saved)
    for k in saved:
        if k.startswith(("query.", "observation.")) or k in ("reference", "partition_owner"):
            np.testing.assert_array_equal(restored[k], saved[k], err_msg=k)
        else:
            np.testing.assert_allclose(restored[k], saved[k], rtol=1e-5, atol=1e-8, err_msg=k)
    # a second save gets its own folder
    assert again.save() != folder

    # the release's settings.txt: its controls and scene come back (observations are new views)
    txt = make_state(tiny, tmp_path, settings_file=str(folder / "settings.txt"))
    assert txt.settings == dataclass_without_replacement(state.settings)
    cam = json.loads((folder / "scene.json").read_text())["camera"]
    assert txt.scene_data.desc["query_camera"] == cam
    # its observations are the scene file's camera jittered (lookat kept), not the dataset's random views
    far = np.linalg.norm(np.subtract(cam["lookat"], cam["position"]))
    for c in txt.scene_data.desc["observation_cameras"]:
        moved = np.linalg.norm(np.subtract(c["position"], cam["position"]))
        assert c["lookat"] == cam["lookat"] and 0 < moved < 0.3 * far


def dataclass_without_replacement(s):
    import dataclasses

    return dataclasses.replace(s, replaced=None)


def test_release_settings_txt_and_bad_settings(tiny, tmp_path):
    from cnsr.viewer.attribution_settings import AttributionSettings, SettingsError

    scene = ROOT / "examples" / "room.json"
    if not scene.is_file():
        pytest.skip("examples/room.json not in the checkout")
    txt = tmp_path / "settings.txt"
    txt.write_text(f"0 1 1 0\n0.0\n0.00025\n0.7\n0.5\nnormal\nnormal\n4.0\n{scene}\n")
    s = make_state(tiny, tmp_path, settings_file=str(txt))
    assert (s.settings.representation_grad, s.settings.partition_mean, s.settings.heatmap) == (True, True, False)
    assert s.mode() == "partition" and s.pixel_index("x") == 2 and s.settings.patch_size == 4
    assert s.result.key[1:] == ("partition", 2)
    parsed, path = AttributionSettings.from_release_text(s.settings.to_release_text(str(scene)), "x")
    assert parsed == s.settings and path == str(scene)

    bad = tmp_path / "bad.txt"
    bad.write_text(f"0 1 1\n0\n1\n0.5\n0.5\nbeauty\nnormal\n1\n{scene}\n")
    with pytest.raises(SettingsError, match="bad.txt: line 1"):
        make_state(tiny, tmp_path, settings_file=str(bad))
    bad.write_text(f"0 0 0 1\n0\n1\n0.5\n0.5\nalbedo\nnormal\n1\n{scene}\n")
    with pytest.raises(SettingsError, match="observation buffer 'albedo'"):
        make_state(tiny, tmp_path, settings_file=str(bad))
    js = tmp_path / "bad.json"
    js.write_text(json.dumps({"format": "cnsr-attribution-settings", "controls": {"patch_size": "big"},
                              "query_camera": {}, "observation_cameras": [], "seeds": [], "spp": 1, "size": SIZE}))
    with pytest.raises(SettingsError, match="bad.json: controls: control 'patch_size'"):
        make_state(tiny, tmp_path, settings_file=str(js))
    js.write_text("{}")
    with pytest.raises(SettingsError, match="bad.json: not an attribution settings file"):
        make_state(tiny, tmp_path, settings_file=str(js))


def test_new_scene_any_number_of_observations_and_background_updates(tiny, tmp_path):
    from cnsr.viewer.background import BackgroundUpdater

    s = make_state(tiny, tmp_path, views=5)
    names = {t[0] for t in s.layout().tiles}
    assert {f"observation_{i}" for i in range(5)} <= names and "observation_5" not in names
    assert s.result.observations["beauty"].shape[0] == 5 and len(dict(s.bars())["Observations"]) == 5
    pred = s.scene_data.session.prediction.clone()
    s.replace("Replace All")
    s.wait()
    s.new_scene()
    assert s.settings.replaced is None and s.needs_update()
    updater = BackgroundUpdater(s)
    try:
        end = time.time() + 60
        while s.needs_update() and time.time() < end:
            time.sleep(0.01)
        assert not s.needs_update() and updater.error is None
        assert not torch.equal(pred, s.scene_data.session.prediction)
        s.set_pixel_index("x", 2)
        end = time.time() + 60
        while s.needs_update() and time.time() < end:
            time.sleep(0.01)
        assert s.result.key == s.target_key() and s.result.observations is not None
    finally:
        updater.stop()


def _egl_available():
    try:
        import moderngl
    except ImportError as e:
        return f"moderngl not installed ({e})"
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
        ctx.release()
    except Exception as e:  # noqa: BLE001 - any failure means no EGL here
        return f"no EGL context ({e})"
    return None


def test_headless_app_draws_and_saves(tiny, tmp_path):
    why = _egl_available()
    if why:
        pytest.skip(f"headless viewer needs EGL: {why}")
    pytest.importorskip("imgui")
    pytest.importorskip("moderngl_window")
    shot, out = tmp_path / "shot.png", tmp_path / "results"
    r = subprocess.run([sys.executable, str(SCRIPT), "--config", str(tiny[0]), "--checkpoint", str(tiny[1]),
                        "--window", "headless", "--window-size", "640x400", "--frames", "2", "--screenshot", str(shot),
                        "--save", "--out_folder", str(out), "--auto_range"],
                       capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"), np.float32)
    assert img.shape == (400, 640, 3)
    assert img.std() > 5.0 and len(np.unique(img.reshape(-1, 3), axis=0)) > 20
    folders = list(out.iterdir())
    assert len(folders) == 1 and (folders[0] / "arrays.npz").is_file()
    fig = np.asarray(Image.open(folders[0] / "figure.png").convert("RGB"))
    assert fig.shape == (400, 640, 3)                   # the window's figure, panel included
    bad = subprocess.run([sys.executable, str(SCRIPT), "--config", str(tiny[0]), "--window", "headless",
                          "--frames", "1", "--settings", str(tmp_path / "missing.json")],
                         capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert bad.returncode == 2 and "missing.json" in bad.stderr and "Traceback" not in bad.stderr


def test_colour_map_and_release_pixel_fractions():
    from cnsr.viewer.attribution_settings import frac_to_index
    from cnsr.viewer.colouring import NEGATIVE, POSITIVE, colorize

    a = np.array([[0.5, -0.5, 0.25, 0.0, 2.0]])
    base = np.full((1, 5, 3), 0.8, np.float32)
    heat = colorize(a, 0.0, 0.5, True, base)
    np.testing.assert_allclose(heat[0, 0], POSITIVE)            # |a| = Range Max: the full colour
    np.testing.assert_allclose(heat[0, 1], NEGATIVE)
    np.testing.assert_allclose(heat[0, 2], 0.5 * POSITIVE + 0.5 * 0.5 * 0.8, rtol=1e-6)
    np.testing.assert_allclose(heat[0, 3], 0.4)                  # zero: the half-bright buffer
    np.testing.assert_allclose(heat[0, 4], POSITIVE)             # clipped above Range Max
    grey = colorize(a, 0.25, 0.5, False)
    np.testing.assert_allclose(grey[0, :, 0], [1.0, 1.0, 0.0, 0.0, 1.0])
    # the release: pixel = int(fraction * (size - 1)), dimension = int(fraction * (r - 1))
    for f in np.linspace(0, 1, 101):
        assert frac_to_index(f, 64) == int(f * 63) or abs(f * 63 - round(f * 63)) < 1e-5
        assert frac_to_index(f, 256) == int(f * 255) or abs(f * 255 - round(f * 255)) < 1e-5

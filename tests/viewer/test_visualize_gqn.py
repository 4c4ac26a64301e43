"""visualize-gqn: the GL-free viewer state (keys, camera, images, layout) and one headless run
of the real application through EGL."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tiny import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "code" / "visualize-gqn.py"
SIZE = 16


def tiny_cfg():
    return tiny_config(SIZE, representation={"representation_dim": 8},
                       generator={"query_passes": ["normal", "position"]},
                       job_name="viewtiny", seed=1, samples_per_pixel=2, batch_size=1, test_batch_size=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder = tmp_path_factory.mktemp("viewtiny")
    cfg_path = folder / "cfg.json"
    cfg_path.write_text(json.dumps(tiny_cfg()))
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    ckpt = save_checkpoint(folder, "viewtiny", model, torch.optim.Adam(model.parameters()), 3)
    return cfg_path, ckpt


@pytest.fixture
def state(tiny):
    from cnsr.config import load_config
    from cnsr.engine.api import load_model
    from cnsr.viewer.gqn import GQNViewerState

    cfg = load_config(str(tiny[0]))
    return GQNViewerState(cfg, load_model(cfg, tiny[1]), seed=3)


def test_spp_keys_and_bounds(state):
    from cnsr.viewer.gqn import SPP_MAX, SPP_MIN

    assert (state.query_spp, state.observation_spp) == (2, 2)
    assert state.handle_key("j") and state.query_spp == 12
    assert state.handle_key("J") and state.query_spp == 22
    assert state.handle_key("h") and state.query_spp == 12
    state.handle_key("h")
    state.handle_key("h")
    assert state.query_spp == SPP_MIN
    assert state.handle_key("m") and state.observation_spp == 12
    state.handle_key("n")
    state.handle_key("n")
    assert state.observation_spp == SPP_MIN
    state.set_query_spp(10 ** 9)
    assert state.query_spp == SPP_MAX
    assert not state.handle_key("x")


def test_new_scene_and_observations_change_images(state):
    state.update()
    ref, obs = state.images["reference"].copy(), [o.copy() for o in state.images["observations"]]
    pose = state.position.copy()
    assert state.handle_key("o")
    assert state.update()
    assert np.array_equal(state.images["reference"].shape, ref.shape)
    assert not all(np.array_equal(a, b) for a, b in zip(obs, state.images["observations"]))
    assert np.array_equal(state.position, pose)       # new observations keep the view
    assert state.handle_key("r")
    state.update()
    assert not np.array_equal(state.images["reference"], ref)
    assert not np.array_equal(state.position, pose)
    assert not state.update()                           # nothing changed since


def test_camera_moves_change_pose_and_query(state):
    state.update()
    pos, look = state.position.copy(), state.lookat.copy()
    state.move(forward=0.3)
    assert state.update()
    assert np.linalg.norm(state.position - pos) == pytest.approx(0.3)
    assert np.allclose(state.lookat - state.position, look - pos)   # translation keeps the direction
    state.move(right=0.2)
    d0 = np.linalg.norm(state.lookat - state.position)
    before = state.lookat.copy()
    state.rotate(20.0, 10.0)
    assert not np.allclose(state.lookat, before)
    assert np.linalg.norm(state.lookat - state.position) == pytest.approx(d0)
    ref = state.images["reference"].copy()
    state.update()
    assert not np.array_equal(state.images["reference"], ref)
    state.rotate(pitch_deg=500.0)                     # clamped short of straight up
    fwd = (state.lookat - state.position) / d0
    assert fwd[1] < 0.999


def test_layout_shapes(state):
    lay = state.layout()
    tiles = {t[0]: t[1:] for t in lay.tiles}
    assert set(tiles) == {"reference", "prediction", "observation_0", "observation_1", "buffer_0", "buffer_1"}
    rx, ry, rw, rh = tiles["reference"]
    px, py, pw, ph = tiles["prediction"]
    assert rw == rh == pw == ph == state.big and state.big % SIZE == 0 and ry == py and px > rx + rw - 1
    for name in ("observation_0", "observation_1"):
        x, y, w, h = tiles[name]
        assert y >= ry + rh and x + w <= px                        # under the reference
    for name in ("buffer_0", "buffer_1"):
        x, y, w, h = tiles[name]
        assert y >= py + ph and x >= px and x + w <= lay.width     # under the prediction
    assert all(y + h <= lay.height for _, _, y, _, h in lay.tiles)
    canvas = state.canvas()
    assert canvas.shape == (lay.height, lay.width, 3) and canvas.dtype == np.float32
    assert 0.0 <= canvas.min() and canvas.max() <= 1.0
    x, y, w, h = tiles["prediction"]
    assert canvas[y:y + h, x:x + w].std() > 0 or canvas[y:y + h, x:x + w].mean() != 0.12
    assert [name for name, _ in state.images["buffers"]] == ["normal", "position"]


def test_scene_file(tiny):
    from cnsr.config import load_config
    from cnsr.engine.api import load_model
    from cnsr.viewer.gqn import GQNViewerState

    scene = ROOT / "examples" / "room.json"
    if not scene.is_file():
        pytest.skip("examples/room.json not in the checkout")
    cfg = load_config(str(tiny[0]))
    s = GQNViewerState(cfg, load_model(cfg, tiny[1]), scene_file=str(scene), views=3)
    cam = json.loads(scene.read_text())["camera"]
    assert np.allclose(s.position, cam["position"])
    assert len(s.canvas()) and len(s.images["observations"]) == 3


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


def test_headless_app_draws(tiny, tmp_path):
    why = _egl_available()
    if why:
        pytest.skip(f"headless viewer needs EGL: {why}")
    pytest.importorskip("imgui")
    pytest.importorskip("moderngl_window")
    shot = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, str(SCRIPT), "--config", str(tiny[0]), "--checkpoint", str(tiny[1]),
                        "--window", "headless", "--window_size", "400x240", "--frames", "3", "--screenshot", str(shot)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"), np.float32)
    assert img.shape == (240, 400, 3)
    assert img.std() > 5.0                           # not blank: tiles and the options window
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20


def test_scene_file_observations_use_the_jitter_rule(tiny):
    from cnsr.config import load_config
    from cnsr.data.views import jitter_camera
    from cnsr.engine.api import load_model
    from cnsr.viewer.gqn import GQNViewerState

    scene = ROOT / "examples" / "room.json"
    if not scene.is_file():
        pytest.skip("examples/room.json not in the checkout")
    cfg = load_config(str(tiny[0]))
    s = GQNViewerState(cfg, load_model(cfg, tiny[1]), scene_file=str(scene), views=3, seed=5)
    s.rotate(30.0, 10.0)                 # moving the view does not change where observations come from
    cam = json.loads(scene.read_text())["camera"]
    rng = np.random.default_rng(5)
    views = s._observation_views()
    assert [v.camera for v in views] == [jitter_camera(cam, rng) for _ in range(3)]
    assert all(v.scene == str(scene) for v in views)


def test_no_display_and_no_headless_window_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """The probe's case: a viewer started without a display and without --window headless ended
    in a traceback from the window library."""
    pytest.importorskip("moderngl_window")
    from cnsr.viewer import launch
    from cnsr.viewer.gqn_window import main

    monkeypatch.setattr(launch, "has_display", lambda: False)
    assert main(["--config", str(ROOT / "configs" / "quickstart.json")]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "--window headless" in err and "Traceback" not in err


def test_device_and_screenshot_are_checked_before_a_window_opens(tmp_path, monkeypatch, capsys):
    pytest.importorskip("moderngl_window")
    import torch
    from cnsr.viewer import launch
    from cnsr.viewer.gqn_window import main

    opened = []
    monkeypatch.setattr("moderngl_window.run_window_config", lambda *a, **k: opened.append(1))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    args = ["--config", str(ROOT / "configs" / "quickstart.json"), "--window", "headless"]
    assert main(args + ["--device", "cuda"]) == 2
    assert "--device cuda: this machine has no CUDA device" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(args + ["--screenshot", str(tmp_path / "file" / "s.png")]) == 2
    assert "--screenshot" in capsys.readouterr().err and not opened
    # hyphen forms, the old --render_size and --window_size reach the window as they should
    assert main(args + ["--render-size", "16", "--window_size", "300x200", "--frames", "1"]) == 0 and opened
    assert "--render_size is deprecated here; it means --image_size" in capsys.readouterr().err

"""code/render-neural.py and cnsr.analysis.neural_render: prediction beside the path tracer."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "code" / "render-neural.py"
QUICKSTART = ROOT / "configs" / "quickstart.json"
SCENE = ROOT / "examples" / "room.json"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """An (untrained) quick-start model and its checkpoint."""
    from cnsr.config import load_config
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder = tmp_path_factory.mktemp("neural")
    torch.manual_seed(0)
    model = build_model(load_config(QUICKSTART))
    ckpt = save_checkpoint(folder, "quickstart", model, torch.optim.Adam(model.parameters()), 10)
    return model.eval(), ckpt


def test_help():
    r = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and "--scene_file" in r.stdout and "--reference_spp" in r.stdout


def test_command_on_the_quickstart_config(quickstart, tmp_path, capsys):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import render_neural_main
    from cnsr.io.exr import read_exr
    from cnsr.io.png import read_png

    _, ckpt = quickstart
    out = tmp_path / "out" / "x.exr"
    assert render_neural_main(["--config", str(QUICKSTART), "--checkpoint", str(ckpt), "--scene_file", str(SCENE),
                               "--image_size", "40", "--tile", "16", "--reference_spp", "2", "--out", str(out),
                               "--device", "cpu", "--no_progress"]) == 0
    doc = json.loads((tmp_path / "out" / "x.json").read_text())
    assert doc["size"] == 40 and doc["tiled"] and doc["reference_spp"] == 2
    assert set(doc["metrics"]["beauty"]) == {"mape", "rmse", "ssim", "psnr", "flip"}
    assert all(doc["times"][k] > 0 for k in ("neural_s", "path_tracing_s", "decode_s"))
    for name in ("x.exr", "x_reference.exr"):
        img = read_exr(tmp_path / "out" / name)
        assert img["beauty"].shape[:2] == (40, 40) and np.isfinite(img["beauty"]).all()
    assert read_png(tmp_path / "out" / "x.png").shape[:2] == (40, 40)
    assert "path tracing" in capsys.readouterr().out
    # bad output name: a clear error
    assert render_neural_main(["--config", str(QUICKSTART), "--checkpoint", str(ckpt), "--scene_file", str(SCENE),
                               "--out", str(tmp_path / "x.png")]) == 2
    assert ".exr" in capsys.readouterr().err


def test_tiles_decode_as_the_whole_image(quickstart):
    """The pixel generator is per pixel: decoding in tiles (with a padded last row and column)
    gives the image decoded at once."""
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.neural_render import neural_render
    from cnsr.render import Renderer

    model, _ = quickstart
    renderer = Renderer(threads=1)
    kw = dict(reference_spp=1, seed=3, renderer=renderer, progress=False, metrics=["rmse"])
    tiled = neural_render(model, SCENE, 20, tile=8, **kw)
    whole = neural_render(model, SCENE, 20, tile=64, **kw)
    assert tiled["tiled"] and not whole["tiled"]
    assert torch.allclose(tiled["prediction"]["beauty"], whole["prediction"]["beauty"], atol=1e-5)

"""evaluate.py, composite.py, render-neural.py: the checkpoint's config by default, --set
overrides, numbers and devices checked before work, outputs that cannot be written found at
once, and no output written over an input or over a file the tool did not write."""
import json
import shutil
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "room.json"
SIZE = 16


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny partitioned model's config file and checkpoint (which carries the config)."""
    from cnsr.config import load_config
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder = tmp_path_factory.mktemp("tools")
    cfg = {"job_name": "tools", "seed": 2, "cached_dataset": False, "dataset": "room", "samples_per_pixel": 1,
           "batch_size": 2, "test_batch_size": 2, "views_per_scene": 3, "num_workers": 0,
           "latent_separation": True, "logging": False,
           "model": {"representations": [{"type": "Pool", "observation_passes": ["beauty", "normal"],
                                          "representation_dim": 12, "render_size": SIZE}],
                     "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "output_passes": ["beauty"],
                                     "render_size": SIZE, "settings": {"layers": 1, "hidden_units": 8}}]}}
    (folder / "tools.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = build_model(load_config(cfg))
    ckpt = save_checkpoint(folder, "tools", model, torch.optim.Adam(model.parameters()), 600,
                           config=load_config(cfg).to_dict())
    return folder, ckpt


def call(main, *argv):
    return main([str(a) for a in argv])


def evaluate(*argv):
    from cnsr.analysis.cli import evaluate_main
    return call(evaluate_main, *argv)


def composite(*argv):
    from cnsr.analysis.cli import composite_main
    return call(composite_main, *argv)


def render_neural(*argv):
    from cnsr.analysis.cli import render_neural_main
    return call(render_neural_main, *argv)


# ------------------------------------------------------------------------------ render-neural
def test_render_neural_never_overwrites_the_scene_or_the_config(tiny, tmp_path, capsys):
    """The probe's case: <stem>.json beside --out overwrote the scene file (same folder and stem),
    or the config."""
    folder, ckpt = tiny
    scene = tmp_path / "room.json"
    shutil.copy(SCENE, scene)
    before = scene.read_bytes()
    assert render_neural("--checkpoint", ckpt, "--scene_file", scene, "--out", tmp_path / "room.exr",
                         "--image_size", 8, "--reference_spp", 1, "--device", "cpu", "--no_progress") == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'room.json'} would overwrite --scene_file {scene}" in err
    assert scene.read_bytes() == before and not (tmp_path / "room.exr").exists()
    cfg_copy = tmp_path / "tools.json"
    shutil.copy(folder / "tools.json", cfg_copy)
    assert render_neural("--checkpoint", ckpt, "--config", cfg_copy, "--scene_file", SCENE, "--out", tmp_path / "tools.exr",
                         "--image_size", 8, "--device", "cpu", "--no_progress") == 2
    assert "would overwrite --config" in capsys.readouterr().err


def test_render_neural_keeps_a_json_file_it_did_not_write(tiny, tmp_path, capsys):
    pytest.importorskip("cnsr._renderer")
    _, ckpt = tiny
    (tmp_path / "notes.json").write_text('{"mine": true}')
    args = ["--checkpoint", ckpt, "--scene_file", SCENE, "--image_size", 8, "--reference_spp", 1, "--device", "cpu",
            "--no_progress"]
    assert render_neural(*args, "--out", tmp_path / "notes.exr") == 2
    assert "notes.json exists and is not a render-neural.py result" in capsys.readouterr().err
    assert json.loads((tmp_path / "notes.json").read_text()) == {"mine": True}
    # its own earlier result is replaced, as a rerun should; the config came from the checkpoint
    assert render_neural(*args, "--out", tmp_path / "x.exr") == 0
    assert render_neural(*args, "--out", tmp_path / "x.exr") == 0
    doc = json.loads((tmp_path / "x.json").read_text())
    assert doc["iteration"] == 600 and "tools_600.pt (its config)" in doc["config"]


# ------------------------------------------------------------------------------ composite
@pytest.mark.parametrize("flag", ["--image_size", "--size", "--spp", "--views"])
def test_composite_refuses_zero_instead_of_using_a_default(tiny, tmp_path, capsys, flag):
    _, ckpt = tiny
    with pytest.raises(SystemExit) as e:
        composite("--checkpoint", ckpt, "--lighting", "room:1", "--geometry", "room:2", "--material", "room:3",
                  "--out", tmp_path / "x.png", flag, 0)
    err = capsys.readouterr().err
    assert e.value.code == 2 and ("must be >= 1, got 0" in err or "must be in [1, " in err), err
    assert not (tmp_path / "x.png").exists()


def test_composite_refuses_an_output_that_is_not_a_png(tiny, tmp_path, capsys):
    _, ckpt = tiny
    common = ["--checkpoint", ckpt, "--lighting", "room:1", "--geometry", "room:2", "--material", "room:3",
              "--device", "cpu"]
    assert composite(*common, "--out", tmp_path / "x.exr") == 2
    assert "--out" in capsys.readouterr().err and not (tmp_path / "x.exr").exists()
    (tmp_path / "file").write_text("x")
    assert composite(*common, "--out", tmp_path / "file" / "x.png") == 2
    err = capsys.readouterr().err
    assert "file: is a file, not a folder" in err and "Traceback" not in err
    scene = tmp_path / "s.png"
    scene.write_bytes(b"not a scene, but an input")
    assert composite(*common[:-2], "--geometry", scene, "--out", scene, "--device", "cpu") == 2
    assert "would overwrite --geometry" in capsys.readouterr().err and scene.read_bytes().startswith(b"not")


# ------------------------------------------------------------------------------ evaluate
def test_evaluate_checks_rows_and_the_output_folder_first(tiny, tmp_path, capsys):
    _, ckpt = tiny
    with pytest.raises(SystemExit) as e:
        evaluate("--checkpoint", ckpt, "--rows", 0)
    assert e.value.code == 2 and "--rows: must be >= 1, got 0" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert evaluate("--checkpoint", ckpt, "--out_folder", tmp_path / "file" / "ev", "--device", "cpu") == 2
    err = capsys.readouterr().err
    assert "--out_folder" in err and "cannot write there" in err and "Traceback" not in err


def test_evaluate_takes_the_checkpoints_config_and_overrides(tiny, tmp_path):
    pytest.importorskip("cnsr._renderer")
    _, ckpt = tiny
    out = tmp_path / "ev"
    assert evaluate("--checkpoint", ckpt, "--set", "test_batch_size=1", "--num_batches", 1, "--rows", 1,
                    "--out_folder", out, "--device", "cpu", "--no_progress") == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["scenes"] == 1 and report["iteration"] == 600
    assert report["config"].endswith("(its config) --set test_batch_size=1")


def test_a_bad_override_is_named(tiny, capsys):
    _, ckpt = tiny
    assert evaluate("--checkpoint", ckpt, "--set", "test_batch_sise=1", "--device", "cpu") == 2
    assert "--set test_batch_sise=1: test_batch_sise: unknown key" in capsys.readouterr().err
    assert evaluate("--checkpoint", ckpt, "--set", "test_batch_size=0", "--device", "cpu") == 2
    assert "--set test_batch_size=0: test_batch_size: must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("tool", [evaluate, render_neural])
def test_a_cuda_device_without_cuda_is_refused(tiny, tmp_path, capsys, monkeypatch, tool):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    _, ckpt = tiny
    extra = ["--scene_file", SCENE, "--out", tmp_path / "x.exr"] if tool is render_neural else []
    assert tool("--checkpoint", ckpt, "--device", "cuda", *extra) == 2
    err = capsys.readouterr().err
    assert "--device cuda: this machine has no CUDA device" in err and "Traceback" not in err


def test_evaluate_never_writes_over_its_config(tiny, tmp_path, capsys):
    folder, ckpt = tiny
    cfg = tmp_path / "metrics.json"
    shutil.copy(folder / "tools.json", cfg)
    assert evaluate("--checkpoint", ckpt, "--config", cfg, "--out_folder", tmp_path, "--device", "cpu") == 2
    assert "metrics.json would overwrite --config" in capsys.readouterr().err

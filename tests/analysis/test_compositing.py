"""code/composite.py and cnsr.analysis.compositing: partitions of three scenes in one representation."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tiny import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "code" / "composite.py"
SIZE = 16


def tiny_cfg(**overrides):
    settings = dict(job_name="comptiny", seed=2, latent_separation=True, empty_partition=True)
    settings.update(overrides)
    return tiny_config(SIZE, **settings)


def model_with_deltas(deltas, **overrides):
    from cnsr.models import build_model

    torch.manual_seed(0)
    model = build_model(tiny_cfg(**overrides))
    with torch.no_grad():
        model.representation.representations[0].deltas.copy_(torch.tensor(deltas))
    model.set_iteration(10 ** 6)   # sharp masks
    return model.eval()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder = tmp_path_factory.mktemp("comptiny")
    for name, cfg in (("cfg", tiny_cfg()), ("flat", tiny_cfg(latent_separation=False))):
        (folder / f"{name}.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    ckpt = save_checkpoint(folder, "comptiny", model, torch.optim.Adam(model.parameters()), 3)
    return folder, ckpt


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_same_scene_everywhere_gives_that_scene():
    from cnsr.analysis.compositing import composite_representation

    model = model_with_deltas([0.3, -0.2, 0.5, 0.1])
    r = torch.randn(2, 12, 1, 1)
    out = composite_representation(model, {"lighting": r, "geometry": r, "material": r})
    assert torch.equal(out, r)


@pytest.mark.parametrize("adaptive,empty", [(True, True), (True, False), (False, False)])
def test_each_partition_comes_from_its_source(adaptive, empty):
    from cnsr.analysis.compositing import composite_representation, partition_assignment
    from cnsr.models.partition import partition_boundaries, partition_fractions

    deltas = [0.0, 0.7, -0.4, 0.2] if empty else [0.0, 0.7, -0.4]
    model = model_with_deltas(deltas, adaptive_separation=adaptive, empty_partition=empty)
    owner = partition_assignment(model)
    if adaptive:   # dimension i at t = (i + 1) / r belongs to the partition its t falls in
        s = partition_boundaries(partition_fractions(model.representation.representations[0].deltas.detach()))
        t = (torch.arange(12) + 1) / 12
        expected = torch.bucketize(t, s[:2], right=False).clamp(max=2)
        if empty:
            expected[t > s[2]] = 1   # null partition: from the geometry scene
        assert torch.equal(owner, expected)
    else:           # static thirds
        assert owner.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert set(owner.tolist()) == {0, 1, 2}
    reps = {f: torch.full((1, 12, 2, 2), float(f + 1)) for f in range(3)}
    out = composite_representation(model, reps)
    for i, f in enumerate(owner.tolist()):
        assert torch.all(out[:, i] == f + 1), i


def test_no_partitioning_is_a_clear_error(tiny, tmp_path):
    from cnsr.analysis.compositing import CompositingError, composite_representation
    from cnsr.models import build_model

    model = build_model(tiny_cfg(latent_separation=False))
    r = torch.zeros(1, 12, 1, 1)
    with pytest.raises(CompositingError, match="latent_separation"):
        composite_representation(model, {"lighting": r, "geometry": r, "material": r})
    folder, ckpt = tiny
    res = run("--config", folder / "flat.json", "--checkpoint", ckpt, "--lighting", "room:1", "--geometry",
              "room:2", "--material", "room:3", "--out", tmp_path / "x.png", "--device", "cpu")
    assert res.returncode == 2 and "latent_separation" in res.stderr and "Traceback" not in res.stderr


def test_help_and_missing_checkpoint(tiny, tmp_path):
    r = run("--help")
    assert r.returncode == 0 and "--lighting" in r.stdout and "--query" in r.stdout
    folder, _ = tiny
    r = run("--config", folder / "cfg.json", "--checkpoint", tmp_path / "nope.pt", "--lighting", "room:1",
            "--geometry", "room:2", "--material", "room:3", "--out", tmp_path / "x.png", "--device", "cpu")
    assert r.returncode == 2 and "checkpoint file not found" in r.stderr and "Traceback" not in r.stderr


def test_composite_script_writes_a_strip(tiny, tmp_path):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import composite_main as main
    from cnsr.io.png import read_png

    folder, ckpt = tiny
    out = tmp_path / "strip.png"
    assert main(["--config", str(folder / "cfg.json"), "--checkpoint", str(ckpt), "--lighting", "room:1",
                 "--geometry", str(ROOT / "examples" / "room.json"), "--material", "room:3",
                 "--views", "2", "--device", "cpu", "--out", str(out)]) == 0
    img = read_png(out)
    # four tiles upscaled to >= 128 px, with a row of column labels above them
    assert img.shape[0] > 128 and img.shape[1] > 4 * 128


def test_bad_scene_is_a_clear_error(tiny, tmp_path):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import composite_main as main

    folder, ckpt = tiny
    args = ["--config", str(folder / "cfg.json"), "--checkpoint", str(ckpt), "--lighting", "nosuch:1",
            "--geometry", "room:2", "--material", "room:3", "--device", "cpu", "--out", str(tmp_path / "x.png")]
    assert main(args) == 2


def test_passes_showing_each_factor():
    from cnsr.analysis.compositing import passes_showing, shown_factor_warning
    from cnsr.config import load_config

    cfg = load_config(tiny_cfg())                                         # query: normal only
    assert passes_showing(cfg, "material") == [] and shown_factor_warning(cfg, "material") is None
    assert passes_showing(cfg, "geometry") == ["normal"]
    quick = load_config(str(ROOT / "configs" / "quickstart.json"))       # normal, position, id: the paper's
    assert passes_showing(quick, "material") == [] and shown_factor_warning(quick, "material") is None
    data = json.loads((ROOT / "configs" / "quickstart.json").read_text())
    data["model"]["generators"][0]["query_passes"].append("albedo")
    quick = load_config(data)
    assert passes_showing(quick, "material") == ["albedo"]
    assert passes_showing(quick, "geometry") == ["normal", "position", "id"]
    assert passes_showing(quick, "lighting") == []
    note = shown_factor_warning(quick, "material", "room:1")
    assert "albedo" in note and "materials of room:1" in note and "gloss" in note
    g = tiny_cfg()
    g["model"]["generators"][0]["query_passes"] = ["normal", "albedo", "roughness", "shadows"]
    g = load_config(g)
    assert "can add little (nothing)" in shown_factor_warning(g, "material") and "shadows" in shown_factor_warning(g, "lighting")
    with pytest.raises(ValueError):
        passes_showing(cfg, "colour")


def test_composite_warns_where_the_query_shows_the_factor(tiny, tmp_path, capsys):
    """composite.py --material through a model whose query G-buffer holds albedo: a warning naming
    the pass (the prediction takes the query scene's materials); none without albedo."""
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import composite_main as main
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder, ckpt = tiny
    cfg = tiny_cfg()
    cfg["model"]["generators"][0]["query_passes"] = ["normal", "albedo"]
    (tmp_path / "albedo.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = build_model(cfg)
    albedo_ckpt = save_checkpoint(tmp_path, "comptiny", model, torch.optim.Adam(model.parameters()), 3)
    common = ["--lighting", "room:1", "--geometry", "room:2", "--material", "room:3", "--views", "1",
              "--image_size", "8", "--spp", "1", "--device", "cpu", "--out", str(tmp_path / "s.png")]
    assert main(["--config", str(tmp_path / "albedo.json"), "--checkpoint", str(albedo_ckpt)] + common) == 0
    err = capsys.readouterr().err
    assert "warning: --material room:3" in err and "albedo" in err and "query scene (room:2)" in err
    assert "--geometry" not in err                                 # the query is the geometry scene
    # without albedo: no material warning; a --query other than the geometry scene: a geometry one
    assert main(["--config", str(folder / "cfg.json"), "--checkpoint", str(ckpt), "--query", "room:4"] + common) == 0
    err = capsys.readouterr().err
    assert "--material" not in err and "warning: --geometry room:2" in err and "normal" in err

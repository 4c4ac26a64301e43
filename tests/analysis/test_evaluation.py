"""code/evaluate.py and cnsr.analysis.evaluation: metrics over the test split, table, JSON and grids."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tiny import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "code" / "evaluate.py"
SIZE = 16


def tiny_cfg(**overrides):
    return tiny_config(SIZE, **{"job_name": "evaltiny", "seed": 2, "latent_separation": True, **overrides})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A config file and a checkpoint of a freshly built model."""
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder = tmp_path_factory.mktemp("evaltiny")
    cfg = tiny_cfg()
    (folder / "cfg.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters())
    ckpt = save_checkpoint(folder, "evaltiny", model, opt, 6)
    return folder / "cfg.json", ckpt


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_help():
    r = run("--help")
    assert r.returncode == 0
    assert "--checkpoint" in r.stdout and "--num_batches" in r.stdout


def test_evaluate_writes_metrics_and_grids(tiny, tmp_path):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import evaluate_main as main
    from cnsr.io.png import read_png

    cfg, ckpt = tiny
    out = tmp_path / "eval"
    assert main(["--config", str(cfg), "--checkpoint", str(ckpt), "--num_batches", "2", "--out_folder", str(out),
                 "--device", "cpu", "--no_progress"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    # the checkpoint evaltiny_6.pt reports iteration 6, the number in its name
    assert report["batches"] == 2 and report["scenes"] == 4 and report["iteration"] == 6
    m = report["metrics"]["beauty_0"]
    assert set(m) == {"mape", "rmse", "ssim", "psnr", "flip"}
    assert -1 <= m["ssim"] <= 1 and m["rmse"] >= 0 and 0 <= m["flip"] <= 1
    assert report["references"]["kind"] == "batch"
    img = read_png(out / "beauty_0.png")
    # 2 scenes x (reference | prediction | error), tiles upscaled to >= 128 px, labels around
    assert img.shape[0] > 2 * 128 and img.shape[1] > 3 * 128


def test_evaluate_with_clean_references(tiny, tmp_path):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import evaluate_main as main

    cfg, ckpt = tiny
    out = tmp_path / "eval"
    assert main(["--config", str(cfg), "--checkpoint", str(ckpt), "--num_batches", "1", "--out_folder", str(out),
                 "--device", "cpu", "--no_progress", "--reference_spp", "4", "--metrics", "mape,rmse"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["references"]["spp"] == 4 and report["references"]["kind"] == "path-traced"
    assert set(report["metrics"]["beauty_0"]) == {"mape", "rmse"}
    assert not list(out.glob(".*.tmp"))


def test_metrics_are_those_of_score_outputs():
    """A model that predicts the reference exactly scores L1 0 and SSIM 1."""
    from cnsr.analysis.evaluation import evaluate

    ref = torch.rand(3, 3, SIZE, SIZE)

    class Perfect(torch.nn.Module):
        iteration = 0

        def sample(self, batch):
            return [{"beauty": batch["query_images"]["beauty"].clone()}]

    report = evaluate(Perfect(), [{"query_images": {"beauty": ref}}] * 2, progress=False)
    m = report["metrics"]["beauty_0"]
    assert m["mape"] == 0 and m["rmse"] == 0 and m["flip"] == 0 and m["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert report["batches"] == 2 and report["scenes"] == 6


def test_missing_checkpoint_is_a_clear_error(tiny, tmp_path):
    cfg, _ = tiny
    r = run("--config", cfg, "--checkpoint", tmp_path / "nope.pt", "--device", "cpu", "--no_progress")
    assert r.returncode == 2
    assert "checkpoint file not found" in r.stderr and "Traceback" not in r.stderr


def test_metrics_are_chosen_by_name(tiny, capsys):
    """``metrics=`` picks from the registry: only those are scored, tabled and stored; an unknown
    name is a usage error naming the known ones."""
    from cnsr.analysis.cli import evaluate_main
    from cnsr.analysis.evaluation import evaluate, format_table

    ref = torch.rand(2, 3, SIZE, SIZE)

    class Off(torch.nn.Module):
        iteration = 0

        def sample(self, batch):
            return [{"beauty": batch["query_images"]["beauty"] + 0.25}]

    report = evaluate(Off(), [{"query_images": {"beauty": ref}}], progress=False, metrics=["l1"])
    assert report["metrics"] == {"beauty_0": {"l1": pytest.approx(0.25)}}
    table = format_table(report)
    assert "L1" in table and "SSIM" not in table and "0.2500" in table
    cfg, ckpt = tiny
    assert evaluate_main(["--config", str(cfg), "--checkpoint", str(ckpt), "--metrics", "ssim,nope"]) == 2
    assert "'nope'" in capsys.readouterr().err

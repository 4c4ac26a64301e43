"""Checkpoints carry their config: loading one under a config whose model-defining keys differ
is refused with the keys named, even when every parameter shape fits."""
import json
import subprocess
import sys

import pytest
import torch

import cnsr
from cnsr.config import load_config
from cnsr.engine import checkpoint as ckpt
from cnsr.models import build_model

from test_api import batch, config_dict


def saved(tmp_path, cfg_dict):
    cfg = load_config(cfg_dict)
    torch.manual_seed(0)
    model = build_model(cfg)
    return ckpt.save_checkpoint(tmp_path, "api", model, torch.optim.Adam(model.parameters()), 9,
                                config=cfg.to_dict(), seed=1)


def swapped_query_passes():
    other = config_dict()
    other["model"]["generators"][0]["query_passes"] = ["normal", "beauty", "id"]   # same shapes
    return other


def test_same_shapes_other_pass_order_is_refused_naming_the_key(tmp_path):
    path = saved(tmp_path, config_dict())
    other = swapped_query_passes()
    model = build_model(other)
    ckpt.check_compatible(model, ckpt.model_state_from(ckpt.read_checkpoint(path)), str(path))  # shapes fit
    with pytest.raises(ckpt.CheckpointError) as e:
        cnsr.load_model(other, path)
    msg = str(e.value)
    assert str(path) in msg and "model.generators[0].query_passes" in msg
    assert '["beauty", "normal", "id"]' in msg and '["normal", "beauty", "id"]' in msg


def test_override_loads_with_a_warning(tmp_path, capsys):
    path = saved(tmp_path, config_dict())
    model = cnsr.load_model(swapped_query_passes(), path, allow_config_change=True)
    assert "query_passes" in capsys.readouterr().err
    with torch.no_grad():
        model.sample(batch())


def test_training_only_keys_may_change(tmp_path):
    path = saved(tmp_path, config_dict())
    other = config_dict()
    other["model"]["generators"][0]["settings"]["loss"] = ["l1"]
    other["learning_rate"] = 3e-4
    other["batch_size"] = 3
    other["partition_loss"] = 0.5
    cnsr.load_model(other, path)   # no error


def test_partitioning_switches_are_model_defining(tmp_path):
    path = saved(tmp_path, config_dict())
    other = config_dict()
    other["adaptive_separation"] = False
    other["model"]["representations"][0]["sharpening"] = 10
    with pytest.raises(ckpt.CheckpointError, match=r"adaptive_separation.*sharpening|sharpening.*adaptive_separation"):
        cnsr.load_model(other, path)


def test_missing_keys_in_the_saved_config_take_defaults(tmp_path):
    """A config saved sparsely (defaults left out) compares as its validated form."""
    cfg = load_config(config_dict())
    model = build_model(cfg)
    path = tmp_path / "sparse.pt"
    state = ckpt.make_checkpoint(model, torch.optim.Adam(model.parameters()), 1, config=config_dict())
    torch.save(state, path)
    cnsr.load_model(config_dict(), path)   # no error: the same config, written out or not
    assert ckpt.config_differences(config_dict(), cfg) == []


def test_trainer_resume_and_script_refuse(tmp_path, repo_root):
    from cnsr.engine import Trainer

    path = saved(tmp_path, config_dict())
    with pytest.raises(ckpt.CheckpointError, match="query_passes"):
        Trainer(swapped_query_passes(), device="cpu", checkpoint=path, handle_signals=False, progress=False)
    t = Trainer(swapped_query_passes(), device="cpu", checkpoint=path, handle_signals=False, progress=False,
                allow_config_change=True)
    assert t.start_iteration == 10
    cfg_path = tmp_path / "other.json"
    cfg_path.write_text(json.dumps(swapped_query_passes()))
    p = subprocess.run([sys.executable, str(repo_root / "code" / "train-gqn.py"), "--config", str(cfg_path),
                        "--checkpoint", str(path), "--dry_run", "--device", "cpu"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "query_passes" in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_evaluate_refuses_a_changed_config_unless_allowed(tmp_path, capsys):
    """evaluate.py (and composite.py / render-neural.py, which share the option) load through the
    same check: refused with the key named (exit 1), or evaluated with --allow_config_change."""
    from cnsr.analysis.cli import evaluate_main

    tiny = {"dataset": "room", "cached_dataset": False, "samples_per_pixel": 1, "batch_size": 1,
            "test_batch_size": 1, "num_workers": 0}
    path = saved(tmp_path, {**config_dict(), **tiny})
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**swapped_query_passes(), **tiny}))
    args = ["--config", str(other), "--checkpoint", str(path), "--num_batches", "1", "--no_progress",
            "--out_folder", str(tmp_path / "eval"), "--metrics", "rmse"]
    assert evaluate_main(args) == 2
    assert "model.generators[0].query_passes" in capsys.readouterr().err
    assert evaluate_main(args + ["--allow_config_change"]) == 0
    assert (tmp_path / "eval" / "metrics.json").is_file()

"""train-gqn.py on faults: every one a message and an exit status (2 bad input, 1 a failure while
writing), found before training where it can be, never a traceback."""
import json

import pytest
import torch

from cnsr.engine import checkpoint as ckpt
from cnsr.engine.cli import main
from _standins import disk_full_after
from test_train_script import tiny_config_dict, write_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    write_dataset(folder / "data" / "train", 2, seed=0)
    write_dataset(folder / "data" / "test", 1, seed=1)
    cfg = tiny_config_dict(str(folder / "data"))
    cfg.update(iterations=4, checkpoint_interval=2, test_interval=2)
    path = folder / "tiny.json"
    path.write_text(json.dumps(cfg))
    return path


def train(capsys, *argv):
    code = main([str(a) for a in argv] + ["--no_progress", "--device", "cpu", "--no_logging"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_an_unwritable_out_folder_is_refused_before_training(data, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, out, err = train(capsys, "--config", data, "--out_folder", tmp_path / "file" / "run")
    assert code == 2 and "file/run: cannot write there" in err and "iterations" not in out


def test_a_cuda_device_without_cuda_is_refused(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    code = main(["--config", str(data), "--out_folder", str(tmp_path / "run"), "--device", "cuda", "--no_progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--device cuda: this machine has no CUDA device" in err and "Traceback" not in err


def test_disk_full_while_training_names_the_file(data, tmp_path, capsys, monkeypatch):
    disk_full_after(monkeypatch, 3)
    code, out, err = train(capsys, "--config", data, "--out_folder", tmp_path / "run")
    assert code == 1 and "tiny_4.pt: cannot write the checkpoint" in err and "disk is full" in err
    assert [i for i, _ in ckpt.list_checkpoints(tmp_path / "run", "tiny")] == [2]


def test_a_resume_needs_only_the_checkpoint_and_records_overrides(data, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = train(capsys, "--config", data, "--out_folder", run, "--iterations", 2)
    assert code == 0, err
    code, out, err = train(capsys, "--checkpoint", run / "tiny_2.pt", "--set", "learning_rate=0.001",
                           "--iterations", 4)
    assert code == 0, err
    assert f"checkpoints: {run}" in out and "continuing the run of tiny_2.pt" in out
    info = json.loads((run / "run.json").read_text())
    assert info["sessions"][-1]["overrides"] == ["learning_rate=0.001", "iterations=4", "logging=false"]
    saved = json.loads((run / "config.json").read_text())
    assert saved["learning_rate"] == 0.001 and saved["iterations"] == 4
    assert ckpt.read_checkpoint(run / "tiny_4.pt")["config"]["learning_rate"] == 0.001


def test_a_paper_checkpoint_without_a_config_asks_for_one(data, tmp_path, capsys):
    state = ckpt.read_checkpoint(_trained(data, tmp_path, capsys))
    path = tmp_path / "paper.pt"
    torch.save({k: state[k] for k in ("iteration", "model_state", "optimizer_state")}, path)
    code, out, err = train(capsys, "--checkpoint", path)
    assert code == 2 and "paper.pt: carries no config" in err and "--config" in err


def _trained(data, tmp_path, capsys):
    run = tmp_path / "first"
    code, _, err = train(capsys, "--config", data, "--out_folder", run, "--iterations", 2)
    assert code == 0, err
    return run / "tiny_2.pt"


@pytest.mark.parametrize("change, match", [
    ({"iteration": -5}, "'iteration' must be an integer >= 0"),
    ({"optimizer_state": None}, "holds no optimizer state.*--reset_optimizer"),
])
def test_bad_checkpoints_are_refused(data, tmp_path, capsys, change, match):
    state = ckpt.read_checkpoint(_trained(data, tmp_path, capsys))
    for k, v in change.items():
        state.pop(k) if v is None else state.__setitem__(k, v)
    path = tmp_path / "bad_2.pt"
    torch.save(state, path)
    code, out, err = train(capsys, "--checkpoint", path)
    assert code == 2
    import re
    assert re.search(match, err), err
    if "optimizer_state" in change:
        code, out, err = train(capsys, "--checkpoint", path, "--reset_optimizer", "--iterations", 3)
        assert code == 0 and "Adam starts afresh at iteration 3" in out


def test_a_second_live_run_is_refused(data, tmp_path, capsys):
    from cnsr.engine.runfolder import RunFolder
    holder = RunFolder(tmp_path / "run", "tiny").open()
    code, out, err = train(capsys, "--config", data, "--out_folder", tmp_path / "run")
    assert code == 2 and "another training run is writing into this folder" in err
    holder.release()

"""train-gqn.py's exit codes and file hygiene: a run stopped by a signal exits 130 (after its
checkpoint), job_name cannot write outside the folders, leftovers of killed writers go away."""
import json
import os
import signal
import time

import pytest
import torch

from cnsr.config import ConfigError, load_config
from cnsr.engine import checkpoint as ckpt
from cnsr.engine import cli
from cnsr.engine.trainer import Trainer

from test_train_script import tiny_config_dict, write_dataset


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopped_by_a_signal_exits_130_after_the_checkpoint(tmp_path, monkeypatch, sig):
    data = str(tmp_path / "data")
    write_dataset(os.path.join(data, "train"), 2, seed=0)
    write_dataset(os.path.join(data, "test"), 1, seed=1)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(tiny_config_dict(data)))
    real_step = Trainer.step

    def step(self, iteration):
        if iteration == 3:
            os.kill(os.getpid(), sig)    # as the scheduler's pre-emption / Ctrl-C
        return real_step(self, iteration)

    monkeypatch.setattr(Trainer, "step", step)
    out = tmp_path / "ckpt"
    code = cli.main(["--config", str(cfg), "--out_folder", str(out), "--no_logging", "--no_progress",
                     "--device", "cpu"])
    assert code == cli.STOPPED_EXIT_CODE == 130
    assert ckpt.read_checkpoint(out / "tiny_3.pt")["iteration"] == 4
    # a run that finishes exits 0
    code = cli.main(["--config", str(cfg), "--out_folder", str(out), "--no_logging", "--no_progress",
                     "--device", "cpu", "--checkpoint", str(out / "tiny_3.pt"), "--iterations", "5"])
    assert code == 0


@pytest.mark.parametrize("name", ["../escape", "a/b", "/abs", "..", ".", "", " spaced", "x\\y"])
def test_job_name_must_be_a_plain_name(name):
    with pytest.raises(ConfigError, match="job_name"):
        load_config({"job_name": name})


def test_job_name_with_dots_inside_is_fine():
    assert load_config({"job_name": "room.v2_lr1e-4"}).job_name == "room.v2_lr1e-4"


def test_stale_temporary_checkpoints_are_removed(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    old = folder / ".tiny_500.pt.k2j3h4.tmp"        # what atomic_path names a checkpoint in progress
    fresh = folder / ".tiny_510.pt.a8b7c6.tmp"      # a write that may still be going on
    other_job = folder / ".other_500.pt.zzz.tmp"
    unrelated = folder / ".notes.tmp"
    for p in (old, fresh, other_job, unrelated):
        p.write_bytes(b"partial")
    past = time.time() - 2 * ckpt.STALE_TEMP_AGE_S
    for p in (old, other_job, unrelated):
        os.utime(p, (past, past))
    model = torch.nn.Linear(2, 2)
    from cnsr.engine.runfolder import RunFolder
    run = RunFolder(folder, "tiny").open()     # removes them when a run starts and after each save
    run.record(ckpt.save_checkpoint(folder, "tiny", model, torch.optim.Adam(model.parameters()), 600))
    assert not old.exists()
    assert fresh.exists() and other_job.exists() and unrelated.exists()
    assert (folder / "tiny_600.pt").is_file()

"""A run that stops on an exception keeps its progress: the last completed iteration is
checkpointed before the error propagates; a NaN loss names the batch file it came from."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _standins import TinyModel, synthetic_loader, tiny_config
from cnsr.engine import checkpoint as ckpt
from cnsr.engine.trainer import Trainer


def make_trainer(tmp_path, model=TinyModel, loader_factory=synthetic_loader, **cfg):
    torch.manual_seed(0)
    return Trainer(tiny_config(**{"iterations": 20, "checkpoint_interval": 5, **cfg}), device="cpu",
                   model=model(), loader_factory=loader_factory, out_folder=tmp_path / "ckpt",
                   log_dir=tmp_path / "runs", progress=False, handle_signals=False)


class FailingAt(TinyModel):
    def __init__(self, at, error):
        super().__init__()
        self.at, self.error = at, error

    def compute_loss(self, batch, iteration):
        if iteration == self.at:
            raise self.error
        return super().compute_loss(batch, iteration)


def test_exception_writes_the_last_good_state(tmp_path, capsys):
    t = make_trainer(tmp_path / "a", model=lambda: FailingAt(8, RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        t.train()
    path = tmp_path / "a" / "ckpt" / "tiny_7.pt"
    assert path.is_file() and "tiny_7.pt" in capsys.readouterr().err
    state = ckpt.read_checkpoint(path)
    assert state["iteration"] == 8
    # the same state as a run that simply stopped after iteration 7
    ref = make_trainer(tmp_path / "b")
    ref.train(iterations=7)
    expected = ckpt.read_checkpoint(tmp_path / "b" / "ckpt" / "tiny_7.pt")
    for k, v in expected["model_state"].items():
        assert torch.equal(v, state["model_state"][k]), k
    # and it resumes
    t = Trainer(tiny_config(iterations=20), device="cpu", model=TinyModel(), loader_factory=synthetic_loader,
                checkpoint=path, progress=False, handle_signals=False, log_dir=tmp_path / "runs")
    again = t
    assert again.start_iteration == 8 and again.train(iterations=9)["iterations_run"] == 2


def test_a_failing_loader_keeps_the_progress_too(tmp_path):
    from cnsr.data.exrbatch import DatasetError

    def loader(cfg, split, device, **kw):
        start_iteration = kw.get("start_iteration", 1)
        for i, b in enumerate(synthetic_loader(cfg, split, device, **kw)):
            if start_iteration + i == 4:
                raise DatasetError("/data/batch000000003.exr: truncated file")
            yield b

    t = make_trainer(tmp_path, loader_factory=loader)
    with pytest.raises(DatasetError):
        t.train()
    assert ckpt.read_checkpoint(tmp_path / "ckpt" / "tiny_3.pt")["iteration"] == 4


def test_no_checkpoint_when_the_update_itself_failed(tmp_path, monkeypatch):
    t = make_trainer(tmp_path)
    real_step, calls = t.optimizer.step, []

    def step(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("update failed")
        return real_step(*a, **k)

    monkeypatch.setattr(t.optimizer, "step", step)
    with pytest.raises(RuntimeError, match="update failed"):
        t.train()
    assert not (tmp_path / "ckpt" / "tiny_2.pt").exists()   # iteration 3's update was half-done


def test_nan_loss_names_the_batch_file(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    from _data_helpers import synthetic_batch
    from cnsr.data import write_batch_exr

    folder = tmp_path / "train"
    folder.mkdir()
    images, poses = synthetic_batch(B=2, V=3, passes=["beauty", "normal"], seed=0)
    images["beauty"][0, 0, 0, 0, 0] = np.nan
    write_batch_exr(folder / "batch000000000.exr", images, poses, 0)
    cfg = {"job_name": "nan", "seed": 1, "train_data_dir": str(folder), "test_data_dir": str(folder),
           "cached_dataset": True, "num_workers": 0, "batch_size": 2, "views_per_scene": 3, "logging": False,
           "iterations": 3, "model": {
               "representations": [{"type": "Pool", "observation_passes": ["beauty"], "representation_dim": 6,
                                    "render_size": 8}],
               "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "render_size": 8,
                               "settings": {"layers": 1, "hidden_units": 4}}]}}
    t = Trainer(cfg, device="cpu", out_folder=tmp_path / "ckpt", progress=False, handle_signals=False)
    with pytest.raises(FloatingPointError, match=r"iteration 1: the loss is nan on the batch from .*batch000000000\.exr"):
        t.train()

"""--dry_run finds what would stop a run later: every batch file's header is opened, and one
forward and backward pass runs on a tiny batch of the data."""
import json
import os

import numpy as np
import pytest

from cnsr.data import write_batch_npz
from cnsr.engine import cli

from test_train_script import tiny_config_dict, write_dataset


@pytest.fixture
def dataset(tmp_path):
    data = str(tmp_path / "data")
    write_dataset(os.path.join(data, "train"), 6, seed=0)
    write_dataset(os.path.join(data, "test"), 1, seed=1)
    return data


def dry(tmp_path, capsys, cfg):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    code = cli.main(["--config", str(path), "--dry_run", "--device", "cpu", "--no_progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_dry_run_ok_reports_files_and_a_training_step(tmp_path, capsys, dataset):
    code, out, err = dry(tmp_path, capsys, tiny_config_dict(dataset))
    assert code == 0, err
    assert "all 6 batch files open" in out and "training step" in out and "dry run: OK" in out


def test_a_truncated_file_anywhere_is_found(tmp_path, capsys, dataset):
    files = sorted(os.listdir(os.path.join(dataset, "train")))
    victim = os.path.join(dataset, "train", files[4])
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) // 2)
    code, out, err = dry(tmp_path, capsys, tiny_config_dict(dataset))
    assert code == 2 and files[4] in err and "Traceback" not in err


def test_a_file_without_a_needed_pass_is_found(tmp_path, capsys, dataset):
    rng = np.random.default_rng(0)
    write_batch_npz(os.path.join(dataset, "train", "batch000000099.npz"),
                    {"beauty": rng.random((4, 4, 3, 16, 16))}, rng.normal(size=(4, 4, 16)), -1)
    code, out, err = dry(tmp_path, capsys, tiny_config_dict(dataset))
    assert code == 2 and "batch000000099.npz" in err and "normal" in err


def test_nan_data_is_found_by_the_training_step(tmp_path, capsys):
    data = str(tmp_path / "nan")
    for split in ("train", "test"):
        write_dataset(os.path.join(data, split), 1, seed=0)
    path = os.path.join(data, "train", "batch000000000.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["beauty"][:] = np.nan
    np.savez(path, **arrays)
    code, out, err = dry(tmp_path, capsys, tiny_config_dict(data))
    assert code == 2 and "nan" in err.lower() and "Traceback" not in err


def test_training_step_errors_become_clear_errors():
    import torch
    from cnsr.config import ConfigError

    class Broken(torch.nn.Module):
        def compute_loss(self, batch, iteration):
            return torch.ones(2, 3) @ torch.ones(4, 5), {}

    with pytest.raises(ConfigError, match="training step.*RuntimeError"):
        cli.check_training_step(Broken(), {"query_poses": torch.zeros(2, 16, 1, 1)})

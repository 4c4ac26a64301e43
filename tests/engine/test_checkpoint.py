"""Checkpoint files: reference layout, atomic writes, pruning, RNG state, clear mismatch errors."""
import random

import numpy as np
import pytest
import torch

from cnsr.engine import checkpoint as ckpt


def _model(width=4):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))


def _train_a_bit(model, opt):
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 3)).square().mean().backward()
        opt.step()


def test_round_trip_has_reference_keys_and_restores_everything(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    _train_a_bit(model, opt)
    path = ckpt.save_checkpoint(tmp_path, "job", model, opt, 7, config={"batch_size": 2}, seed=11)
    assert path == tmp_path / "job_7.pt"
    state = ckpt.read_checkpoint(path)
    # the reference's three keys, with the reference's meaning of 'iteration' (next to run)
    assert state["iteration"] == 8
    assert set(state["model_state"]) == set(model.state_dict())
    assert state["config"] == {"batch_size": 2} and state["seed"] == 11

    model2 = _model(4)
    torch.nn.init.zeros_(model2[0].weight)
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-3)
    ckpt.load_into(model2, state, str(path), opt2)
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(torch.as_tensor(s1[k][name]), torch.as_tensor(s2[k][name]))


def test_rng_state_round_trip():
    random.seed(1); np.random.seed(2); torch.manual_seed(3)
    state = ckpt.capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(2))
    random.seed(9); np.random.seed(9); torch.manual_seed(9)
    ckpt.restore_rng_state(state)
    again = (random.random(), np.random.rand(), torch.rand(2))
    assert first[0] == again[0] and first[1] == again[1] and torch.equal(first[2], again[2])


def test_rng_state_survives_the_file(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    torch.manual_seed(5); np.random.seed(5); random.seed(5)
    path = ckpt.save_checkpoint(tmp_path, "j", model, opt, 1)
    expected = (random.random(), float(np.random.rand()), torch.rand(3))
    ckpt.restore_rng_state(ckpt.read_checkpoint(path)["rng_state"])
    got = (random.random(), float(np.random.rand()), torch.rand(3))
    assert expected[:2] == got[:2] and torch.equal(expected[2], got[2])


def test_write_is_atomic(tmp_path, monkeypatch):
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    good = ckpt.save_checkpoint(tmp_path, "job", model, opt, 5)
    before = good.read_bytes()

    def broken_save(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        ckpt.atomic_torch_save({"x": 1}, good)
    # the old file is intact and no temporary file is left behind
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job_5.pt"]


def test_keep_last_k(tmp_path):
    from cnsr.engine.runfolder import RunFolder

    model = _model()
    opt = torch.optim.Adam(model.parameters())
    (tmp_path / "other_3.pt").write_bytes(b"not ours")
    run = RunFolder(tmp_path, "job").open()
    for it in (10, 2, 30, 20):
        run.record(ckpt.save_checkpoint(tmp_path, "job", model, opt, it), keep=2)
    assert [i for i, _ in ckpt.list_checkpoints(tmp_path, "job")] == [20, 30]
    assert (tmp_path / "other_3.pt").exists()
    assert ckpt.latest_checkpoint(tmp_path, "job") == tmp_path / "job_30.pt"


def test_parallel_prefixes_are_removed():
    t = torch.zeros(1)
    sd = {"module.representation.representations.0.module.conv1.weight": t,
          "generator.generators.0.module.input.bias": t, "representation.representations.0.deltas": t,
          "module.generator.generators.1.module.module.final.bias": t}   # DataParallel inside DDP
    assert set(ckpt.strip_parallel_prefixes(sd)) == {
        "representation.representations.0.conv1.weight", "generator.generators.0.input.bias",
        "representation.representations.0.deltas", "generator.generators.1.final.bias"}


def test_model_state_layouts():
    t = torch.zeros(1)
    assert ckpt.model_state_from({"model_state": {"module.a": t}}) == {"a": t}
    split = ckpt.model_state_from({"representation_state": {"r": t}, "generator_state": {"g": t}})
    assert set(split) == {"representation.r", "generator.g"}
    assert ckpt.model_state_from({"a.weight": t}) == {"a.weight": t}
    with pytest.raises(ckpt.CheckpointError, match="f.pt.*model_state"):
        ckpt.model_state_from({"iteration": 3}, "f.pt")


def test_mismatch_names_file_keys_and_shapes(tmp_path):
    small, big = _model(4), _model(6)
    path = ckpt.save_checkpoint(tmp_path, "job", small, torch.optim.Adam(small.parameters()), 1)
    with pytest.raises(ckpt.CheckpointError) as e:
        ckpt.load_into(big, ckpt.read_checkpoint(path), str(path))
    msg = str(e.value)
    assert "job_1.pt" in msg and "0.weight" in msg and "(4, 3) in file vs (6, 3) in model" in msg
    other = torch.nn.Sequential(torch.nn.Linear(3, 4))
    with pytest.raises(ckpt.CheckpointError, match="not in model: 2.weight"):
        ckpt.load_into(other, ckpt.read_checkpoint(path), str(path))


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="missing.pt.*not found"):
        ckpt.read_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ckpt.CheckpointError, match="bad.pt.*cannot read"):
        ckpt.read_checkpoint(bad)

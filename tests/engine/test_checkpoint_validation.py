"""Checkpoints are checked when read: the iteration, the optimizer state needed to resume, the
types of the RNG state and the config; and the iteration a checkpoint reports is its name's."""
import pytest
import torch

from _standins import TinyModel, synthetic_loader, tiny_config
from cnsr.engine import checkpoint as ckpt
from cnsr.engine.trainer import Trainer


def written(tmp_path, **changes):
    model = TinyModel()
    state = ckpt.make_checkpoint(model, torch.optim.Adam(model.parameters()), 6,
                                 config=tiny_config().to_dict(), seed=1)
    for k, v in changes.items():
        if v is None:
            state.pop(k)
        else:
            state[k] = v
    path = tmp_path / "tiny_5.pt"
    torch.save(state, path)
    return path


def resume(path, **kw):
    return Trainer(tiny_config(), device="cpu", model=TinyModel(), loader_factory=synthetic_loader,
                   checkpoint=path, out_folder=path.parent / "run", progress=False, handle_signals=False, **kw)


@pytest.mark.parametrize("value", [-5, 2.5, "7", True])
def test_a_bad_iteration_is_refused(tmp_path, value):
    path = written(tmp_path, iteration=value)
    with pytest.raises(ckpt.CheckpointError, match=r"tiny_5.pt: 'iteration' must be an integer >= 0"):
        ckpt.read_checkpoint(path)
    with pytest.raises(ckpt.CheckpointError, match="'iteration'"):
        resume(path)


def test_an_iteration_of_zero_starts_at_one(tmp_path):
    assert resume(written(tmp_path, iteration=0)).start_iteration == 1


def test_no_optimizer_state_is_refused_unless_reset(tmp_path, capsys):
    path = written(tmp_path, optimizer_state=None)
    with pytest.raises(ckpt.CheckpointError, match=r"tiny_5.pt: holds no optimizer state.*--reset_optimizer"):
        resume(path)
    t = resume(path, reset_optimizer=True)
    assert t.start_iteration == 6 and not t.optimizer.state
    assert "--reset_optimizer" in capsys.readouterr().out


@pytest.mark.parametrize("key, value, match", [
    ("rng_state", [1, 2], "'rng_state': expected a dict"),
    ("rng_state", {"torch": torch.zeros(3)}, "'rng_state': 'torch' is not a torch random state"),
    ("rng_state", {"python": (3, (1, 2), None)}, "'rng_state': 'python' is not a Python random state"),
    ("config", [1], "'config' must be a config dict"),
    ("seed", "x", "'seed' must be an integer"),
    ("optimizer_state", [1], "'optimizer_state' is not an optimizer state"),
])
def test_keys_of_the_wrong_type_are_refused(tmp_path, key, value, match):
    with pytest.raises(ckpt.CheckpointError, match=match):
        ckpt.read_checkpoint(written(tmp_path, **{key: value}))


def test_the_reported_iteration_is_the_one_in_the_name(tmp_path):
    """A checkpoint named _600 was trained 600 iterations: it stores 601 (the next to run, as the
    reference's files) and reports 600."""
    t = Trainer(tiny_config(iterations=6, checkpoint_interval=6), device="cpu", model=TinyModel(),
                loader_factory=synthetic_loader, out_folder=tmp_path / "run", progress=False, handle_signals=False)
    t.train()
    path = tmp_path / "run" / "tiny_6.pt"
    state = ckpt.read_checkpoint(path)
    assert state["iteration"] == 7 and ckpt.completed_iterations(state) == 6 and ckpt.next_iteration(state) == 7

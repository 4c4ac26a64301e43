"""The partition logits' own learning rate (``partition_learning_rate_factor``) and a step schedule
that steps up: Adam's groups, the first update's size, resuming, and the config's checks."""
import pytest
import torch

from _standins import TinyModel, tiny_config
from cnsr.config import ConfigError, parse_config
from cnsr.models.partition import parameter_groups
from test_schedule import make, train_recording_rates


def test_groups_put_only_the_logits_apart():
    model = TinyModel()
    one = parameter_groups(model)
    assert len(one) == 1 and len(one[0]["params"]) == len(list(model.parameters()))
    rest, logits = parameter_groups(model, 10.0)
    assert logits["params"] == [model.deltas] and logits["lr_factor"] == 10.0
    assert rest["lr_factor"] == 1.0 and len(rest["params"]) == len(list(model.parameters())) - 1
    assert all(p is not model.deltas for p in rest["params"])


@pytest.mark.parametrize("factor", [1.0, 10.0, 0.1])
def test_adams_first_step_moves_the_logits_by_the_factor_times_the_rate(tmp_path, factor):
    """Adam's first update of a parameter is lr * g / (|g| + eps): about the rate per element,
    whatever the gradient's size, so the logits move by lr * factor, the rest by lr."""
    t = make(tmp_path, iterations=1, checkpoint_interval=1, learning_rate=1e-3, partition_learning_rate_factor=factor)
    before = {n: p.detach().clone() for n, p in t.model.named_parameters()}
    t.train()
    moved = {n: (p.detach() - before[n]).abs() for n, p in t.model.named_parameters()}
    nonzero = moved["deltas"][moved["deltas"] > 0]
    assert nonzero.numel() > 0
    assert nonzero == pytest.approx(torch.full_like(nonzero, 1e-3 * factor), rel=1e-2)
    w = moved["generator.weight"]
    assert w.max().item() == pytest.approx(1e-3, rel=1e-2)
    rates = sorted(g["lr"] for g in t.optimizer.param_groups)
    assert rates == pytest.approx(sorted({1e-3, 1e-3 * factor}))


def test_a_run_with_its_own_logit_rate_resumes_bit_for_bit(tmp_path):
    kw = dict(iterations=8, checkpoint_interval=4, learning_rate=0.01, partition_learning_rate_factor=10.0)
    whole = make(tmp_path / "a", **kw)
    whole.train()
    first = make(tmp_path / "b", **kw)
    first.train(iterations=4)
    second = make(tmp_path / "b", checkpoint=first.last_checkpoint, **kw)
    assert [g["lr_factor"] for g in second.optimizer.param_groups] == [1.0, 10.0]
    second.train()
    for (name, a), b in zip(whole.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_resuming_with_another_factor_keeps_adams_moments_and_takes_the_configs_factor(tmp_path):
    first = make(tmp_path, iterations=4, checkpoint_interval=4, learning_rate=0.01)
    first.train()
    moments = {id(p): first.optimizer.state[p]["exp_avg_sq"].clone() for p in first.model.parameters()}
    names = {id(p): n for n, p in first.model.named_parameters()}
    by_name = {names[k]: v for k, v in moments.items()}
    second = make(tmp_path, checkpoint=first.last_checkpoint, iterations=5, checkpoint_interval=5,
                  learning_rate=0.01, partition_learning_rate_factor=3.0)
    assert [g["lr_factor"] for g in second.optimizer.param_groups] == [1.0, 3.0]
    for n, p in second.model.named_parameters():      # each parameter got its own moments back
        assert torch.equal(second.optimizer.state[p]["exp_avg_sq"], by_name[n]), n
    second.train()
    assert sorted(g["lr"] for g in second.optimizer.param_groups) == pytest.approx([0.01, 0.03])


def test_a_step_schedule_may_step_up(tmp_path):
    t = make(tmp_path, iterations=4, checkpoint_interval=4, learning_rate=0.01, learning_rate_schedule="step",
             final_learning_rate=0.1, learning_rate_step=2)
    assert train_recording_rates(t) == pytest.approx([0.01, 0.01, 0.1, 0.1])


@pytest.mark.parametrize("extra, match", [
    ({"partition_learning_rate_factor": 0}, "partition_learning_rate_factor"),
    ({"partition_learning_rate_factor": -2.0}, "partition_learning_rate_factor"),
    ({"learning_rate_schedule": "cosine", "final_learning_rate": 0.1}, "final_learning_rate"),   # a cosine only falls
    ({"learning_rate_schedule": "step", "final_learning_rate": 0.0}, "final_learning_rate"),
])
def test_bad_rate_keys_are_refused_naming_the_key(extra, match):
    data = tiny_config(learning_rate=1e-3).to_dict()
    data.update(extra)
    with pytest.raises(ConfigError, match=match):
        parse_config(data, "x.json")

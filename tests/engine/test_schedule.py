"""The learning-rate schedule: closed-form values, config validation, and the trainer using it."""
import json
import math
from pathlib import Path

import pytest
import torch

from _standins import TinyModel, synthetic_loader, tiny_config
from cnsr.config import ConfigError, parse_config
from cnsr.engine.trainer import Trainer
from cnsr.schedules import learning_rate

ROOT = Path(__file__).resolve().parents[2]


def test_constant_is_the_base_rate_after_warmup():
    assert [learning_rate(i, 0.01, 100) for i in (1, 50, 100, 500)] == [0.01] * 4
    assert [learning_rate(i, 0.01, 100, warmup=4) for i in (1, 2, 4, 5)] == [0.0025, 0.005, 0.01, 0.01]


def test_cosine_closed_form():
    base, final, n, w = 1e-3, 1e-5, 1000, 100
    for i in (101, 300, 550, 777, 1000):
        t = (i - w) / (n - w)
        expected = final + (base - final) * 0.5 * (1 + math.cos(math.pi * t))
        assert learning_rate(i, base, n, "cosine", w, final) == pytest.approx(expected, rel=1e-12)
    assert learning_rate(550, base, n, "cosine", w, final) == pytest.approx((base + final) / 2)
    assert learning_rate(n, base, n, "cosine", w, final) == pytest.approx(final)
    assert learning_rate(5 * n, base, n, "cosine", w, final) == pytest.approx(final)   # past the end: stays low
    assert learning_rate(n, base, n, "cosine") == pytest.approx(base / 100)              # default end: 1 %
    rates = [learning_rate(i, base, n, "cosine", w, final) for i in range(w, n + 1)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))                                 # monotone decay


@pytest.mark.parametrize("key, value", [("learning_rate_schedule", "linear"), ("warmup_iterations", -1),
                                        ("final_learning_rate", 1.0), ("final_learning_rate", -1e-5)])
def test_bad_schedule_keys_are_refused_naming_the_key(key, value):
    data = tiny_config(learning_rate=1e-3).to_dict()
    data[key] = value
    with pytest.raises(ConfigError, match=key):
        parse_config(data, "x.json")


def make(tmp_path, checkpoint=None, **kw):
    """A trainer of the tiny model in ``tmp_path`` (resuming from ``checkpoint`` if given)."""
    torch.manual_seed(0)
    return Trainer(tiny_config(**kw), device="cpu", model=TinyModel(), loader_factory=synthetic_loader,
                   checkpoint=checkpoint, out_folder=tmp_path / "ckpt", log_dir=tmp_path / "runs", progress=False)


def train_recording_rates(trainer):
    """Train to the end; the learning rate each step was taken with, in order."""
    seen = []
    step = trainer.step

    def recording_step(i):
        logs = step(i)
        seen.append(logs["learning_rate"])
        return logs

    trainer.step = recording_step
    trainer.train()
    return seen


def test_the_trainer_steps_with_the_scheduled_rate_and_resumes_on_the_curve(tmp_path):
    kw = dict(iterations=8, checkpoint_interval=4, learning_rate=0.1, learning_rate_schedule="cosine",
              warmup_iterations=2, final_learning_rate=0.001)
    t = make(tmp_path / "a", **kw)
    seen = train_recording_rates(t)
    assert seen == pytest.approx([learning_rate(i, 0.1, 8, "cosine", 2, 0.001) for i in range(1, 9)])
    assert seen[1] == pytest.approx(0.1) and seen[-1] == pytest.approx(0.001)
    # stopped at 4 and resumed: the same curve, the same parameters
    first = make(tmp_path / "b", **kw)
    first.train(iterations=4)
    second = make(tmp_path / "b", checkpoint=first.last_checkpoint, **kw)
    second.train()
    for a, b in zip(t.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def test_step_keeps_the_high_rate_through_its_step_then_the_final_one():
    base, final, n = 1e-3, 1e-4, 100
    assert [learning_rate(i, base, n, "step", 0, final, 20) for i in (1, 19, 20, 21, 100, 500)] == \
        [base, base, base, final, final, final]
    assert learning_rate(21, base, n, "step", step=20) == pytest.approx(base / 100)    # default end: 1 %
    # warm-up first, then the high rate until the step
    assert [learning_rate(i, base, n, "step", 4, final, 10) for i in (1, 4, 10, 11)] == \
        [base / 4, base, base, final]


@pytest.mark.parametrize("extra, match", [({"learning_rate_step": -1}, "learning_rate_step"),
                                          ({"learning_rate_step": 5, "warmup_iterations": 10}, "learning_rate_step")])
def test_bad_step_keys_are_refused(extra, match):
    data = tiny_config(learning_rate=1e-3).to_dict()
    data.update({"learning_rate_schedule": "step", **extra})
    with pytest.raises(ConfigError, match=match):
        parse_config(data, "x.json")


def test_the_trainer_steps_down_after_the_step(tmp_path):
    t = make(tmp_path, iterations=6, checkpoint_interval=6, learning_rate=0.1, learning_rate_schedule="step",
             final_learning_rate=0.01, learning_rate_step=3)
    seen = train_recording_rates(t)
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_decay_anneals_the_last_iterations_of_any_schedule():
    base, final, n, d = 1e-4, 1e-3, 100, 20
    for schedule in ("constant", "step", "cosine"):
        undecayed = [learning_rate(i, base, n, schedule, 0, final if schedule == "step" else None, 10)
                     for i in range(1, n + 1)]
        decayed = [learning_rate(i, base, n, schedule, 0, final if schedule == "step" else None, 10, d)
                   for i in range(1, n + 1)]
        assert decayed[:n - d] == undecayed[:n - d]                     # untouched before the decay
        for i in range(n - d, n + 1):                                   # closed form inside it
            t = (i - (n - d)) / d
            factor = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))
            assert decayed[i - 1] == pytest.approx(undecayed[i - 1] * factor, rel=1e-12)
        assert decayed[-1] == pytest.approx(undecayed[-1] / 100)       # ends at 1 % of the schedule's rate
    # the step schedule's high rate, held then annealed: monotone from the step on
    rates = [learning_rate(i, base, n, "step", 0, final, 10, d) for i in range(11, n + 1)]
    assert rates[0] == final and all(a >= b for a, b in zip(rates, rates[1:]))
    assert learning_rate(3 * n, base, n, "step", 0, final, 10, d) == pytest.approx(final / 100)


@pytest.mark.parametrize("value", [-1, 10**9])
def test_decay_longer_than_the_run_or_negative_is_refused(value):
    data = tiny_config(learning_rate=1e-3).to_dict()
    data["learning_rate_decay"] = value
    with pytest.raises(ConfigError, match="learning_rate_decay"):
        parse_config(data, "x.json")


def test_the_trainer_resumes_on_the_decayed_curve(tmp_path):
    kw = dict(iterations=8, checkpoint_interval=4, learning_rate=0.01, learning_rate_schedule="step",
              learning_rate_step=2, final_learning_rate=0.1, learning_rate_decay=5)
    seen = train_recording_rates(make(tmp_path / "a", **kw))
    assert seen == pytest.approx([learning_rate(i, 0.01, 8, "step", 0, 0.1, 2, 5) for i in range(1, 9)])
    assert seen[2] == pytest.approx(0.1) and seen[-1] == pytest.approx(0.001)
    first = make(tmp_path / "b", **kw)
    first.train(iterations=4)
    second = make(tmp_path / "b", checkpoint=first.last_checkpoint, **kw)
    resumed = train_recording_rates(second)
    assert resumed == pytest.approx(seen[4:])


def test_shared_iterations_end_where_two_rates_part():
    """Two recipes train alike up to the first iteration whose learning rate differs; any other
    difference in what a run learns (the seed, the model) parts them from the start."""
    from cnsr.config_drift import shared_iterations
    cfg = dict(json.loads((ROOT / "configs" / "experiments" / "room_adaptive.json").read_text()),
               learning_rate_decay=0)
    decayed = dict(cfg, learning_rate_decay=5000)
    assert shared_iterations(cfg, decayed) == shared_iterations(decayed, cfg) == 15000
    assert shared_iterations(cfg, cfg) == 20000
    assert shared_iterations(cfg, dict(cfg, learning_rate_step=1500)) == 1500     # rate after 1500 differs
    assert shared_iterations(cfg, dict(decayed, iterations=30000)) == 20000       # its decay starts at 25,000
    assert shared_iterations(cfg, dict(cfg, iterations=8000)) == 8000             # the shorter run's length
    assert shared_iterations(cfg, dict(cfg, learning_rate=2e-4)) == 0
    assert shared_iterations(cfg, dict(cfg, seed=3)) == 0
    assert shared_iterations(cfg, dict(cfg, batch_size=16)) == 0
    assert shared_iterations(cfg, dict(cfg, logging=False)) == 0              # the test batch draws
    assert shared_iterations(cfg, dict(cfg, checkpoint_interval=500, job_name="x")) == 20000
    model = json.loads(json.dumps(decayed))
    model["model"]["representations"][0]["representation_dim"] = 32
    assert shared_iterations(cfg, model) == 0


def test_shared_iterations_session_by_session():
    """A run trained in sessions shares only what each session trained at the rates asked for: a
    first session given --iterations 10000 annealed its own last 5000, so a recipe that anneals
    at 15,000 of 20,000 parts from it at iteration 5001; sessions that kept the run's target
    share up to the decay, and nothing beyond the last iteration trained."""
    from cnsr.config_drift import shared_iterations
    cfg = json.loads((ROOT / "configs" / "experiments" / "room_adaptive.json").read_text())
    assert cfg["learning_rate_decay"] == 5000 and cfg["iterations"] == 20000
    assert shared_iterations(cfg, cfg, [(1, 12000, 20000), (12001, 20000, 20000)]) == 20000
    assert shared_iterations(cfg, cfg, [(1, 10000, 10000), (10001, 20000, 20000)]) == 5000
    assert shared_iterations(cfg, cfg, [(1, 7000, 20000)]) == 7000            # stopped at 7000
    assert shared_iterations(cfg, dict(cfg, learning_rate_decay=0), [(1, 7000, 20000)]) == 7000
    assert shared_iterations(cfg, dict(cfg, learning_rate_decay=0), [(1, 18000, 20000)]) == 15000
    assert shared_iterations(cfg, cfg, []) == 0                                 # nothing trained
    # its rate half, for a caller that compared the rest itself: rates only, the seed not looked at
    from cnsr.config_drift import iterations_at_same_rate
    assert iterations_at_same_rate(cfg, cfg, [(1, 10000, 10000), (10001, 20000, 20000)]) == 5000
    assert iterations_at_same_rate(cfg, dict(cfg, seed=3)) == 20000
    assert shared_iterations(cfg, dict(cfg, seed=3)) == 0

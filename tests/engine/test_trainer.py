"""The training loop on a stand-in model and a synthetic stream (seconds, no renderer)."""
import os
import signal

import pytest
import torch

from _standins import TinyModel, synthetic_loader, tiny_config
from cnsr.engine import checkpoint as ckpt
from cnsr.engine.trainer import Trainer, iteration_generator, select_observations


def make_trainer(tmp_path, cfg=None, model=None, **kw):
    cfg = cfg or tiny_config()
    torch.manual_seed(0)
    return Trainer(cfg, device="cpu", model=model or TinyModel(), loader_factory=synthetic_loader,
                   out_folder=tmp_path / "ckpt", log_dir=tmp_path / "runs", progress=False, **kw)


def test_select_observations_shuffles_and_keeps_between_1_and_n():
    n = 4
    poses = torch.arange(n, dtype=torch.float32).view(1, n, 1, 1, 1).expand(2, n, 16, 1, 1)
    batch = {"observation_poses": poses,
             "observation_images": {"beauty": poses[:, :, :3].expand(2, n, 3, 2, 2) * 10},
             "query_images": {}, "query_poses": torch.zeros(2, 16, 1, 1), "factor": 0}
    counts, orders = set(), set()
    for it in range(200):
        out = select_observations(batch, iteration_generator(1, it), True)
        idx = out["observation_poses"][0, :, 0, 0, 0]
        k = idx.numel()
        counts.add(k)
        orders.add(tuple(idx.long().tolist()))
        assert len(set(idx.tolist())) == k                                       # no repeats
        assert torch.equal(out["observation_images"]["beauty"][:, :, 0, 0, 0], out["observation_poses"][:, :, 0, 0, 0] * 10)
        assert torch.equal(out["observation_poses"][1], out["observation_poses"][0])
    assert counts == set(range(1, n + 1))
    full = [o for o in orders if len(o) == n]
    assert len(full) > 3                                                          # order shuffled
    fixed = select_observations(batch, iteration_generator(1, 5), False)
    assert fixed["observation_poses"].shape[1] == n
    # the choice is a function of (seed, iteration): reproducible after a resume
    a = select_observations(batch, iteration_generator(1, 7), True)["observation_poses"]
    b = select_observations(batch, iteration_generator(1, 7), True)["observation_poses"]
    assert torch.equal(a, b)


def test_tiny_run_loss_falls(tmp_path):
    t = make_trainer(tmp_path, tiny_config(iterations=60, checkpoint_interval=1000))
    summary = t.train()
    losses = [h["loss"] for h in t.history]
    assert summary["iterations_run"] == 60
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:10]) / 10
    # the final state is checkpointed even off the interval
    assert summary["checkpoint"] == tmp_path / "ckpt" / "tiny_60.pt"


def test_resume_is_exact(tmp_path):
    """3 + 4 iterations with a resume in between == 7 iterations straight (bitwise)."""
    straight = make_trainer(tmp_path / "a", tiny_config(iterations=7, checkpoint_interval=3))
    straight.train()

    first = make_trainer(tmp_path / "b", tiny_config(iterations=3, checkpoint_interval=3))
    first.train()
    path = tmp_path / "b" / "ckpt" / "tiny_3.pt"
    assert ckpt.read_checkpoint(path)["iteration"] == 4
    # scramble the global RNG: the checkpoint must restore it
    torch.manual_seed(12345)
    second = make_trainer(tmp_path / "b", tiny_config(iterations=7, checkpoint_interval=3, seed=99),
                          checkpoint=path)
    assert second.start_iteration == 4 and second.seed == 3   # the run's seed comes from the file
    second.train()
    assert [h["loss"] for h in straight.history[3:]] == [h["loss"] for h in second.history]
    for (k, a), b in zip(straight.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), k
    sa, sb = straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)


def test_sigint_writes_a_final_checkpoint_and_returns(tmp_path):
    class Interrupting(TinyModel):
        def compute_loss(self, batch, iteration):
            if iteration == 4:
                os.kill(os.getpid(), signal.SIGINT)   # as Ctrl-C in the terminal
            return super().compute_loss(batch, iteration)

    t = make_trainer(tmp_path, tiny_config(iterations=50, checkpoint_interval=100), model=Interrupting())
    summary = t.train()
    assert summary["stopped_early"] and summary["iterations_run"] == 4
    state = ckpt.read_checkpoint(tmp_path / "ckpt" / "tiny_4.pt")
    assert state["iteration"] == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # handler restored


def test_checkpoint_of_another_config_is_refused_clearly(tmp_path):
    t = make_trainer(tmp_path, tiny_config(iterations=2))
    path = t.train()["checkpoint"]
    with pytest.raises(ckpt.CheckpointError) as e:
        make_trainer(tmp_path, model=TinyModel(hidden=5), checkpoint=path)
    assert "tiny_2.pt" in str(e.value) and "encoder.weight" in str(e.value) and "in file vs" in str(e.value)


def test_keep_last_checkpoints(tmp_path):
    t = make_trainer(tmp_path, tiny_config(iterations=10, checkpoint_interval=2), keep_checkpoints=2)
    t.train()
    assert [i for i, _ in ckpt.list_checkpoints(tmp_path / "ckpt", "tiny")] == [8, 10]


def test_tensorboard_has_losses_partitions_metrics_and_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    t = make_trainer(tmp_path, tiny_config(iterations=4, test_interval=2, logging=True))
    t.train()
    t.close()
    acc = EventAccumulator(str(tmp_path / "runs"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("loss/l1", "loss/total_loss", "partition/0/lighting_percentage", "partition/0/active_size",
                "test/ssim/beauty_0", "test/psnr/beauty_0", "test/mape/beauty_0", "test/rmse/beauty_0",
                "test/flip/beauty_0", "perf/it_per_s",
                "perf/data_wait_fraction"):
        assert tag in tags, tag
    assert [e.step for e in acc.Scalars("loss/total_loss")] == [2, 4]
    (image,) = [acc.Images("images/beauty_0")[-1]]
    # 2 test scenes (rows) x (reference, prediction, FLIP error, 3 observations) of 8 px, each
    # upscaled to 128 px, with labels around and the error's colour bar under them
    assert image.height > 2 * 128 and image.width > 6 * 128


def test_channels_last_trains_like_eager(tmp_path):
    eager = make_trainer(tmp_path / "a", tiny_config(iterations=3))
    eager.train()
    fast = make_trainer(tmp_path / "b", tiny_config(iterations=3), channels_last=True)
    assert fast.model.encoder.weight.is_contiguous(memory_format=torch.channels_last)
    fast.train()
    for a, b in zip(eager.history, fast.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_resume_takes_the_learning_rate_of_the_config(tmp_path):
    path = make_trainer(tmp_path, tiny_config(iterations=2)).train()["checkpoint"]
    t = make_trainer(tmp_path, tiny_config(iterations=4, learning_rate=0.5), checkpoint=path)
    assert [g["lr"] for g in t.optimizer.param_groups] == [0.5]
    assert t.optimizer.state_dict()["state"]                      # Adam moments restored


def test_loader_factories_get_one_explicit_signature(tmp_path):
    """Every factory is called with the same keyword arguments (cnsr.data.LoaderFactory); a
    factory that takes exactly those, and nothing else, works."""
    import inspect

    from cnsr.data import LoaderFactory, build_loader

    calls = []

    def strict_factory(cfg, split, device, *, seed, start_iteration, rank, world_size, num_workers):
        calls.append(dict(split=split, seed=seed, start_iteration=start_iteration, rank=rank,
                          world_size=world_size, num_workers=num_workers))
        return synthetic_loader(cfg, split, device, seed=seed, start_iteration=start_iteration, rank=rank,
                                world_size=world_size, num_workers=num_workers)

    torch.manual_seed(0)
    t = Trainer(tiny_config(), device="cpu", model=TinyModel(), loader_factory=strict_factory,
                out_folder=tmp_path / "ckpt", log_dir=tmp_path / "runs", progress=False)
    t.train(2)
    t.test_batch()
    assert calls[0] == dict(split="train", seed=t.seed, start_iteration=1, rank=0, world_size=1, num_workers=None)
    assert calls[1] == dict(split="test", seed=None, start_iteration=1, rank=0, world_size=1, num_workers=0)
    # the protocol, the default factory and the stand-in agree on the keyword arguments
    keywords = {n for n, p in inspect.signature(LoaderFactory.__call__).parameters.items()
                if p.kind == p.KEYWORD_ONLY}
    assert keywords == {"seed", "start_iteration", "rank", "world_size", "num_workers"}
    assert keywords <= set(inspect.signature(build_loader).parameters)
    assert keywords <= set(inspect.signature(synthetic_loader).parameters)

"""End to end through ``code/train-gqn.py`` with the real model and data loader on a tiny
config and a small synthetic dataset (written in the reference's .npz layout)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cnsr.data import write_batch_npz
from cnsr.engine import checkpoint as ckpt
from tiny import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "code", "train-gqn.py")
SIZE = 16


def write_dataset(folder, files, seed, scenes=4, views=4):
    """Scenes lit from above in a colour of their own: beauty = colour * (1 + n_z) / 2, so the
    query normal gives the shading and the observations the colour."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(files):
        colour = rng.uniform(0.2, 1.5, size=(scenes, 1, 3, 1, 1))
        normal = rng.normal(size=(scenes, views, 3, SIZE, SIZE))
        normal /= np.linalg.norm(normal, axis=2, keepdims=True)
        beauty = colour * (0.5 + 0.5 * normal[:, :, 2:3])
        poses = rng.normal(size=(scenes, views, 16))
        write_batch_npz(os.path.join(folder, f"batch{i:09d}.npz"), {"beauty": beauty, "normal": normal}, poses, -1)


def tiny_config_dict(data):
    """The shared tiny config trained from a folder of reference .npz batches, with TensorBoard logs."""
    return tiny_config(SIZE, generator={"settings": {"layers": 2, "hidden_units": 24, "loss": ["logl1", "logssim"]}},
                       seed=1, train_data_dir=os.path.join(data, "train"), test_data_dir=os.path.join(data, "test"),
                       cached_dataset=True, checkpoint_interval=20, test_interval=10, iterations=40, batch_size=4,
                       views_per_scene=4, random_num_views=True, learning_rate=0.003, logging=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    data = str(folder / "data")
    write_dataset(os.path.join(data, "train"), 6, seed=0)
    write_dataset(os.path.join(data, "test"), 1, seed=1)
    cfg = folder / "tiny.json"
    cfg.write_text(json.dumps(tiny_config_dict(data)))
    return folder, cfg


def run(*args, cwd=ROOT, env=None):
    env = dict(os.environ, **(env or {}))
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def scalars(log_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_help():
    r = run(SCRIPT, "--help")
    assert r.returncode == 0 and "--checkpoint" in r.stdout and "--dry_run" in r.stdout


def test_loss_falls_and_resume_continues(tiny):
    folder, cfg = tiny
    out, logs = folder / "ckpt", folder / "runs"
    r = run(SCRIPT, "--config", str(cfg), "--out_folder", str(out), "--log_dir", str(logs), "--no_progress",
            "--device", "cpu")
    assert r.returncode == 0, r.stderr
    # the start-up summary names each network and its parameter count
    assert "representation0 (PoolEncoder)" in r.stdout and "generator0 (PixelCNN)" in r.stdout
    losses = scalars(logs, "loss/total_loss")
    assert [s for s, _ in losses] == [10, 20, 30, 40]
    assert losses[-1][1] < 0.7 * losses[0][1], losses
    ssim = scalars(logs, "test/ssim/beauty_0")
    assert len(ssim) == 4 and scalars(logs, "test/psnr/beauty_0") and scalars(logs, "test/flip/beauty_0")
    assert [i for i, _ in ckpt.list_checkpoints(out, "tiny")] == [20, 40]
    state = ckpt.read_checkpoint(out / "tiny_40.pt")
    assert state["iteration"] == 41 and state["config"]["batch_size"] == 4

    # resume from 20, an earlier checkpoint of that run, and train on to 30: a new run folder beside
    # it (the run's later checkpoint 40 stays as it was)
    r = run("train-gqn.py", "--config", str(cfg), "--checkpoint", str(out / "tiny_20.pt"), "--iterations", "30",
            "--no_logging", "--no_progress", cwd=os.path.join(ROOT, "code"))
    assert r.returncode == 0, r.stderr
    assert "iterations 21..30" in r.stdout
    branch = folder / "tiny" / "version_0"
    assert str(branch) in r.stdout
    assert ckpt.read_checkpoint(branch / "tiny_30.pt")["iteration"] == 31
    assert [i for i, _ in ckpt.list_checkpoints(out, "tiny")] == [20, 40]
    # its newest checkpoint continues in its own folder
    r = run(SCRIPT, "--config", str(cfg), "--checkpoint", str(branch / "tiny_30.pt"), "--iterations", "30",
            "--no_logging", "--no_progress")
    assert r.returncode == 0 and "nothing to train" in r.stdout
    assert str(branch) in r.stdout and not (folder / "tiny" / "version_1").exists()


def test_dry_run_checks_the_data(tiny, tmp_path):
    folder, cfg = tiny
    r = run(SCRIPT, "--config", str(cfg), "--dry_run")
    assert r.returncode == 0, r.stderr
    assert "dry run: OK" in r.stdout and "trainable parameters" in r.stdout
    bad = json.loads(cfg.read_text())
    bad["test_data_dir"] = str(tmp_path / "nowhere")
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    r = run(SCRIPT, "--config", str(tmp_path / "bad.json"), "--dry_run")
    assert r.returncode == 2 and "nowhere" in r.stderr and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_checkpoint_of_another_config_is_a_clear_error(tiny, tmp_path):
    folder, cfg = tiny
    other = json.loads(cfg.read_text())
    other["model"]["representations"][0]["representation_dim"] = 8
    (tmp_path / "other.json").write_text(json.dumps(other))
    sd = {"iteration": 5, "model_state": __import__("cnsr.models", fromlist=["x"]).build_model(
        json.loads(cfg.read_text())).state_dict(), "optimizer_state": {}}
    torch.save(sd, tmp_path / "tiny_4.pt")
    r = run(SCRIPT, "--config", str(tmp_path / "other.json"), "--checkpoint", str(tmp_path / "tiny_4.pt"),
            "--no_logging", "--iterations", "5")
    assert r.returncode == 2, r.stderr
    assert "tiny_4.pt" in r.stderr and "conv1.weight" in r.stderr and "in file vs" in r.stderr


def test_ddp_two_cpu_processes_through_torchrun(tiny, tmp_path):
    folder, cfg = tiny
    out = tmp_path / "ckpt"
    r = run("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", SCRIPT, "--config", str(cfg),
            "--device", "cpu", "--iterations", "4", "--out_folder", str(out), "--no_logging", "--no_progress")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 processes (DDP, gloo)" in r.stdout
    # rank 0 alone writes; the result loads into a single-process model
    assert [p.name for p in out.iterdir() if p.suffix == ".pt"] == ["tiny_4.pt"]
    assert ckpt.read_checkpoint(out / "tiny_4.pt")["iteration"] == 5


def test_on_the_fly_rendering_trains_through_the_script(tmp_path):
    """``cached_dataset: false``: PrimitiveRoom batches rendered while training (16 px, 1 spp)."""
    pytest.importorskip("cnsr._renderer")
    cfg = tiny_config(SIZE, representation={"observation_passes": ["beauty", "normal", "id"]},
                      generator={"query_passes": ["normal", "id"], "settings": {"layers": 1, "hidden_units": 16}},
                      job_name="otf", seed=2, iterations=4, test_interval=2, checkpoint_interval=100, num_workers=1,
                      latent_separation=True, learning_rate=0.003, logging=True)
    path = tmp_path / "otf.json"
    path.write_text(json.dumps(cfg))
    logs = tmp_path / "runs"
    r = run(SCRIPT, "--config", str(path), "--out_folder", str(tmp_path / "ckpt"), "--log_dir", str(logs), "--no_progress")
    assert r.returncode == 0, r.stderr
    assert "rendered on the fly" in r.stdout
    assert [s for s, _ in scalars(logs, "partition/lighting_percentage")] == [2, 4]
    assert ckpt.read_checkpoint(tmp_path / "ckpt" / "otf_4.pt")["iteration"] == 5


def straight_and_resumed(cfg, tmp_path, stop, before_resume=None):
    """The same config trained straight through (in ``a/``) and stopped after ``stop``
    iterations, then resumed from that checkpoint by a new trainer (in ``b/``)."""
    from cnsr.engine import Trainer

    def trainer(folder, **kw):
        return Trainer(cfg, device="cpu", out_folder=folder, progress=False, handle_signals=False, **kw)

    straight = trainer(tmp_path / "a")
    straight.train()
    trainer(tmp_path / "b").train(stop)
    if before_resume is not None:
        before_resume()
    resumed = trainer(tmp_path / "b", checkpoint=tmp_path / "b" / f"{cfg['job_name']}_{stop}.pt")
    resumed.train()
    return straight, resumed


def test_resume_is_exact_with_the_real_model_and_rendered_data(tmp_path):
    """2 + 2 iterations with a resume in between == 4 straight: model, Adam state, RNG and the
    rendered data stream all pick up where they stopped."""
    pytest.importorskip("cnsr._renderer")

    cfg = tiny_config(job_name="exact", seed=4, test_batch_size=1, iterations=4, checkpoint_interval=2,
                      latent_separation=True, random_num_views=True, learning_rate=0.003)

    # the global torch generator is scrambled before the resume: the checkpoint restores it
    straight, resumed = straight_and_resumed(cfg, tmp_path, 2, before_resume=lambda: torch.manual_seed(999))
    assert [h["loss"] for h in straight.history[2:]] == [h["loss"] for h in resumed.history]
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_resume_is_exact_with_batch_files(tiny, tmp_path):
    """Resuming from a checkpoint continues with the same files, the same scene subsets cut
    from them (2 of each file's 4 scenes) and the same observations, across an epoch boundary
    (6 files, 8 iterations), as a run that was never stopped."""
    _, cfg_path = tiny
    cfg = json.loads(cfg_path.read_text())
    cfg.update(job_name="exactfiles", batch_size=2, iterations=8, checkpoint_interval=3, logging=False,
               num_workers=1)
    straight, resumed = straight_and_resumed(cfg, tmp_path, 3)
    assert len(resumed.history) == 5
    assert [h["loss"] for h in straight.history[3:]] == [h["loss"] for h in resumed.history]

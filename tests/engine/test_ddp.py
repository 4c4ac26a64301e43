"""DDP with 2 CPU processes (gloo): gradients are averaged across ranks, so 2 ranks x B scenes
train exactly as 1 process x 2B scenes, and both ranks hold the same parameters."""
import os
import socket

import torch
import torch.multiprocessing as mp

from _standins import TinyModel, synthetic_loader, tiny_config


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(batch, seed=-1):
    # no random number of views and no noise: ranks draw differently, the comparison must not depend on it
    return tiny_config(iterations=3, batch_size=batch, random_num_views=False, checkpoint_interval=100, seed=seed)


def _worker(rank, world_size, port, folder):
    os.environ.update(WORLD_SIZE=str(world_size), RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from cnsr.engine.trainer import Trainer
    torch.manual_seed(rank)  # different initialisations: DDP must broadcast rank 0's
    t = Trainer(_config(2), device="cpu", model=TinyModel(noise=0.0), loader_factory=synthetic_loader,
                out_folder=os.path.join(folder, "ckpt"), log_dir=os.path.join(folder, "runs"), progress=False)
    if rank == 0:
        torch.manual_seed(0)
        reference = TinyModel(noise=0.0)
        assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), t.model.state_dict().values()))
    t.train()
    torch.save({"model": t.model.state_dict(), "seed": t.seed}, os.path.join(folder, f"rank{rank}.pt"))
    t.dist.shutdown()


def test_two_process_gloo_equals_one_process_with_the_union_batch(tmp_path):
    port = _free_port()
    mp.start_processes(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    s0 = torch.load(tmp_path / "rank0.pt")
    s1 = torch.load(tmp_path / "rank1.pt")
    # seed -1 draws a random seed: rank 0's is the job's (disjoint shares of shuffled data)
    assert s0["seed"] == s1["seed"]
    r0, r1 = s0["model"], s1["model"]
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    # only rank 0 writes checkpoints
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir() if p.suffix == ".pt") == ["tiny_3.pt"]

    from cnsr.engine.trainer import Trainer
    torch.manual_seed(0)
    single = Trainer(_config(4, seed=s0["seed"]), device="cpu", model=TinyModel(noise=0.0), loader_factory=synthetic_loader,
                     out_folder=tmp_path / "single", log_dir=tmp_path / "runs1", progress=False)
    single.train()
    for k, v in single.model.state_dict().items():
        assert torch.allclose(v, r0[k], atol=1e-6, rtol=1e-5), k

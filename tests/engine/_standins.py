"""A tiny model and a synthetic data stream with the interfaces of ``cnsr.models`` and
``cnsr.data`` (docs/ARCHITECTURE.md), so the training engine is tested on its own, in seconds.

Scene k of a stream is drawn from a generator seeded with (seed, split, k): the stream can
start anywhere (``start_iteration``) and be split across ranks, as a resumable loader must.
Query beauty = scene colour * max(0, normal . light): learnable from the observations.
"""
import errno

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyModel(nn.Module):
    def __init__(self, hidden=8, noise=0.05):
        super().__init__()
        self.noise = noise
        self.encoder = nn.Conv2d(3 + 16, hidden, 1)
        self.generator = nn.Conv2d(3 + hidden, 3, 1)
        self.deltas = nn.Parameter(torch.ones(3))

    def represent(self, batch):
        obs = batch["observation_images"]["beauty"]            # [B, N, 3, H, W]
        b, n, c, h, w = obs.shape
        v = batch["observation_poses"].expand(b, n, 16, h, w)
        x = torch.cat([obs, v], dim=2).reshape(b * n, c + 16, h, w)
        r = F.relu(self.encoder(x)).mean(dim=(2, 3)).reshape(b, n, -1).mean(1)
        return r * 3 * self.deltas.softmax(0)[0]  # the deltas take part (DDP: no unused parameters)

    def predict(self, batch, r):
        normal = batch["query_images"]["normal"]
        b, _, h, w = normal.shape
        x = torch.cat([normal, r[:, :, None, None].expand(b, r.shape[1], h, w)], dim=1)
        return self.generator(x)

    def compute_loss(self, batch, iteration):
        r = self.represent(batch)
        if self.noise:
            r = r * (1 + self.noise * torch.randn_like(r))   # draws from the global RNG like GQN latents
        pred = self.predict(batch, r)
        l1 = (pred - batch["query_images"]["beauty"]).abs().mean()
        return l1, {"l1": l1.item()}

    def sample(self, batch):
        return [{"beauty": self.predict(batch, self.represent(batch)).clamp_min(0)}]

    def partition_stats(self):
        p = self.deltas.detach().softmax(0)
        return {"0": {"lighting_percentage": p[0].item(), "geometry_percentage": p[1].item(),
                      "material_percentage": p[2].item(), "active_size": 8.0}}


def make_scene(seed, split, index, views, size):
    # tuples of ints hash the same in every process (strings would not)
    g = torch.Generator().manual_seed(hash((seed, 0 if split == "train" else 1, index)) % (2 ** 62))
    colour = torch.rand(3, generator=g) + 0.1
    light = F.normalize(torch.randn(3, generator=g), dim=0)
    normals = F.normalize(torch.randn(views, 3, size, size, generator=g), dim=1)
    shade = (normals * light[None, :, None, None]).sum(1, keepdim=True).clamp_min(0)
    beauty = colour[None, :, None, None] * shade
    poses = torch.randn(views, 16, 1, 1, generator=g)
    return beauty, normals, poses


def synthetic_batch(cfg, split, index, seed=0, rank=0, world_size=1):
    size = cfg.max_render_size()
    n = cfg.views_per_scene
    bsz = cfg.batch_size if split == "train" else cfg.test_batch_size
    scenes = [make_scene(seed, split, (index, rank * bsz + j), n, size) for j in range(bsz)]
    beauty = torch.stack([s[0] for s in scenes])
    normal = torch.stack([s[1] for s in scenes])
    poses = torch.stack([s[2] for s in scenes])
    return {"observation_images": {"beauty": beauty[:, 1:], "normal": normal[:, 1:]},
            "observation_poses": poses[:, 1:],
            "query_images": {"beauty": beauty[:, 0], "normal": normal[:, 0]},
            "query_poses": poses[:, 0], "factor": -1}


def synthetic_loader(cfg, split, device, *, seed=None, start_iteration=1, rank=0, world_size=1, num_workers=None):
    """A :class:`cnsr.data.LoaderFactory`: an endless stream; the batch of iteration i depends
    only on (seed, split, i, rank)."""
    seed = 0 if seed is None else seed
    i = start_iteration if split == "train" else 0
    while True:
        yield synthetic_batch(cfg, split, i, seed, rank, world_size)
        i += 1


def tiny_config(**overrides):
    """The shared tiny config at 8 px, shaped for trainer runs of a few iterations."""
    from cnsr.config import load_config
    from tiny import tiny_config as shared_config

    d = shared_config(8, representation={"observation_passes": ["beauty"], "representation_dim": 8},
                      generator={"settings": {}}, batch_size=4, test_batch_size=2, views_per_scene=4,
                      iterations=10, checkpoint_interval=5, test_interval=5, learning_rate=0.01, seed=3,
                      random_num_views=True, num_workers=2)
    d.update(overrides)
    return load_config(d)


def disk_full_after(monkeypatch, iteration):
    """``torch.save`` fails as a full disk does for every checkpoint past ``iteration``."""
    real_save = torch.save

    def save(obj, f, *a, **k):
        if obj["iteration"] > iteration:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save)

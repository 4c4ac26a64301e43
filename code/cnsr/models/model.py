"""The full model: encoders -> (partitioned) scene representations -> chain of generators.

``build_model(cfg)`` returns a :class:`SceneRepresentationModel` whose parameter names are
those of the reference checkpoints (``representation.representations.0.conv1.weight``,
``generator.generators.0.layers.3.bias`` ...), so ``load_reference_state_dict`` can load the
paper's pretrained checkpoints (also those written under ``nn.DataParallel``).

Batch layout (see docs/ARCHITECTURE.md)::

    observation_images {pass: [B, N, C, H, W]}, observation_poses [B, N, 16, 1, 1],
    query_images {pass: [B, C, H, W]}, query_poses [B, 16, 1, 1], factor int
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config, load_config
from ..passes import channels, total_channels
from ..registry import ENCODERS, GENERATORS, EncoderIO, GeneratorIO, generator_entry
from . import state_dicts
from .inputs import observation_tensor, query_tensor, split_passes

Batch = Mapping[str, Any]


def _factor(batch: Batch) -> int:
    f = batch.get("factor", -1)
    return int(f.flatten()[0]) if torch.is_tensor(f) else int(f)


class RepresentationNetworks(nn.Module):
    """The encoders of a config (``model.representations``), as ``.representations[i]``."""

    def __init__(self, cfg: Config):
        super().__init__()
        specs = cfg.model.representations
        self.passes = [list(s.observation_passes) for s in specs]
        self.sizes = [s.render_size for s in specs]
        self.detach = [s.detach for s in specs]
        self.representations = nn.ModuleList()
        for s in specs:
            sharp = dict(start=s.start_sigmoid, end=s.end_sigmoid, sharpen=s.sharpen_sigmoid,
                         sharpening=s.sharpening, final_sharpening=s.final_sharpening)
            io = EncoderIO(x_dim=total_channels(s.observation_passes), r_dim=s.representation_dim,
                           v_dim=cfg.model.pose_dim, render_size=s.render_size)
            self.representations.append(ENCODERS[s.type].build(
                s.settings, io, aggregation=s.aggregation_func,
                latent_separation=cfg.latent_separation, adaptive_separation=cfg.adaptive_separation,
                empty_partition=cfg.empty_partition, partition_loss=cfg.partition_loss,
                sharpness=sharp, gradient_reg=s.gradient_reg,
                invariance_reg=s.invariance_reg, composite_training=s.composite_training))

    def forward(self, observation_images: Dict[str, torch.Tensor], observation_poses: torch.Tensor,
                factor: int = -1, iteration: int = 0):
        """Returns (list of r [B, r_i, h, w], logs name -> tensor, null-partition loss)."""
        reps, logs, loss = [], {}, observation_poses.new_zeros(())
        many = len(self.representations) > 1
        for i, enc in enumerate(self.representations):
            x = observation_tensor(observation_images, self.passes[i], self.sizes[i])
            rk = enc(x, observation_poses)
            r, enc_logs, enc_loss = enc.aggregate(rk, factor, iteration)
            if self.detach[i]:
                r = r.detach()
            else:
                loss = loss + enc_loss
            reps.append(r)
            for k, val in enc_logs.items():
                logs[f"representation{i}_{k}" if many else k] = val
        return reps, logs, loss


class GeneratorChain(nn.Module):
    """The generators of a config (``model.generators``), as ``.generators[j]``, run in order.

    Generator j reads its ``query_passes`` from the query buffers, where earlier generators
    with ``override_train`` (training) / ``override_sample`` (test) have replaced the buffers
    they predict; ``detach`` stops gradients through such replaced buffers; ``discard_loss``
    drops the generator's losses from the total (they are still logged).
    """

    def __init__(self, cfg: Config):
        super().__init__()
        reps = cfg.model.representations
        self.specs = cfg.model.generators
        self.generators = nn.ModuleList()
        v_dim = cfg.model.pose_dim
        for g in self.specs:
            io = GeneratorIO(x_dim=total_channels(g.query_passes), out_dim=total_channels(g.output_passes),
                             r_dim=sum(reps[i].representation_dim for i in g.representations), v_dim=v_dim,
                             render_size=g.render_size, query_channels=tuple(channels(p) for p in g.query_passes))
            self.generators.append(GENERATORS[g.type].build(g.settings, io, list(self.generators)))

    def per_pixel(self, reps: List[torch.Tensor]) -> bool:
        """Whether every output pixel depends only on the query buffers at that pixel, so that the
        chain can run on any crop of the query: every generator is per pixel (its registry
        entry says so; a Copy is what it copies) and the representations it reads are pooled
        (1 x 1). ``reps``: the encoders' representations, as :meth:`SceneRepresentationModel.encode`
        gives them."""
        return all(generator_entry(self.specs, j).per_pixel and
                   all(reps[i].shape[-2:] == (1, 1) for i in spec.representations)
                   for j, spec in enumerate(self.specs))

    @staticmethod
    def _representation(reps: List[torch.Tensor], indices: List[int], like: torch.Tensor) -> torch.Tensor:
        """Concatenate the representations a generator reads; spatial ones resized to the largest."""
        if not indices:
            return like.new_zeros(like.shape[0], 0, 1, 1)
        rs = [reps[i] for i in indices]
        if len(rs) == 1:
            return rs[0]
        h = max(r.shape[-1] for r in rs)
        rs = [r if r.shape[-1] == h else F.interpolate(r, size=(h, h), mode="nearest") for r in rs]
        return torch.cat(rs, dim=1)

    def forward(self, batch: Batch, reps: List[torch.Tensor], iteration: int):
        """Training pass. Returns (outputs: list of dict pass -> linear [B, C, H, W],
        losses: name -> scalar (all generators), total: sum of the kept losses)."""
        query = batch["query_images"]
        poses = batch["query_poses"]
        state = dict(query)
        outputs, losses, total = [], {}, poses.new_zeros(())
        for j, (spec, net) in enumerate(zip(self.specs, self.generators)):
            x = query_tensor(state, spec.query_passes, spec.render_size, like=poses)
            y = query_tensor(query, spec.output_passes, spec.render_size)
            r = self._representation(reps, spec.representations, poses)
            Y, gen_losses = net.train_forward(x, y, poses, r, iteration)
            for name, value in gen_losses.items():
                losses[f"generator{j}_{name}"] = value
                if not spec.discard_loss:
                    total = total + value
            buffers = split_passes(Y, spec.output_passes)
            outputs.append(buffers)
            if spec.override_train:
                for k, t in buffers.items():
                    state[k] = t.detach() if spec.detach else t
        return outputs, losses, total

    def sample(self, batch: Batch, reps: List[torch.Tensor], size: Optional[int] = None):
        """Test pass: list (one per generator) of dict pass -> linear [B, C, size, size].

        ``size`` defaults to the resolution of the last generator's first query pass in the
        batch (so a pixel generator can run at any resolution), else the first render_size.
        """
        query = batch["query_images"]
        poses = batch["query_poses"]
        if size is None:
            size = self.specs[0].render_size
            last = self.specs[-1].query_passes
            if last and last[0] in query:
                size = query[last[0]].shape[-1]
        state = dict(query)
        outputs = []
        for spec, net in zip(self.specs, self.generators):
            x = query_tensor(state, spec.query_passes, size, like=poses)
            r = self._representation(reps, spec.representations, poses)
            buffers = split_passes(net.sample(x, poses, r), spec.output_passes)
            outputs.append(buffers)
            if spec.override_sample:
                state.update(buffers)
        return outputs


class SceneRepresentationModel(nn.Module):
    """Encoders + generators. ``compute_loss`` for training, ``sample`` for inference.

    ``iteration`` (set by ``compute_loss`` or ``set_iteration``) drives the sharpness of the
    partition masks at test time; set it from a checkpoint's iteration after loading.
    """

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        # Generators first, as in the reference model: parameters() then has the reference's
        # order, which its checkpoints' optimizer states index by position.
        self.generator = GeneratorChain(cfg)
        self.representation = RepresentationNetworks(cfg)
        self.iteration = 0

    def set_iteration(self, iteration: int) -> None:
        self.iteration = int(iteration)

    def encode(self, batch: Batch, factor: int = -1, iteration: Optional[int] = None):
        """Scene representations: (list of [B, r_i, h, w], logs, null-partition loss)."""
        it = self.iteration if iteration is None else iteration
        return self.representation(batch["observation_images"], batch["observation_poses"], factor, it)

    def compute_loss(self, batch: Batch, iteration: int, return_outputs: bool = False):
        """One training forward pass on ``batch`` whose ``factor`` says which factor varies.

        Returns ``(loss, logs)`` (``logs``: name -> float: every loss (``partition_loss``: the
        encoders' whole loss, the null-partition term plus any weighted invariance penalty), ``total_loss``,
        partition fractions ``*_percentage`` and ``active_size``), or ``(loss, logs, outputs)``
        with ``outputs`` the generators' linear predictions (list of dict pass -> tensor).
        Gradient regularization, if configured, acts during ``loss.backward()``.
        """
        self.iteration = int(iteration)
        factor = _factor(batch)
        reps, rep_logs, partition_loss = self.encode(batch, factor, iteration)
        outputs, losses, loss = self.generator(batch, reps, iteration)
        if self.cfg.latent_separation and self.cfg.adaptive_separation and self.cfg.empty_partition:
            losses["partition_loss"] = partition_loss
        loss = loss + partition_loss
        losses["total_loss"] = loss
        names = list(losses) + list(rep_logs)
        values = torch.stack([v.detach().float().reshape(()).to(loss.device)
                              for v in list(losses.values()) + list(rep_logs.values())])
        logs = dict(zip(names, values.tolist()))   # one device sync for all logged values
        return (loss, logs, outputs) if return_outputs else (loss, logs)

    def sample(self, batch: Batch, size: Optional[int] = None) -> List[Dict[str, torch.Tensor]]:
        """Predictions for the query views: list (one per generator) of dict pass -> [B, C, H, W]
        (linear values). Runs with autograd as the caller set it: wrap in ``torch.no_grad()``
        for inference."""
        reps, _, _ = self.encode(batch, -1)
        return self.generator.sample(batch, reps, size)

    def partition_stats(self) -> Dict[str, float]:
        """Partition fractions (lighting/geometry/material[/null]_percentage) and active size,
        per encoder (keys prefixed ``representation{i}_`` when there are several)."""
        out = {}
        encs = self.representation.representations
        for i, enc in enumerate(encs):
            for k, v in enc.stats().items():
                out[f"representation{i}_{k}" if len(encs) > 1 else k] = v
        return out

    def parameter_counts(self) -> Dict[str, int]:
        """Trainable parameters per encoder and generator (a generator shared by a Copy counts once)."""
        counts = {}
        for i, enc in enumerate(self.representation.representations):
            counts[f"representation{i} ({type(enc).__name__})"] = _count(enc)
        nets = list(self.generator.generators)
        for j, (spec, net) in enumerate(zip(self.generator.specs, nets)):
            shared = any(net is earlier for earlier in nets[:j])
            counts[f"generator{j} ({spec.type})"] = 0 if shared else _count(net)
        return counts


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_model(cfg: Union[Config, str, Dict[str, Any]]) -> SceneRepresentationModel:
    """Build the model described by a config (a :class:`Config`, a path or a dict)."""
    return SceneRepresentationModel(load_config(cfg))


def load_reference_state_dict(model: SceneRepresentationModel, state_dict: Mapping[str, Any],
                              strict: bool = True):
    """Load a state dict (or a whole checkpoint) laid out like ours or the reference's into ``model``.

    Accepts ``model_state`` dicts with or without ``module.`` segments (DataParallel puts one
    after every ``representations.i`` / ``generators.j``; DistributedDataParallel one in front),
    and the older split layout ``{'representation_state', 'generator_state'}``. Raises
    :class:`~cnsr.models.state_dicts.CheckpointError` (a ``ValueError``) naming missing,
    unexpected and mis-shaped parameters; ``strict=False`` allows missing and unexpected ones.
    The same path as every checkpoint load (:mod:`cnsr.models.state_dicts`).
    """
    return state_dicts.load_state(model, state_dict, "state dict", strict=strict)

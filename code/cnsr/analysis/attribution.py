"""Gradient x input attributions of a scene representation model (GL-free).

What the paper's attribution viewer shows, as plain functions on a model and a batch (the
batch layout of :mod:`cnsr.data`, typically one scene with three observations):

* :func:`patch_attribution` — the sum of the generated image over a patch (top-left pixel
  ``x``, ``y``, ``size`` x ``size`` pixels, the chosen channels), or with ``mean=True`` the mean
  over the whole image ("Activate Mean"), differentiated w.r.t. every query buffer and every
  observation buffer, times the input. One backward pass of the summed patch: by linearity
  its gradient equals the sum of the gradients of every pixel and channel of the patch, which
  the reference computed with one backward pass each (:func:`patch_attribution_loop` keeps
  that algorithm as a reference);
* :func:`representation_attribution` — gradient x input of one latent dimension of the scene
  representation (summed over its spatial positions), or of the mean of a partition's
  dimensions ("Partition Mean"), or of the whole representation's mean, w.r.t. the
  observation buffers;
* :func:`replace_partition` — the prediction with one partition of the representation (or
  all of it) set to zero ("Replace Light / Geo / Mat / All");
* :class:`AttributionSession` — the same attributions for many targets of one scene (the
  interactive viewer): the encoder's forward graph is kept, a pixel-wise generator chain runs
  on the patch's pixels only, and the observations' share (a backward pass through the
  encoder) can be asked for separately.

Results are dicts pass -> tensor: query attributions ``[B, C, H, W]``, observation
attributions ``[B, N, C, H, W]`` at the batch's resolution (the networks resize inside).
:func:`heatmap` reduces one to a 2-D map per image (sum over channels).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from ..config import output_pass as config_output_pass
from ..models.partition import FACTOR_PARTITIONS as PARTITIONS, dimension_positions, partition_boundaries
from .compositing import partition_assignment

_PARTITION_INDEX = {"lighting": 0, "light": 0, "geometry": 1, "geo": 1, "material": 2, "mat": 2}


@dataclass
class Attribution:
    """Gradient x input per buffer, the prediction the gradient was taken of, and the target."""
    query: Dict[str, torch.Tensor] = field(default_factory=dict)         # pass -> [B, C, H, W]
    observations: Dict[str, torch.Tensor] = field(default_factory=dict)  # pass -> [B, N, C, H, W]
    prediction: Optional[torch.Tensor] = None                            # [B, C, H, W] (detached)
    target: float = 0.0                                                   # value differentiated
    #: per encoder: the representation [B, r, h, w] and the target's gradient w.r.t. it
    #: (filled by :class:`AttributionSession`)
    representation: List[torch.Tensor] = field(default_factory=list)
    representation_grad: List[torch.Tensor] = field(default_factory=list)


def _passes(model) -> Tuple[List[str], List[str]]:
    """(query passes read by any generator, observation passes read by any encoder), in order."""
    q: List[str] = []
    for spec in model.generator.specs:
        q += [p for p in spec.query_passes if p not in q]
    o: List[str] = []
    for enc in model.cfg.model.representations:
        o += [p for p in enc.observation_passes if p not in o]
    return q, o


def query_passes(model) -> List[str]:
    return _passes(model)[0]


def observation_passes(model) -> List[str]:
    return _passes(model)[1]


def _leaf_batch(batch: dict, model) -> Tuple[dict, Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
    """A shallow copy of ``batch`` whose network inputs are fresh leaves requiring grad."""
    qp, op = _passes(model)
    out = dict(batch)
    q = {k: v.detach().clone().requires_grad_(k in qp) for k, v in batch["query_images"].items()}
    o = {k: v.detach().clone().requires_grad_(k in op) for k, v in batch["observation_images"].items()}
    out["query_images"], out["observation_images"] = q, o
    return out, {k: q[k] for k in qp if k in q}, {k: o[k] for k in op if k in o}


def _grad_x_input(target: torch.Tensor, leaves: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    names = list(leaves)
    grads = torch.autograd.grad(target, [leaves[k] for k in names], allow_unused=True)
    return {k: (torch.zeros_like(leaves[k]) if g is None else g * leaves[k]).detach()
            for k, g in zip(names, grads)}


def output_image(outputs: List[Dict[str, torch.Tensor]], output_pass: str) -> torch.Tensor:
    """The generated image: pass ``output_pass`` of the last generator."""
    return outputs[-1][output_pass]


def chosen_pass(model, output_pass: Optional[str] = None) -> str:
    """``output_pass``, or by default the model's (:func:`cnsr.config.output_pass`)."""
    return output_pass or config_output_pass(model.cfg)


def patch_bounds(width: int, height: int, x: int, y: int, size: int) -> Tuple[int, int, int, int]:
    """(x0, x1, y0, y1) of the patch with top-left pixel (x, y), clipped to the image."""
    x0, y0 = min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)
    s = max(int(size), 1)
    return x0, min(x0 + s, width), y0, min(y0 + s, height)


def _channels(channels: Optional[Sequence[int]], c: int) -> List[int]:
    return list(range(c)) if channels is None else [int(i) for i in channels]


def patch_attribution(model, batch: dict, x: int = 0, y: int = 0, size: int = 1,
                      channels: Optional[Sequence[int]] = None, mean: bool = False,
                      output_pass: Optional[str] = None) -> Attribution:
    """Gradient x input of the patch sum (or, ``mean=True``, of the image mean) of the generated
    image, w.r.t. every query and observation buffer. One forward and one backward pass."""
    b, q, o = _leaf_batch(batch, model)
    with torch.enable_grad():
        img = output_image(model.sample(b), chosen_pass(model, output_pass))
        if mean:
            target = img.mean()
        else:
            x0, x1, y0, y1 = patch_bounds(img.shape[-1], img.shape[-2], x, y, size)
            target = img[:, _channels(channels, img.shape[1]), y0:y1, x0:x1].sum()
        grads = _grad_x_input(target, {**{("q", k): v for k, v in q.items()},
                                       **{("o", k): v for k, v in o.items()}})
    return Attribution(query={k: grads[("q", k)] for k in q}, observations={k: grads[("o", k)] for k in o},
                       prediction=img.detach(), target=float(target.detach()))


def patch_attribution_loop(model, batch: dict, x: int = 0, y: int = 0, size: int = 1,
                           channels: Optional[Sequence[int]] = None,
                           output_pass: Optional[str] = None) -> Attribution:
    """The reference's algorithm: one backward pass per pixel and channel of the patch, the
    gradients accumulated. Same result as :func:`patch_attribution`; kept as a reference."""
    b, q, o = _leaf_batch(batch, model)
    leaves = {**{("q", k): v for k, v in q.items()}, **{("o", k): v for k, v in o.items()}}
    with torch.enable_grad():
        img = output_image(model.sample(b), chosen_pass(model, output_pass))
        x0, x1, y0, y1 = patch_bounds(img.shape[-1], img.shape[-2], x, y, size)
        acc = {k: torch.zeros_like(v) for k, v in leaves.items()}
        names = list(leaves)
        for c in _channels(channels, img.shape[1]):
            for yy in range(y0, y1):
                for xx in range(x0, x1):
                    gs = torch.autograd.grad(img[:, c, yy, xx].sum(), [leaves[k] for k in names],
                                             retain_graph=True, allow_unused=True)
                    for k, g in zip(names, gs):
                        if g is not None:
                            acc[k] += g
    grads = {k: (acc[k] * leaves[k]).detach() for k in names}
    return Attribution(query={k: grads[("q", k)] for k in q}, observations={k: grads[("o", k)] for k in o},
                       prediction=img.detach())


# ------------------------------------------------------------------------------ partitions
def partition_index(partition: Union[int, str]) -> int:
    if isinstance(partition, str):
        try:
            return _PARTITION_INDEX[partition.lower()]
        except KeyError:
            raise ValueError(f"unknown partition {partition!r}: expected one of {PARTITIONS}") from None
    if int(partition) not in (0, 1, 2):
        raise ValueError(f"partition must be 0, 1 or 2, got {partition}")
    return int(partition)


def partition_owner(model, encoder: int = 0) -> torch.Tensor:
    """Long tensor [r]: the partition (0 lighting, 1 geometry, 2 material, 3 null) of each
    representation dimension. With ``latent_separation``: the hard assignment of the model's
    learned boundaries (:func:`cnsr.analysis.compositing.partition_assignment`, null dimensions marked 3);
    without it: thirds, split at ``r//3`` and ``2r//3``."""
    enc = model.representation.representations[encoder]
    r = enc.r_dim
    if getattr(model.cfg, "latent_separation", False):
        owner = partition_assignment(model, encoder).clone()
        if enc.adaptive and enc.empty_partition:
            with torch.no_grad():
                s = partition_boundaries(enc.fractions())
                t = dimension_positions(r, s.dtype, s.device)
            owner[t > s[2]] = 3
        return owner.cpu()
    idx = torch.arange(r)
    return (idx >= r // 3).long() + (idx >= 2 * r // 3).long()


def partition_dims(model, partition: Union[int, str], encoder: int = 0) -> torch.Tensor:
    """Indices of the representation dimensions in ``partition``."""
    return torch.nonzero(partition_owner(model, encoder) == partition_index(partition)).flatten()


def representation_target(model, r: torch.Tensor, dim: int = 0, partition_mean: bool = False,
                          mean: bool = False, encoder: int = 0) -> torch.Tensor:
    """The scalar whose gradient a representation attribution takes, from the representation
    ``r`` [B, r, h, w] of encoder ``encoder``: the whole mean (``mean``), the mean of partition
    ``dim`` (``partition_mean``), or latent dimension ``dim`` summed over its positions."""
    if mean:
        return r.mean()
    if partition_mean:
        dims = partition_dims(model, int(dim), encoder).to(r.device)
        if dims.numel() == 0:
            raise ValueError(f"partition {PARTITIONS[int(dim)]} has no dimensions")
        return r[:, dims].mean()
    if not 0 <= int(dim) < r.shape[1]:
        raise ValueError(f"latent dimension {dim} outside [0, {r.shape[1]})")
    return r[:, int(dim)].sum()


def representation_attribution(model, batch: dict, dim: int = 0, partition_mean: bool = False,
                               mean: bool = False, encoder: int = 0) -> Attribution:
    """Gradient x input w.r.t. the observation buffers of: latent dimension ``dim`` (summed over
    the representation's spatial positions and the batch), or with ``partition_mean`` the mean
    of partition ``dim``'s dimensions (0 lighting, 1 geometry, 2 material), or with ``mean`` the
    mean of the whole representation."""
    b, _, o = _leaf_batch(batch, model)
    with torch.enable_grad():
        reps, _, _ = model.encode(b, -1)
        r = reps[encoder]
        target = representation_target(model, r, dim, partition_mean, mean, encoder)
        grads = _grad_x_input(target, o)
    return Attribution(observations=grads, target=float(target.detach()))


def replace_partition(model, batch: dict, partition: Union[int, str, None]) -> List[Dict[str, torch.Tensor]]:
    """The generators' outputs with ``partition`` (0/1/2 or a name; ``None`` or ``'all'``: every
    dimension) of every encoder's representation set to zero."""
    with torch.no_grad():
        reps, _, _ = model.encode(batch, -1)
        out = []
        for i, r in enumerate(reps):
            if partition is None or (isinstance(partition, str) and partition.lower() == "all"):
                out.append(torch.zeros_like(r))
                continue
            keep = (partition_owner(model, i) != partition_index(partition)).to(r.device, r.dtype)
            out.append(r * keep.view(1, -1, 1, 1))
        return model.generator.sample(batch, out)


def heatmap(attribution: torch.Tensor) -> torch.Tensor:
    """Sum over the channel axis (-3): ``[..., C, H, W]`` -> ``[..., H, W]``."""
    return attribution.sum(dim=-3)


# ------------------------------------------------------------------------------ sessions
def _pixelwise(model, batch: dict, reps: List[torch.Tensor]) -> bool:
    """True when every output pixel depends only on the query buffers at that pixel: a per-pixel
    generator chain (:meth:`cnsr.models.model.GeneratorChain.per_pixel`) run at the resolution
    of the query buffers."""
    if not model.generator.per_pixel(reps):
        return False
    last = model.generator.specs[-1].query_passes
    query = batch["query_images"]
    if not last or last[0] not in query:
        return False
    size = query[last[0]].shape[-2:]
    return all(v.shape[-2:] == size for v in query.values())


class AttributionSession:
    """Attributions of many targets for one scene (one batch), as an interactive viewer asks them.

    The batch's network inputs become leaves once; the encoders run once and their graph is
    kept, so a target costs the generators' forward and backward pass plus one backward pass
    through the encoders. When every output pixel depends only on the query buffers at that
    pixel (:func:`_pixelwise`: per-pixel generators on pooled representations), a patch target runs
    the generators on the smallest square of pixels holding the patch; the result equals
    :func:`patch_attribution` (zero query attribution outside the patch). With
    ``observations=False`` the encoder backward pass is skipped and
    :meth:`observation_attribution` gives that share later from ``representation_grad``
    (the chain rule, split in two).
    """

    def __init__(self, model, batch: dict, output_pass: Optional[str] = None):
        self.model, self.output_pass = model, chosen_pass(model, output_pass)
        self.batch, self.query_leaves, self.observation_leaves = _leaf_batch(batch, model)
        with torch.enable_grad():
            self.reps = list(model.encode(self.batch, -1)[0])
        with torch.no_grad():
            outputs = model.generator.sample(self.batch, [r.detach() for r in self.reps])
        self.prediction = output_image(outputs, self.output_pass).detach()
        self.local = _pixelwise(model, self.batch, self.reps)

    def _finish(self, target: torch.Tensor, grads, observations: bool) -> Attribution:
        nq = len(self.query_leaves)
        qg, rg = grads[:nq], grads[nq:]
        query = {k: (torch.zeros_like(v) if g is None else g * v).detach()
                 for (k, v), g in zip(self.query_leaves.items(), qg)}
        rgrad = [torch.zeros_like(r) if g is None else g.detach() for r, g in zip(self.reps, rg)]
        att = Attribution(query=query, prediction=self.prediction, target=float(target.detach()),
                          representation=[r.detach() for r in self.reps], representation_grad=rgrad)
        if observations:
            att.observations = self.observation_attribution(rgrad)
        return att

    def patch(self, x: int = 0, y: int = 0, size: int = 1, channels: Optional[Sequence[int]] = None,
              mean: bool = False, observations: bool = True) -> Attribution:
        """:func:`patch_attribution` of this scene, plus the representation's gradient."""
        h, w = self.prediction.shape[-2:]
        x0, x1, y0, y1 = 0, w, 0, h
        if not mean:
            x0, x1, y0, y1 = patch_bounds(w, h, x, y, size)
        with torch.enable_grad():
            if self.local and not mean:
                s = max(x1 - x0, y1 - y0)
                cx, cy = max(0, min(x0, w - s)), max(0, min(y0, h - s))
                crop = dict(self.batch)
                crop["query_images"] = {k: v[..., cy:cy + s, cx:cx + s]
                                        for k, v in self.batch["query_images"].items()}
                img = output_image(self.model.generator.sample(crop, self.reps), self.output_pass)
                x0, x1, y0, y1 = x0 - cx, x1 - cx, y0 - cy, y1 - cy
            else:
                img = output_image(self.model.generator.sample(self.batch, self.reps), self.output_pass)
            if mean:
                target = img.mean()
            else:
                target = img[:, _channels(channels, img.shape[1]), y0:y1, x0:x1].sum()
            grads = torch.autograd.grad(target, list(self.query_leaves.values()) + self.reps,
                                        retain_graph=True, allow_unused=True)
        return self._finish(target, grads, observations)

    def representation(self, dim: int = 0, partition_mean: bool = False, mean: bool = False,
                       encoder: int = 0, observations: bool = True) -> Attribution:
        """:func:`representation_attribution` of this scene, plus the representation's gradient."""
        r = self.reps[encoder]
        with torch.enable_grad():
            target = representation_target(self.model, r, dim, partition_mean, mean, encoder)
            (g,) = torch.autograd.grad(target, [r], retain_graph=True)
        grads = [None] * len(self.query_leaves) + [g if i == encoder else None for i in range(len(self.reps))]
        att = self._finish(target, grads, observations)
        att.query = {}
        return att

    def observation_attribution(self, representation_grad: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Gradient x input of the observation buffers for a target whose gradient w.r.t. the
        representations is ``representation_grad`` (one backward pass through the encoders)."""
        leaves = self.observation_leaves
        pairs = [(r, g) for r, g in zip(self.reps, representation_grad) if r.requires_grad]
        if not pairs or not leaves:
            return {k: torch.zeros_like(v).detach() for k, v in leaves.items()}
        with torch.enable_grad():
            grads = torch.autograd.grad([r for r, _ in pairs], list(leaves.values()),
                                        grad_outputs=[g for _, g in pairs], retain_graph=True, allow_unused=True)
        return {k: (torch.zeros_like(v) if g is None else g * v).detach()
                for (k, v), g in zip(leaves.items(), grads)}

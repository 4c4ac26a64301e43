"""Distributed data-parallel training through ``torchrun``.

``torchrun --nproc_per_node=N code/train-gqn.py --config C`` starts N processes with
``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` set; each builds the model, wraps it in
``DistributedDataParallel`` (``nccl`` on GPUs, ``gloo`` on CPUs) and trains on its own share of
the data with ``batch_size`` scenes per process. Rank 0 alone writes TensorBoard logs and
checkpoints. A config's ``multi_gpu`` only reminds a single-process run to use ``torchrun``:
the process count decides.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.distributed as dist

from .devices import check_device


@dataclass
class DistributedContext:
    """Where this process sits in the job."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _scalar(self, value, dtype) -> torch.Tensor:
        # nccl communicates GPU tensors only, gloo CPU tensors
        return torch.tensor([value], dtype=dtype, device=self.device if self.backend == "nccl" else "cpu")

    def any_true(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (e.g. a stop request)."""
        if not self.enabled:
            return bool(flag)
        t = self._scalar(1.0 if flag else 0.0, torch.float32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def broadcast_int(self, value: int) -> int:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return int(value)
        t = self._scalar(int(value), torch.int64)
        dist.broadcast(t, src=0)
        return int(t.item())

    def shutdown(self, orderly: bool = True) -> None:
        """Leave the process group; ``orderly``: together (a rank that tears its connections
        down while another still writes its checkpoint can make the other's communication
        thread abort). After an error, not: the other ranks may be inside a collective, and
        this process had better exit so that ``torchrun`` stops the job."""
        if self.enabled and dist.is_initialized():
            try:
                if orderly:
                    dist.barrier()
            finally:
                dist.destroy_process_group()


def init_distributed(device: Union[None, str, torch.device] = None,
                     timeout_s: float = 1800.0) -> DistributedContext:
    """Join the process group when launched by ``torchrun`` with ``WORLD_SIZE > 1``.

    On GPUs each process takes ``cuda:LOCAL_RANK`` and ``nccl``; on CPUs (or with
    ``device='cpu'``) ``gloo``. Without ``WORLD_SIZE > 1`` this is a single-process context.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext(device=check_device(device))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    wanted = torch.device(device) if device else None
    use_cuda = torch.cuda.is_available() and (wanted is None or wanted.type == "cuda")
    if use_cuda:
        dev = torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=timeout_s))
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev, backend=backend)

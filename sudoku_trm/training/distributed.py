"""Multi-process data parallelism through `torchrun`; a plain `python` run is world size 1.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK. NCCL joins CUDA processes, gloo CPU ones
(the tests run two CPU processes with gloo).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

from sudoku_trm.model.devices import local_rank


def setup() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def to_cpu(obj: Any) -> Any:
    """`obj` with every tensor in it (in dicts, lists and tuples, at any depth) moved to the CPU;
    everything else as it is. A CPU tensor is returned as it is (no copy); dicts come back as plain
    dicts, lists and tuples (named ones too) as their own type."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {key: to_cpu(value) for key, value in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_cpu(value) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(value) for value in obj)
    return obj


def gather_to_rank0(obj, rank: int, world: int) -> list | None:
    """Every rank's `obj`, as a list on rank 0 (None elsewhere); a list of one without torchrun. Tensors
    travel on the CPU: `gather_object` pickles, and a pickled CUDA tensor would unpickle onto rank 0's
    view of the sender's GPU (or fail), never where a checkpoint can be written from."""
    obj = to_cpu(obj)
    if world == 1:
        return [obj]
    gathered = [None] * world if rank == 0 else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def broadcast_float(value: float, rank: int, world: int, device: torch.device) -> float:
    """Rank 0's `value` on every rank (a decision all ranks must share, such as a time budget's progress)."""
    if world == 1:
        return value
    tensor = torch.tensor([value if rank == 0 else 0.0], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()

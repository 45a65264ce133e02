"""Which torch device a command runs on (`--device auto|cpu|cuda|mps`), and its autocast."""

from __future__ import annotations

import contextlib
import os

import torch

from sudoku_trm.errors import UserError


def local_rank() -> int:
    """This process's GPU index under torchrun (which sets LOCAL_RANK); 0 otherwise."""
    return int(os.environ.get("LOCAL_RANK", 0))


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; an explicit device that is not there is a UserError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device cuda: no CUDA device is available (torch sees none)")
        return torch.device("cuda", local_rank())
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise UserError("device mps: no Apple GPU is available")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"device must be auto, cpu, cuda or mps, not {name!r}")


def autocast_for(device: torch.device, bf16: bool = True, cpu: bool = False):
    """bf16 autocast on CUDA (TRM trains and evaluates in bf16) unless `bf16` is off; full precision
    elsewhere. `cpu` opts the CPU in too (torch's CPU autocast runs bf16): off by default, since it is
    slower than fp32 on most CPUs; benchmarks use it to exercise the bf16 path without a GPU."""
    if bf16 and (device.type == "cuda" or (cpu and device.type == "cpu")):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()

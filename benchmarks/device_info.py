"""What the benchmark scripts share: naming the device a figure was measured on, and waiting for it."""

from __future__ import annotations

import os
import platform

import torch


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda:{device.index or 0} {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    cpu = platform.processor() or platform.machine()
    return f"cpu {cpu}, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores"


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer reads the work itself (a no-op elsewhere)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)

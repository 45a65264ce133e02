"""Random generator states in checkpoints, restored on whatever device the resumed run has.

A CUDA generator's state (seed and offset, 16 bytes) cannot be loaded into a CPU generator (5056 bytes)
nor the reverse, so a checkpoint written on a GPU would not resume on a CPU. Each state is saved with
the device type it came from; where the resumed run's generator is of another type, or the state does
not fit it, the generator is reseeded from a hash of the saved state instead: deterministic (the same
checkpoint always continues with the same draws), but not the draws the original device would have made.
"""

from __future__ import annotations

import hashlib

import torch


def seed_from(state: torch.Tensor) -> int:
    """A 63-bit seed that depends on every byte of `state`."""
    digest = hashlib.sha256(state.detach().cpu().contiguous().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def restore_generator(generator: torch.Generator, state: torch.Tensor, saved_device: str | None) -> bool:
    """Load `state` into `generator` when it was saved from a generator of the same device type (or the
    type is unknown, as in checkpoints from before types were saved) and fits; else reseed it from
    `state`. True when restored exactly, False when reseeded."""
    if saved_device is None or saved_device == generator.device.type:
        try:
            generator.set_state(state)
            return True
        except RuntimeError:  # the wrong size: another device's state
            pass
    generator.manual_seed(seed_from(state))
    return False


def cuda_generator(device: torch.device) -> torch.Generator:
    """The default CUDA generator of `device` (what torch.rand(..., device=device) draws from)."""
    torch.cuda.init()
    return torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]


def reseeded_line(names: list[str], saved_device: str, device: torch.device) -> str:
    """The one log line a resume writes when some generators could not be restored exactly."""
    return (
        f"resume: random states saved on {saved_device}, this run is on {device.type}: "
        f"{', '.join(names)} reseeded deterministically from them (the run continues, not bit-for-bit)"
    )

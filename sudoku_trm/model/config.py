"""The model's typed hyperparameters, saved with every checkpoint and export as `config.json`.

Each config is a frozen dataclass with `to_dict()` / `from_dict()`; `from_dict` refuses keys it does
not know, so a typo or a config from another version fails loudly instead of being silently dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Mapping, TypeVar

from sudoku_trm.model.tokens import VOCAB_SIZE
from sudoku_trm.sudoku.grid import CELLS

Mixer = Literal["mlp", "attention", "units"]
MIXERS: tuple[str, ...] = ("mlp", "attention", "units")
Mlp = Literal["swiglu", "gated_rms"]
MLPS: tuple[str, ...] = ("swiglu", "gated_rms")
Readout = Literal["stablemax", "softmax"]
READOUTS: tuple[str, ...] = ("stablemax", "softmax")

_C = TypeVar("_C")


def swiglu_inner(width: int, expansion: float) -> int:
    """Inner width of a SwiGLU over `width` features, as TRM sizes it.

    The 2/3 keeps a gated MLP's parameter count close to a plain MLP with the same expansion;
    rounding up to a multiple of 256 keeps matmuls aligned. 512 -> 1536; 97 (token mixer) -> 512.
    """
    target = round(expansion * width * 2 / 3)
    return -(-target // 256) * 256


class DictConfig:
    """`to_dict()` / `from_dict()` for a config dataclass; `from_dict` refuses keys it does not know."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[_C], values: Mapping[str, Any]) -> _C:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        # JSON has no tuples; lists come back where a tuple was saved.
        return cls(**{k: _tuples(v) for k, v in values.items()})


def _tuples(value: Any) -> Any:
    """Nested lists back to nested tuples (JSON and checkpoints store tuples as lists)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class ModelConfig(DictConfig):
    """The TRM network. Defaults: the published TRM-MLP Sudoku model (~5.03M parameters)."""

    hidden_size: int = 512
    num_layers: int = 2  # blocks in the one shared network (TRM's L_layers)
    # "mlp": SwiGLU across the sequence axis; "attention": RoPE self-attention; "units": each cell hears its
    # row, column and box only (Sudoku's structure built in, model/trm.py `UnitMixer`)
    mixer: Mixer = "mlp"
    # units mixer only: > 0 adds pairwise messages of this width, each depending on sender and receiver
    # (as Recurrent Relational Networks' do); 0 keeps the mean of messages that depend on the sender alone
    pair_width: int = 0
    num_heads: int = 8  # attention mixer only
    rope_theta: float = 10000.0  # attention mixer only
    expansion: float = 4.0  # SwiGLU expansion before the 2/3 rule, see swiglu_inner
    # "swiglu": silu(gate) * value (TRM). "gated_rms": sigmoid(gate) * rms_norm(gate * value), the
    # Muon-friendly form of "Speed is Confidence" (model/trm.py). Same parameters, so either loads
    # the other's tensors; the default keeps reference checkpoints importing as they were trained.
    mlp: Mlp = "swiglu"
    seq_len: int = CELLS  # cells per puzzle
    vocab_size: int = VOCAB_SIZE
    puzzle_emb_len: int = 16  # prefix tokens before the cells
    # Width of the learned per-puzzle-id vector; None = hidden_size (the reference's Sudoku setting).
    # It fills the prefix from the start, the rest of the prefix is zeros (so for Sudoku: token 0).
    puzzle_emb_ndim: int | None = None
    num_puzzle_ids: int = 1  # Sudoku uses a single id
    rms_norm_eps: float = 1e-5
    H_cycles: int = 3  # full (evaluation) depth: passes per supervision step
    L_cycles: int = 6  # latent updates per pass
    halt_max_steps: int = 16  # supervision steps per puzzle at most
    halt_exploration_prob: float = 0.1  # chance of a random minimum step count while training
    # How logits become probabilities at inference: the function the cells' loss was trained with (the
    # recipe sets it from TrainConfig.loss). The confidence shown, and what commit decoding trusts, follow it.
    readout: Readout = "stablemax"

    def __post_init__(self) -> None:
        if self.mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}, got {self.mixer!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if self.mlp not in MLPS:
            raise ValueError(f"mlp must be one of {MLPS}, got {self.mlp!r}")
        positive = (
            "hidden_size",
            "num_layers",
            "num_heads",
            "seq_len",
            "vocab_size",
            "puzzle_emb_len",
            "num_puzzle_ids",
            "H_cycles",
            "L_cycles",
            "halt_max_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.mixer == "attention" and (self.hidden_size % self.num_heads or self.head_dim % 2):
            raise ValueError("attention needs hidden_size divisible by num_heads and an even head size")
        if self.mixer == "units" and self.seq_len != CELLS:
            raise ValueError(f"the units mixer reads {CELLS} cells as a 9x9 grid, got seq_len {self.seq_len}")
        if self.pair_width < 0 or (self.pair_width and self.mixer != "units"):
            raise ValueError(f"pair_width is the units mixer's and >= 0, got {self.pair_width} with {self.mixer!r}")
        if not 1 <= self.puzzle_emb_dim <= self.puzzle_emb_len * self.hidden_size:
            raise ValueError(
                f"puzzle_emb_ndim {self.puzzle_emb_dim} does not fit "
                f"{self.puzzle_emb_len} prefix tokens of {self.hidden_size}"
            )
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ValueError("halt_exploration_prob must lie in [0, 1]")

    @property
    def puzzle_emb_dim(self) -> int:
        return self.hidden_size if self.puzzle_emb_ndim is None else self.puzzle_emb_ndim

    @property
    def total_len(self) -> int:
        """Sequence the network sees: prefix plus cells (97 by default)."""
        return self.puzzle_emb_len + self.seq_len

    @property
    def mlp_inner(self) -> int:
        return swiglu_inner(self.hidden_size, self.expansion)

    @property
    def token_mlp_inner(self) -> int:
        return swiglu_inner(self.total_len, self.expansion)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

"""The Tiny Recursive Model (TRM) for Sudoku: one small network applied recursively.

Two states are carried between supervision steps: the answer y and the latent z (TRM's code calls them
z_H and z_L). One supervision step runs `h_cycles` passes; a pass updates z `l_cycles` times with
z = net(z + y + x) and then y once with y = net(y + z), x being the embedded puzzle. Only the last
pass keeps gradients, so memory does not grow with depth, and the returned carry is detached:
each supervision step is its own small backpropagation problem (deep supervision).

The network is a stack of post-norm blocks, each mixing positions (a SwiGLU across the sequence
axis, or RoPE self-attention) and then channels (a SwiGLU). No biases, no learned norm scales.
ModelConfig.mlp "gated_rms" swaps both SwiGLUs for the Muon-friendly gated form (see `SwiGLU`).

Parameter names follow TRM's reference code, so a published checkpoint loads once hub/importing.py
has stripped the reference's key prefix. Mapping, reference -> ours:

    _orig_mod.model.inner.H_init                           H_init              buffer [512]
    _orig_mod.model.inner.L_init                           L_init              buffer [512]
    _orig_mod.model.inner.embed_tokens.embedding_weight    same                [11, 512]
    _orig_mod.model.inner.puzzle_emb.weights               same (a Parameter here, a buffer
                                                           trained by sign-SGD there) [1, 512]
    _orig_mod.model.inner.lm_head.weight                   same                [11, 512]
    _orig_mod.model.inner.q_head.weight / .bias            same                [2, 512] / [2]
    _orig_mod.model.inner.L_level.layers.{i}.mlp_t.gate_up_proj.weight   same  [1024, 97]
    _orig_mod.model.inner.L_level.layers.{i}.mlp_t.down_proj.weight      same  [97, 512]
    _orig_mod.model.inner.L_level.layers.{i}.mlp.gate_up_proj.weight     same  [3072, 512]
    _orig_mod.model.inner.L_level.layers.{i}.mlp.down_proj.weight        same  [512, 1536]
    attention variant: ...layers.{i}.self_attn.qkv_proj.weight [1536, 512], .o_proj.weight [512, 512]

Precision: parameters and the carried states are fp32; on CUDA run under bf16 autocast, which puts
the matmuls in bf16 while the residual stream and RMSNorm stay fp32. Logits come out in the autocast
dtype: cast them to fp32 before the loss.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sudoku_trm.model.config import ModelConfig

# Std of a standard normal truncated to [-2, 2]; dividing by it makes the truncated init hit the
# requested std exactly (torch's trunc_normal_ alone comes out ~12% narrow).
_TRUNC = 2.0
_TRUNC_STD = math.sqrt(
    1 - 2 * _TRUNC * math.exp(-(_TRUNC**2) / 2) / math.sqrt(2 * math.pi) / math.erf(_TRUNC / math.sqrt(2))
)


_random_init = [True]  # False inside `weights_to_come`


@contextmanager
def weights_to_come() -> Iterator[None]:
    """Build a model whose every parameter and buffer a checkpoint sets next: `trunc_normal_` leaves tensors as
    they are. The random fill would be thrown away, and a fresh process spends 0.1-0.4 s of a one-puzzle
    start-up on it (its first calls of torch's init kernels)."""
    _random_init[0] = False
    try:
        yield
    finally:
        _random_init[0] = True


def trunc_normal_(tensor: Tensor, std: float) -> Tensor:
    """Fill with a normal truncated at 2 standard deviations whose actual std is `std`."""
    if not _random_init[0]:
        return tensor
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        scale = std / _TRUNC_STD
        return nn.init.trunc_normal_(tensor, 0.0, scale, -_TRUNC * scale, _TRUNC * scale)


def rms_norm(x: Tensor, eps: float) -> Tensor:
    """RMSNorm over the last axis without a learned scale, computed in fp32 whatever the input dtype."""
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.square().mean(-1, keepdim=True) + eps)).to(x.dtype)


def lecun_linear(in_features: int, out_features: int, bias: bool = False) -> nn.Linear:
    """Linear layer with truncated LeCun-normal weights (std 1/sqrt(fan_in)) and a zero bias."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    trunc_normal_(layer.weight, 1.0 / math.sqrt(in_features))
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class SwiGLU(nn.Module):
    """silu(gate) * up, then down; gate and up come from one fused projection.

    With `gated_rms` (ModelConfig.mlp "gated_rms", from "Speed is Confidence"): sigmoid(gate) *
    rms_norm(gate * up) instead. silu(gate) * up is sigmoid(gate) * (gate * up), whose size grows with
    the weights; Muon's orthogonalised updates move every direction of a matrix by the same amount, so
    that size is what lets a high Muon learning rate blow up. Normalising the product keeps only its
    direction, and the sigmoid gate stays bounded. Same parameters as the plain SwiGLU.
    """

    def __init__(self, width: int, inner: int, gated_rms: bool = False, eps: float = 1e-5):
        super().__init__()
        self.gated_rms, self.eps = gated_rms, eps
        self.gate_up_proj = lecun_linear(width, 2 * inner)
        self.down_proj = lecun_linear(inner, width)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        if self.gated_rms:
            return self.down_proj(torch.sigmoid(gate) * rms_norm(gate * up, self.eps))
        return self.down_proj(F.silu(gate) * up)


def rotate_half(x: Tensor) -> Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class Attention(nn.Module):
    """Non-causal multi-head self-attention with RoPE; q, k, v from one fused projection."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.num_heads, self.head_dim = config.num_heads, config.head_dim
        self.qkv_proj = lecun_linear(config.hidden_size, 3 * config.hidden_size)
        self.o_proj = lecun_linear(config.hidden_size, config.hidden_size)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv_proj(x).view(batch, length, 3, self.num_heads, self.head_dim).unbind(2)
        # Rotate in fp32 (cos/sin are fp32), then return to the matmul dtype.
        cos, sin = cos[:, None, :], sin[:, None, :]  # broadcast over heads
        q = (q * cos + rotate_half(q) * sin).to(v.dtype)
        k = (k * cos + rotate_half(k) * sin).to(v.dtype)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, width))


class UnitMixer(nn.Module):
    """Each cell hears its 20 peers, unit by unit: the mean over the others of its row, its column and its
    box of a message every cell sends (a projection and SiLU per unit kind); the prefix tokens hear
    the mean message of all cells. Rows are a reshape of the 81 cells, columns the other axis, boxes a
    reshape to (3, 3, 3, 3): no mask, no attention, 81 x hidden x 6 hidden multiply-adds.

    Message passing of this kind is what Recurrent Relational Networks solve Sudoku with; here it is
    one block of TRM's network, so the y/z recursion runs the hops. The means are unchanged by permuting a
    unit's cells, so the mixer commutes with every geometric symmetry of Sudoku but the transpose (rows and
    columns send different messages): no positions to learn.

    With `pair_width` > 0 each cell also hears, per unit, the mean over its peers of silu(send(peer) +
    receive(cell)) in pair_width features: a message that depends on both ends, as Recurrent Relational
    Networks' do, which a mean of the senders' messages cannot express. Its output projection starts at
    zero, so the mixer starts as the plain one and a plain model's weights grow into it unchanged.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.prefix = config.puzzle_emb_len
        hidden = config.hidden_size
        self.message = lecun_linear(hidden, 3 * hidden)  # row, column, box messages
        self.combine = lecun_linear(3 * hidden, hidden)
        self.pair_width = config.pair_width
        if self.pair_width:
            self.pair_send = lecun_linear(hidden, 3 * self.pair_width)
            self.pair_receive = lecun_linear(hidden, 3 * self.pair_width)
            self.pair_combine = lecun_linear(3 * self.pair_width, hidden)
            with torch.no_grad():
                self.pair_combine.weight.zero_()

    def forward(self, x: Tensor) -> Tensor:
        batch, _, hidden = x.shape
        cells = x[:, self.prefix :]
        messages = F.silu(self.message(cells))  # (B, 81, 3 hidden)
        row, column, box = messages.chunk(3, dim=-1)
        grid = (batch, 9, 9, hidden)
        peers = 8.0  # others in a unit: means, not sums, keep a cell's own state from drowning in 24 peers'
        heard = (
            torch.cat(
                (
                    row.view(grid).sum(2, keepdim=True).expand(grid).reshape(batch, 81, hidden) - row,
                    column.view(grid).sum(1, keepdim=True).expand(grid).reshape(batch, 81, hidden) - column,
                    _box_sums(box.reshape(batch, 3, 3, 3, 3, hidden)).reshape(batch, 81, hidden) - box,
                ),
                dim=-1,
            )
            / peers
        )
        prefix = messages.mean(1, keepdim=True).expand(batch, self.prefix, 3 * hidden)
        out = self.combine(torch.cat((prefix, heard), dim=1))
        if self.pair_width:
            pairs = self.pair_combine(self.pairs_heard(cells))
            out = out + torch.cat((pairs.mean(1, keepdim=True).expand(batch, self.prefix, hidden), pairs), dim=1)
        return out

    def pairs_heard(self, cells: Tensor) -> Tensor:
        """(B, 81, hidden) -> (B, 81, 3 pair_width): per unit kind, the mean over a cell's 8 peers of
        silu(send(peer) + receive(cell))."""
        send = self.pair_send(cells).chunk(3, dim=-1)
        receive = self.pair_receive(cells).chunk(3, dim=-1)
        heard = [
            _by_cell(_pair_means(_by_unit(s, kind), _by_unit(r, kind)), kind)
            for kind, s, r in zip(("row", "column", "box"), send, receive)
        ]
        return torch.cat(heard, dim=-1)


def _pair_means(send: Tensor, receive: Tensor) -> Tensor:
    """(B, 9 units, 9 members, F) each -> (B, 9, 9, F): for every member, the mean over the unit's 8 others of
    silu(send(other) + receive(member)). All 9 x 9 pairs are formed, then each member's own is taken away."""
    pairs = F.silu(send.unsqueeze(-3) + receive.unsqueeze(-2))  # (B, unit, receiver, sender, F)
    return (pairs.sum(-2) - F.silu(send + receive)) / 8.0


def _by_unit(cells: Tensor, kind: str) -> Tensor:
    """(B, 81 cells in row-major order, F) -> (B, 9 units of this kind, 9 members, F)."""
    batch, _, width = cells.shape
    if kind == "box":  # (band, row in band, stack, column in stack) -> (band, stack, row, column)
        return cells.reshape(batch, 3, 3, 3, 3, width).transpose(2, 3).reshape(batch, 9, 9, width)
    grid = cells.reshape(batch, 9, 9, width)
    return grid.transpose(1, 2) if kind == "column" else grid


def _by_cell(units: Tensor, kind: str) -> Tensor:
    """The inverse of `_by_unit`: (B, 9 units, 9 members, F) -> (B, 81, F)."""
    batch, _, _, width = units.shape
    if kind == "box":
        return units.reshape(batch, 3, 3, 3, 3, width).transpose(2, 3).reshape(batch, 81, width)
    return (units.transpose(1, 2) if kind == "column" else units).reshape(batch, 81, width)


def _box_sums(cells: Tensor) -> Tensor:
    """(B, band, row, stack, column, hidden) -> every cell holds the sum over its box."""
    return cells.sum((2, 4), keepdim=True).expand_as(cells)


class Block(nn.Module):
    """Post-norm block: mix positions, then channels, each as x = rms_norm(x + f(x))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.eps = config.rms_norm_eps
        # The gated form goes into both MLPs, as in "Speed is Confidence"'s MLP-mixer block: the token
        # mixer is a SwiGLU too, and Muon trains its matrices as well.
        gated_rms = config.mlp == "gated_rms"
        self.units = config.mixer == "units"
        if config.mixer == "mlp":
            self.mlp_t = SwiGLU(config.total_len, config.token_mlp_inner, gated_rms, self.eps)
        elif self.units:
            self.unit_mix = UnitMixer(config)
        else:
            self.self_attn = Attention(config)
        self.mlp = SwiGLU(config.hidden_size, config.mlp_inner, gated_rms, self.eps)

    def forward(self, x: Tensor, rope: Optional[tuple[Tensor, Tensor]]) -> Tensor:
        if self.units:
            x = rms_norm(x + self.unit_mix(x), self.eps)
        elif rope is None:
            # Positions become features. As in the reference (so its checkpoints behave the same),
            # this residual's norm is also taken over the sequence axis, before transposing back.
            xt = x.transpose(1, 2)
            x = rms_norm(xt + self.mlp_t(xt), self.eps).transpose(1, 2)
        else:
            x = rms_norm(x + self.self_attn(x, *rope), self.eps)
        return rms_norm(x + self.mlp(x), self.eps)


class Network(nn.Module):
    """The one network TRM reuses for every update: net(state + injection)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.layers = nn.ModuleList(Block(config) for _ in range(config.num_layers))

    def forward(self, state: Tensor, injection: Tensor, rope: Optional[tuple[Tensor, Tensor]]) -> Tensor:
        x = state + injection
        for layer in self.layers:
            x = layer(x, rope)
        return x


class TokenEmbedding(nn.Module):
    """Embedding table under the reference's parameter name (`embedding_weight`)."""

    def __init__(self, num: int, dim: int, std: float):
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_(torch.empty(num, dim), std))

    def forward(self, ids: Tensor) -> Tensor:
        return F.embedding(ids, self.embedding_weight)


class PuzzleEmbedding(nn.Module):
    """A learned vector per puzzle id (`weights`, zero at init), spread over the prefix tokens.

    The vector has puzzle_emb_ndim entries (512 for Sudoku) and is laid out row-major over the
    puzzle_emb_len x hidden prefix, zero-padded: with the defaults it is prefix token 0 and tokens
    1..15 are zeros. The halting head reads token 0.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.prefix, self.hidden = config.puzzle_emb_len, config.hidden_size
        self.weights = nn.Parameter(torch.zeros(config.num_puzzle_ids, config.puzzle_emb_dim))

    def forward(self, ids: Tensor) -> Tensor:
        vectors = F.embedding(ids, self.weights)
        vectors = F.pad(vectors, (0, self.prefix * self.hidden - vectors.shape[-1]))
        return vectors.view(-1, self.prefix, self.hidden)


class Carry(NamedTuple):
    """The recursive state of a batch, (B, puzzle_emb_len + 81, hidden) each."""

    y: Tensor  # answer state (TRM's z_H)
    z: Tensor  # latent reasoning state (TRM's z_L)


class TRM(nn.Module):
    """Tiny Recursive Model. `forward` runs one supervision step at the depth it is given.

    Its files on disk are model/weights.py's (`export_weights`, `load_weights`: the layout huggingface_hub's
    PyTorchModelHubMixin uses); sudoku_trm.pretrained loads one by directory or Hub repo id. The model
    imports neither, so the files' code may import the model.
    """

    def __init__(self, config: ModelConfig | Mapping[str, Any] = ModelConfig()):
        super().__init__()
        if not isinstance(config, ModelConfig):
            config = ModelConfig.from_dict(config)
        self.config = config
        hidden = config.hidden_size
        self.embed_scale = math.sqrt(hidden)

        self.embed_tokens = TokenEmbedding(config.vocab_size, hidden, std=1.0 / self.embed_scale)
        self.puzzle_emb = PuzzleEmbedding(config)
        self.L_level = Network(config)
        self.lm_head = lecun_linear(hidden, config.vocab_size)
        # Two outputs as in the reference (halt, continue); only the halt logit is used. Starting at
        # sigmoid(-5) ~ 0.007 means "keep going" until the answers become worth stopping on.
        self.q_head = lecun_linear(hidden, 2, bias=True)
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

        # Fixed random starting states, saved with the weights (the reference's buffers).
        self.register_buffer("H_init", trunc_normal_(torch.empty(hidden), 1.0))
        self.register_buffer("L_init", trunc_normal_(torch.empty(hidden), 1.0))

        self.rope_cos: Optional[Tensor]
        self.rope_sin: Optional[Tensor]
        if config.mixer == "attention":
            dim = config.head_dim
            inv_freq = 1.0 / config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)
            angles = torch.outer(torch.arange(config.total_len, dtype=torch.float32), inv_freq)
            angles = torch.cat((angles, angles), dim=-1)  # pairs (i, i + dim/2), matching rotate_half
            self.register_buffer("rope_cos", angles.cos(), persistent=False)
            self.register_buffer("rope_sin", angles.sin(), persistent=False)
        else:
            self.rope_cos = self.rope_sin = None

    # -- state ---------------------------------------------------------------------------------

    def initial_carry(self, batch: int, device: torch.device | str | None = None) -> Carry:
        shape = (batch, self.config.total_len, self.config.hidden_size)
        device = self.H_init.device if device is None else device
        return Carry(
            self.H_init.to(device).expand(shape).clone(),
            self.L_init.to(device).expand(shape).clone(),
        )

    def reset_carry(self, carry: Carry, mask: Tensor) -> Carry:
        """Rows where `mask` (B,) is True restart from the initial state; the others keep theirs."""
        rows = mask.view(-1, 1, 1)
        return Carry(
            torch.where(rows, self.H_init.to(carry.y.dtype), carry.y),
            torch.where(rows, self.L_init.to(carry.z.dtype), carry.z),
        )

    # -- one supervision step ------------------------------------------------------------------

    def embed(self, inputs: Tensor, puzzle_ids: Optional[Tensor] = None) -> Tensor:
        """Tokens (B, 81) -> x (B, prefix + 81, hidden): puzzle prefix, then cells, both scaled."""
        if puzzle_ids is None:
            puzzle_ids = torch.zeros(inputs.shape[0], dtype=torch.long, device=inputs.device)
        x = torch.cat((self.puzzle_emb(puzzle_ids), self.embed_tokens(inputs.long())), dim=1)
        return self.embed_scale * x

    def recursion_pass(self, y: Tensor, z: Tensor, x: Tensor, l_cycles: int) -> tuple[Tensor, Tensor]:
        """One H pass: refine the latent l_cycles times, then the answer once."""
        rope = None if self.rope_cos is None else (self.rope_cos, self.rope_sin)
        injection = y + x  # y is fixed during the latent updates
        for _ in range(l_cycles):
            z = self.L_level(z, injection, rope)
        y = self.L_level(y, z, rope)
        return y, z

    def forward(
        self,
        carry: Carry,
        inputs: Tensor,
        h_cycles: Optional[int] = None,
        l_cycles: Optional[int] = None,
        puzzle_ids: Optional[Tensor] = None,
        on_pass: Optional[Callable[[int, Tensor], None]] = None,
    ) -> tuple[Carry, Tensor, Tensor]:
        """One supervision step -> (detached new carry, logits (B, 81, vocab), halt logit (B,) fp32).

        Depth defaults to the config's full depth (what evaluation uses); the curriculum passes a
        smaller one while training. Ints only, so torch.compile specialises once per depth.
        `on_pass(n, y)`, for watching only (`solve --show-passes`), sees the answer state after each of
        the first h-1 passes; the last pass is the step's own output. Left None, nothing changes.
        """
        h = self.config.H_cycles if h_cycles is None else h_cycles
        l = self.config.L_cycles if l_cycles is None else l_cycles
        if h < 1 or l < 1:
            raise ValueError(f"h_cycles and l_cycles must be >= 1, got {h}, {l}")
        x = self.embed(inputs, puzzle_ids)
        y, z = carry
        # The earlier passes only move the state; gradients flow through the last one alone.
        with torch.no_grad():
            for n in range(1, h):
                y, z = self.recursion_pass(y, z, x, l)
                if on_pass is not None:
                    on_pass(n, y)
        y, z = self.recursion_pass(y, z, x, l)

        logits = self.lm_head(y[:, self.config.puzzle_emb_len :])
        halt_logit = self.q_head(y[:, 0]).float()[..., 0]
        return Carry(y.detach(), z.detach()), logits, halt_logit

    def count_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

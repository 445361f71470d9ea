"""RetNet's multi-scale retention (Sun et al. 2023), numerically the same as
torchscale 0.3.0's ``MultiScaleRetention`` and loading its weights.

Per head h, with decay gamma_h = 1 - 2^(-5-h), rotated queries q_n and keys k_m
(interleaved pairs, xpos-style) and values v_m, position n sees

    o_n = sum_{m<=n} (q_n . k_m) gamma^(n-m) v_m      d_n = sum_{m<=n} (q_n . k_m) gamma^(n-m)

torchscale divides each decay-mask row by sqrt(S_n), S_n = sum_{j<=n} gamma^j,
then each score row by max(|row sum|, 1): together ``o_n / max(|d_n|, sqrt(S_n))``
(the divisor is detached, as in torchscale). Every variant here computes that
one formula, so they agree to rounding. Then a per-head RMS norm (no affine),
a swish gate and the output projection.

``retnet/parallel`` builds the L x L score matrix; ``retnet/chunkwise`` does
that inside chunks and carries a fixed-size state between them;
``retnet/recurrent`` steps token by token. The decoding state is per head the
decayed sum of k [v, 1]^T (its last column, the decayed key sum, gives d_n)
and the position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import causal_pairs
from .base import (
    Mixer,
    accumulation_dtype,
    check_divisible,
    check_positive,
    matmul_flops,
    train_flops,
)
from .registry import register_mixer


def log_decays(n_heads: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """log(gamma_h), gamma_h = 1 - 2^(-5-h), shape (n_heads,), never below fp32."""
    h = torch.arange(n_heads, device=device, dtype=accumulation_dtype(dtype))
    return torch.log1p(-(2.0 ** (-5.0 - h)))


def rotation(positions: torch.Tensor, key_dim: int, dtype: torch.dtype) -> torch.Tensor:
    """e^(i n theta_j) of shape (len(positions), key_dim // 2), complex: pair j
    turns by n / 10000^(j / (key_dim/2 - 1)) at position n (torchscale's linspace)."""
    acc = accumulation_dtype(dtype)
    inv_freq = 10000.0 ** -torch.linspace(0, 1, key_dim // 2, device=positions.device, dtype=acc)
    angles = positions.to(acc)[:, None] * inv_freq[None, :]
    return torch.polar(torch.ones_like(angles), angles)


def rotate_pairs(x: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs (x[2j], x[2j+1]) of (..., length, key_dim): as
    the complex number x[2j] + i x[2j+1] times ``turn`` (torchscale's
    theta_shift with rotate_every_two), in one product."""
    pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)))
    return torch.view_as_real(pairs * turn).flatten(-2)


def with_ones(v: torch.Tensor, front_pad: int = 0) -> torch.Tensor:
    """v with a column of ones appended: retaining [v, 1] gives the output o in
    the first d_v columns and the normaliser's row sum d in the last one."""
    return F.pad(v, (0, 1, front_pad, 0), value=1.0)


def decay_matrix(log_decay: torch.Tensor, length: int) -> torch.Tensor:
    """(heads, length, length): gamma^(n-m) on and below the diagonal, exactly 0
    above it. The exponent is clamped before exp so no future entry is ever
    exp of a large positive number."""
    idx = torch.arange(length, device=log_decay.device, dtype=log_decay.dtype)
    distance = idx[:, None] - idx[None, :]
    decay = torch.exp(distance.clamp(min=0) * log_decay[:, None, None])
    return decay * (distance >= 0)


def normalise(od: torch.Tensor, log_decay: torch.Tensor, start: int) -> torch.Tensor:
    """Split retained [v, 1] into o and d and return o / max(|d|, sqrt(S_n)),
    S_n = (1 - gamma^(n+1)) / (1 - gamma) at absolute positions n = start, ...;
    od is (batch, heads, length, d_v + 1)."""
    o, d = od[..., :-1], od[..., -1]
    n = torch.arange(start, start + od.shape[-2], device=od.device, dtype=log_decay.dtype)
    row_mass = torch.expm1((n[None, :] + 1) * log_decay[:, None]) / torch.expm1(log_decay)[:, None]
    divisor = torch.maximum(d.abs(), row_mass.sqrt())
    return o / divisor.detach().unsqueeze(-1)


def parallel_retention(q, k, v, log_decay: torch.Tensor) -> torch.Tensor:
    """The O(L^2) form over (batch, heads, length, dim) tensors."""
    scores = (q @ k.transpose(-1, -2)) * decay_matrix(log_decay, q.shape[-2])
    return normalise(scores @ with_ones(v), log_decay, start=0)


def chunkwise_retention(q, k, v, log_decay: torch.Tensor, chunk_size: int):
    """The chunkwise form: exact scores inside each chunk, a carried state
    across chunks. Returns the output and the state after the last token,
    sum_m gamma^(L-1-m) k_m [v_m, 1]^T of shape (batch, heads, d_k, d_v + 1)."""
    length = q.shape[2]
    chunk = min(chunk_size, length)
    # zeros in front (not behind) align the last chunk's end with the last
    # token, so the returned state needs no correction; zero keys add nothing
    pad = -length % chunk
    if pad:
        q, k = (F.pad(t, (0, 0, pad, 0)) for t in (q, k))
    n_chunks = (length + pad) // chunk
    q, k, v = (t.unflatten(2, (n_chunks, chunk)) for t in (q, k, with_ones(v, pad)))

    inner = (q @ k.transpose(-1, -2)) * decay_matrix(log_decay, chunk)[:, None]
    pos = torch.arange(chunk, device=q.device, dtype=log_decay.dtype)
    to_chunk_end = torch.exp((chunk - 1 - pos) * log_decay[:, None])[:, None, :, None]
    from_chunk_start = torch.exp((pos + 1) * log_decay[:, None])[:, None, :, None]
    chunk_kv = (k * to_chunk_end).transpose(-1, -2) @ v  # (batch, heads, chunks, d_k, d_v+1)
    kv_before, kv_last = running_states(chunk_kv, log_decay * chunk)

    od = inner @ v + (q * from_chunk_start) @ kv_before
    return normalise(od.flatten(2, 3)[:, :, pad:], log_decay, start=0), kv_last


def running_states(chunk_kv: torch.Tensor, log_chunk_decay: torch.Tensor):
    """States before each chunk (stacked on dim 2) and after the last one:
    s_0 = 0, s_{c+1} = gamma^C s_c + chunk_c. A loop over chunks: a closed
    form would divide by gamma^(C c), which overflows."""
    decay = torch.exp(log_chunk_decay)[:, None, None]
    state = torch.zeros_like(chunk_kv[:, :, 0])
    before = []
    for c in range(chunk_kv.shape[2]):
        before.append(state)
        state = torch.addcmul(chunk_kv[:, :, c], state, decay)
    return torch.stack(before, dim=2), state


def decayed_sum(k: torch.Tensor, v: torch.Tensor, log_decay: torch.Tensor) -> torch.Tensor:
    """The state after a prompt in one product: sum_m gamma^(L-1-m) k_m [v_m, 1]^T
    (old tokens underflow to 0, never overflow)."""
    length = k.shape[-2]
    age = torch.arange(length - 1, -1, -1, device=k.device, dtype=log_decay.dtype)
    k_aged = k * torch.exp(age * log_decay[:, None])[..., None]
    return k_aged.transpose(-1, -2) @ with_ones(v)


@dataclass
class RetentionState:
    """Per head the decayed sum of k [v, 1]^T, a d_k x (d_v + 1) matrix whose
    last column is the decayed key sum the normaliser needs, in the
    accumulation dtype; and how many tokens it holds (the next position)."""

    kv: torch.Tensor  # (batch, heads, d_k, d_v + 1)
    length: int = 0


class Retention(Mixer):
    """Shared weights (torchscale's names, shapes and init) and plumbing;
    variants differ in how they retain over the sequence."""

    modes = ("forward", "step (fixed state)", "prefill")

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        chunk_size: int = 64,
        value_factor: int = 2,
        layernorm_eps: float = 1e-6,
    ) -> None:
        super().__init__(d_model)
        for name, value in (("n_heads", n_heads), ("chunk_size", chunk_size)):
            check_positive(name, value)
        check_positive("value_factor", value_factor)
        check_divisible("d_model", d_model, "n_heads", n_heads)
        if (d_model // n_heads) % 2:
            raise ValueError(
                f"key dim d_model/n_heads={d_model // n_heads} must be even for the pairwise "
                "rotation; choose d_model as a multiple of 2*n_heads"
            )
        self.n_heads = n_heads
        self.chunk_size = chunk_size
        self.key_dim = d_model // n_heads
        self.value_dim = value_factor * d_model
        self.head_value_dim = self.value_dim // n_heads
        self.layernorm_eps = layernorm_eps
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, self.value_dim, bias=False)
        self.g_proj = nn.Linear(d_model, self.value_dim, bias=False)
        self.out_proj = nn.Linear(self.value_dim, d_model, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.g_proj):
            nn.init.xavier_uniform_(proj.weight, gain=2**-2.5)
        nn.init.xavier_uniform_(self.out_proj.weight)

    def log_decay(self, dtype: torch.dtype, device) -> torch.Tensor:
        return log_decays(self.n_heads, dtype, device)

    # -- shared plumbing -----------------------------------------------------
    def heads(self, x: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, dim).transpose(1, 2).to(dtype)

    def project(self, x: torch.Tensor, start: int = 0):
        """Rotated q, scaled and rotated k, and v, as (batch, heads, length,
        dim) in the accumulation dtype; the gate g stays (batch, length, value_dim)."""
        acc = accumulation_dtype(x.dtype)
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        turn = rotation(positions, self.key_dim, acc)
        q = rotate_pairs(self.heads(self.q_proj(x), self.key_dim, acc), turn)
        # torchscale scales k by key_dim^-0.5; a real factor commutes with the turn
        k = rotate_pairs(self.heads(self.k_proj(x), self.key_dim, acc), turn * self.key_dim**-0.5)
        v = self.heads(self.v_proj(x), self.head_value_dim, acc)
        return q, k, v, self.g_proj(x)

    def finish(self, o: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Per-head RMS norm (no affine; in the accumulation dtype), swish gate,
        output projection."""
        b, _, n, _ = o.shape
        o = F.rms_norm(o, (self.head_value_dim,), eps=self.layernorm_eps)
        o = o.transpose(1, 2).reshape(b, n, self.value_dim).to(g.dtype)
        return self.out_proj(F.silu(g) * o)

    def retain(self, q, k, v) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def retain_prompt(self, q, k, v) -> tuple[torch.Tensor, torch.Tensor]:
        """Output and final state of a prompt; chunkwise unless overridden."""
        return chunkwise_retention(q, k, v, self.log_decay(q.dtype, q.device), self.chunk_size)

    # -- the contract ------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        q, k, v, g = self.project(x)
        return self.finish(self.retain(q, k, v), g)

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, RetentionState]:
        self.check_input(x)
        q, k, v, g = self.project(x)
        o, kv = self.retain_prompt(q, k, v)
        return self.finish(o, g), RetentionState(kv, x.shape[1])

    def init_state(self, batch: int, device=None, dtype=None) -> RetentionState:
        acc = accumulation_dtype(dtype or self.q_proj.weight.dtype)
        shape = (batch, self.n_heads, self.key_dim, self.head_value_dim + 1)
        return RetentionState(torch.zeros(shape, device=device, dtype=acc))

    def step(self, x_t: torch.Tensor, state: RetentionState) -> tuple[torch.Tensor, RetentionState]:
        self.check_token(x_t)
        q, k, v, g = self.project(x_t[:, None], start=state.length)
        log_decay = self.log_decay(q.dtype, q.device)
        decay = torch.exp(log_decay)[:, None, None]
        kv = torch.addcmul(k.transpose(-1, -2) @ with_ones(v), state.kv, decay)
        o = normalise(q @ kv, log_decay, start=state.length)
        return self.finish(o, g)[:, 0], RetentionState(kv, state.length + 1)

    # -- analytic costs: useful work, as models/attention.py states it ------------
    def projection_flops(self, tokens: int) -> int:
        qk = 2 * matmul_flops(tokens, self.d_model, self.d_model)
        vg = 2 * matmul_flops(tokens, self.value_dim, self.d_model)
        return qk + vg + matmul_flops(tokens, self.d_model, self.value_dim)

    def state_elements(self, batch: int) -> int:
        """Entries of every head's d_k x (d_v + 1) state ([v, 1]: its last column
        is the decayed key sum the normaliser needs)."""
        return batch * self.n_heads * self.key_dim * (self.head_value_dim + 1)

    def state_update_flops(self, batch: int) -> int:
        """One token against the state, all heads: the rank-1 product k [v, 1]^T
        (one multiply per entry), the decayed accumulation gamma S + k [v, 1]^T
        (a multiply-add per entry) and the read-out q S (d_k multiply-adds per column)."""
        return 5 * self.state_elements(batch)

    def retention_flops(self, batch: int, seq_len: int) -> int:  # pragma: no cover
        raise NotImplementedError

    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:
        total = self.projection_flops(batch * seq_len) + self.retention_flops(batch, seq_len)
        return train_flops(total) if backward else total

    def step_flops(self, batch: int, context_len: int) -> int:
        return self.projection_flops(batch) + self.state_update_flops(batch)


# parallel is the reference: torchscale trains with it and its normalisation
# (row sums of the masked score matrix) is defined on that matrix; the
# recurrent and chunkwise forms are derived from it
@register_mixer("retnet/parallel", reference=True)
class ParallelRetention(Retention):
    """The full L x L score matrix: O(L^2) time and memory."""

    def retain(self, q, k, v) -> torch.Tensor:
        return parallel_retention(q, k, v, self.log_decay(q.dtype, q.device))

    def retain_prompt(self, q, k, v):
        log_decay = self.log_decay(q.dtype, q.device)
        return parallel_retention(q, k, v, log_decay), decayed_sum(k, v, log_decay)

    def retention_flops(self, batch: int, seq_len: int) -> int:
        """q . k and the weighted sum of [v, 1] over the L(L+1)/2 causal pairs
        (the decay mask zeroes the rest, which the kernel computes all the same)."""
        per_pair = matmul_flops(1, 1, self.key_dim) + matmul_flops(1, self.head_value_dim + 1, 1)
        return batch * self.n_heads * causal_pairs(seq_len) * per_pair


@register_mixer("retnet/chunkwise")
class ChunkwiseRetention(Retention):
    """Exact scores inside chunks of ``chunk_size``, a carried state between
    them: O(L * C) for the chunks plus O(L * d_k * d_v) for the state."""

    def retain(self, q, k, v) -> torch.Tensor:
        return self.retain_prompt(q, k, v)[0]

    def chunks(self, seq_len: int) -> tuple[int, int]:
        """(chunk size, number of chunks) of ``chunkwise_retention`` at this length."""
        chunk = min(self.chunk_size, seq_len)
        return chunk, -(-seq_len // chunk)

    def retention_flops(self, batch: int, seq_len: int) -> int:
        """Per head: the causal pairs inside each chunk (the first chunk holds the
        L mod C leftover positions; the zeros padded in front of them are not
        counted), each position's key into its chunk's state and its query
        against the state before its chunk (2 d_k (d_v + 1) each), and one
        decayed carry gamma^C s + chunk state per chunk (a multiply-add per entry)."""
        chunk, n_chunks = self.chunks(seq_len)
        first = seq_len - (n_chunks - 1) * chunk
        pairs = causal_pairs(first) + (n_chunks - 1) * causal_pairs(chunk)
        dk, dv = self.key_dim, self.head_value_dim + 1  # [v, 1]
        inner = pairs * (matmul_flops(1, 1, dk) + matmul_flops(1, dv, 1))
        cross = seq_len * 2 * matmul_flops(1, dv, dk)
        carry = n_chunks * 2 * dk * dv
        return batch * self.n_heads * (inner + cross + carry)


@register_mixer("retnet/recurrent")
class RecurrentRetention(Retention):
    """Token by token from the fixed-size state: forward loops over ``step``
    (slow, O(L * d_k * d_v)); prefill uses the chunkwise form."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        state = self.init_state(x.shape[0], x.device, x.dtype)
        ys = []
        for t in range(x.shape[1]):
            y_t, state = self.step(x[:, t], state)
            ys.append(y_t)
        return torch.stack(ys, dim=1)

    def retention_flops(self, batch: int, seq_len: int) -> int:
        """L steps' state updates: the useful work of L calls of ``step``."""
        return seq_len * self.state_update_flops(batch)

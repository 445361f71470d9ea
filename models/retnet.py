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
from typing import ClassVar

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
    outside_autocast,
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
    """Split retained [v, 1] into o and d and return o / max(|d|, sqrt(S_n));
    od is (batch, heads, length, d_v + 1)."""
    return divide_by_normaliser(od[..., :-1], od[..., -1], log_decay, start)


def divide_by_normaliser(
    o: torch.Tensor, d: torch.Tensor, log_decay: torch.Tensor, start: int
) -> torch.Tensor:
    """o / max(|d|, sqrt(S_n)), S_n = (1 - gamma^(n+1)) / (1 - gamma) at absolute
    positions n = start, ...; o is (batch, heads, length, d_v), d the row sums
    (batch, heads, length). The divisor is detached, as in torchscale."""
    return o / normaliser(d, log_decay, start).detach().unsqueeze(-1)


def parallel_retention(q, k, v, log_decay: torch.Tensor) -> torch.Tensor:
    """The O(L^2) form over (batch, heads, length, dim) tensors."""
    scores = (q @ k.transpose(-1, -2)) * decay_matrix(log_decay, q.shape[-2])
    return normalise(scores @ with_ones(v), log_decay, start=0)


#: side of the score tiles inside a chunk: only tiles on or below the diagonal
#: are computed, so a chunk of C costs about C^2 (1 + TILE/C) / 2 pairs, not C^2
SCORE_TILE = 128


def chunk_decays(log_decay: torch.Tensor, chunk: int):
    """Per head: gamma^(p+1) (a query's decay from the chunk's start state),
    gamma^(C-1-p) (a key's decay to the chunk's end), both (heads, chunk); the
    in-chunk decay mask (heads, chunk, chunk); gamma^C (heads,)."""
    pos = torch.arange(chunk, device=log_decay.device, dtype=log_decay.dtype)
    from_start = torch.exp((pos + 1) * log_decay[:, None])
    to_end = torch.exp((chunk - 1 - pos) * log_decay[:, None])
    return from_start, to_end, decay_matrix(log_decay, chunk), torch.exp(chunk * log_decay)


class RetainChunks(torch.autograd.Function):
    """The chunkwise form over contiguous (G, H, L, d) q, k, v, L a multiple of
    the chunk C, from the state ``state`` (G, H, d_k, d_v + 1) or 0. Returns the
    unnormalised output o (G, H, L, d_v), its row sums d (G, H, L; they feed the
    detached divisor only, so get no gradient) and the state after the last
    position. Per chunk c with start state S_c:

        o = (q gamma^(p+1)) S_c + sum over tiles j <= i of (Q_i K_j^T * D_ij) V_j
        S_(c+1) = gamma^C S_c + (k gamma^(C-1-p))^T [v, 1]

    Scores come in tiles of SCORE_TILE: the tiles above the diagonal, all
    masked, are skipped, in the forward and in the hand-written backward, which
    runs the states' recurrence backwards. It keeps q, k, v, the chunks' start
    states and the masked scores."""

    @staticmethod
    @outside_autocast
    def forward(ctx, q, k, v, log_decay, chunk: int, state):
        G, H, L, dk = q.shape
        dv = v.shape[-1]
        n = L // chunk
        from_start, to_end, mask, chunk_decay = chunk_decays(log_decay, chunk)
        q5, k5, v5 = (t.view(G, H, n, chunk, -1) for t in (q, k, v))
        keys = k5 * to_end[:, None, :, None]
        chunk_kv = torch.cat([keys.transpose(-1, -2) @ v5, keys.sum(-2).unsqueeze(-1)], -1)
        # the states before each chunk, and after the last, one op per chunk: few
        # ops matter where threads wait for each other at every op's end
        starts = q.new_empty(G, H, n, dk, dv + 1)
        if state is None:
            starts[:, :, 0] = 0
        else:
            starts[:, :, 0] = state
        decay = chunk_decay[:, None, None]
        for c in range(n - 1):
            torch.addcmul(chunk_kv[:, :, c], starts[:, :, c], decay, out=starts[:, :, c + 1])
        S = torch.addcmul(chunk_kv[:, :, n - 1], starts[:, :, n - 1], decay)
        rows = G * H * n
        # as (rows, ...) batches: bmm reads the strided columns of the states in
        # place, where a 5-d matmul would copy them first
        queries = (q5 * from_start[:, None, :, None]).view(rows, chunk, dk)
        states3 = starts.view(rows, dk, dv + 1)
        o = torch.bmm(queries, states3[..., :dv]).view(G, H, n, chunk, dv)
        d = torch.bmm(queries, states3[..., dv:]).view(G, H, n, chunk)
        q3, k3, v3 = (t.view(rows, chunk, -1) for t in (q, k, v))
        scores = []
        for first, last in tile_rows(chunk):
            # bmm's output must be contiguous (a strided one runs per batch entry)
            P = torch.bmm(q3[:, first:last], k3[:, :last].transpose(1, 2))
            P = P.view(G, H, n, last - first, last).mul_(mask[:, None, first:last, :last])
            o[..., first:last, :] += (P.view(rows, -1, last) @ v3[:, :last]).view_as(
                o[..., first:last, :]
            )
            d[..., first:last] += P.sum(-1)
            scores.append(P.view(rows, -1, last))
        ctx.chunk = chunk
        # the masked scores (about half a chunk's square each) are kept: recomputing
        # them would cost the backward another product per tile
        ctx.save_for_backward(q, k, v, log_decay, starts, *scores)
        d = d.view(G, H, L)
        ctx.mark_non_differentiable(d)
        return o.view(G, H, L, dv), d, S

    @staticmethod
    @outside_autocast
    def backward(ctx, do, dd, dS):
        q, k, v, log_decay, starts, *scores = ctx.saved_tensors
        chunk = ctx.chunk
        G, H, L, dk = q.shape
        dv = v.shape[-1]
        n, rows = L // chunk, G * H * L // chunk
        from_start, to_end, mask, chunk_decay = chunk_decays(log_decay, chunk)
        from_start, to_end = from_start[:, None, :, None], to_end[:, None, :, None]
        q5, k5, v5, do5 = (t.view(G, H, n, chunk, -1) for t in (q, k, v, do.contiguous()))
        # the start states' part: o += (q gamma^(p+1)) S_c
        S_v = starts[..., :dv]
        dq5 = (do5 @ S_v.transpose(-1, -2)).mul_(from_start)
        d_starts = (q5 * from_start).transpose(-1, -2) @ do5
        # the states' recurrence backwards: what chunk c's keys and values feed
        # (d_chunk_kv[c]: the gradient of the state after chunk c, which chunk c's
        # keys and values feed; after: that of the start state)
        d_chunk_kv = q.new_empty(G, H, n, dk, dv)
        d_chunk_kv[:, :, n - 1] = dS[..., :dv]
        decay = chunk_decay[:, None, None]
        for c in range(n - 1, 0, -1):
            after = d_chunk_kv[:, :, c]
            torch.addcmul(d_starts[:, :, c], after, decay, out=d_chunk_kv[:, :, c - 1])
        after = torch.addcmul(d_starts[:, :, 0], d_chunk_kv[:, :, 0], decay)
        dk5 = (v5 @ d_chunk_kv.transpose(-1, -2)).mul_(to_end)
        dv5 = (k5 * to_end) @ d_chunk_kv
        # the in-chunk scores, tile row by tile row
        q3, k3, v3, do3 = (t.reshape(rows, chunk, -1) for t in (q5, k5, v5, do5))
        dq3, dk3, dv3 = (t.view(rows, chunk, -1) for t in (dq5, dk5, dv5))
        for (first, last), P in zip(tile_rows(chunk), scores, strict=True):
            part = mask[:, None, first:last, :last]
            shape = (G, H, n, last - first, last)
            dv3[:, :last] += torch.bmm(P.transpose(1, 2), do3[:, first:last])
            dP = torch.bmm(do3[:, first:last], v3[:, :last].transpose(1, 2))
            dP = dP.view(shape).mul_(part).view(rows, -1, last)
            dq3[:, first:last] += torch.bmm(dP, k3[:, :last])
            dk3[:, :last] += torch.bmm(dP.transpose(1, 2), q3[:, first:last])
        d_state = None
        if ctx.needs_input_grad[5]:
            # the key-sum column feeds d only, which gets no gradient
            d_state = F.pad(after, (0, 1))
        return dq5.view_as(q), dk5.view_as(k), dv5.view_as(v), None, None, d_state


def tile_rows(chunk: int) -> list[tuple[int, int]]:
    """(first, last) query rows of each tile row of a chunk: its scores need keys 0..last."""
    tile = min(SCORE_TILE, chunk)
    return [(first, min(first + tile, chunk)) for first in range(0, chunk, tile)]


def retain_chunks(q, k, v, log_decay: torch.Tensor, chunk_size: int):
    """``RetainChunks`` over a sequence of any length: the unnormalised output
    o, its row sums d and the state after the last token,
    sum_m gamma^(L-1-m) k_m [v_m, 1]^T of shape (batch, heads, d_k, d_v + 1)."""
    length = q.shape[2]
    chunk = min(chunk_size, length)
    # zeros in front (not behind) align the last chunk's end with the last
    # token, so the returned state needs no correction; zero keys add nothing
    pad = -length % chunk
    if pad:
        q, k, v = (F.pad(t, (0, 0, pad, 0)) for t in (q, k, v))
    q, k, v = (t.contiguous() for t in (q, k, v))
    o, d, state = RetainChunks.apply(q, k, v, log_decay, chunk, None)
    return o[:, :, pad:], d[:, :, pad:], state


def chunkwise_retention(q, k, v, log_decay: torch.Tensor, chunk_size: int):
    """The chunkwise form: exact scores inside each chunk, a carried state
    across chunks. Returns the normalised output and the state after the last token."""
    o, d, state = retain_chunks(q, k, v, log_decay, chunk_size)
    return divide_by_normaliser(o, d, log_decay, start=0), state


def normaliser(d: torch.Tensor, log_decay: torch.Tensor, start: int) -> torch.Tensor:
    """max(|d|, sqrt(S_n)) at absolute positions n = start, ... (see ``divide_by_normaliser``)."""
    n = torch.arange(start, start + d.shape[-1], device=d.device, dtype=log_decay.dtype)
    row_mass = torch.expm1((n[None, :] + 1) * log_decay[:, None]) / torch.expm1(log_decay)[:, None]
    return torch.maximum(d.abs(), row_mass.sqrt())


class NormalisedHeads(torch.autograd.Function):
    """rms_norm(o / divisor) per head, written straight into the merged
    (batch, length, heads * d_v) layout: the same as dividing, RMS-norming and
    transposing, in two passes over o instead of five. Since the divisor is one
    number per row, rms_norm(o / c) = o * rsqrt(mean(o^2) + eps c^2); the
    divisor is detached (torchscale's), so the backward is RMS norm's with that eps."""

    @staticmethod
    def forward(ctx, o: torch.Tensor, divisor: torch.Tensor, eps: float):
        b, h, n, dv = o.shape
        mean_square = torch.linalg.vector_norm(o, dim=-1).square_().div_(dv)
        scale = mean_square.add_(divisor.square().mul_(eps)).rsqrt_()
        out = o.new_empty(b, n, h, dv)
        torch.mul(o, scale.unsqueeze(-1), out=out.permute(0, 2, 1, 3))
        ctx.save_for_backward(o, scale)
        return out.view(b, n, h * dv)

    @staticmethod
    def backward(ctx, d_out: torch.Tensor):
        o, scale = ctx.saved_tensors
        b, h, n, dv = o.shape
        d_out = d_out.reshape(b, n, h, dv).permute(0, 2, 1, 3)
        # d/do of o * (mean(o^2) + c)^(-1/2): scale d_out - o scale^3 mean(o d_out)
        along = torch.linalg.vecdot(o, d_out).mul_(scale.pow(3)).div_(dv)
        d_o = torch.mul(d_out, scale.unsqueeze(-1))
        return d_o.addcmul_(o, along.unsqueeze(-1), value=-1), None, None


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

    fixed_state = True
    positional = (
        "xPos-style rotation of queries and keys times a per-head decay gamma^(n-m) "
        "(RetNet's relative position)"
    )

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
        return self.gate_out(o.transpose(1, 2).reshape(b, n, self.value_dim), g)

    def gate_out(self, o: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Swish gate and output projection of the merged heads (batch, length, value_dim)."""
        return self.out_proj(F.silu(g) * o.to(g.dtype))

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

    def chunks(self, seq_len: int) -> tuple[int, int]:
        """(chunk size, number of chunks) of ``chunkwise_retention`` at this length."""
        chunk = min(self.chunk_size, seq_len)
        return chunk, -(-seq_len // chunk)

    def chunkwise_retention_flops(self, batch: int, seq_len: int) -> int:
        """The chunkwise form at ``chunk_size``. Per head: the causal pairs inside
        each chunk (the first chunk holds the L mod C leftover positions; the
        zeros padded in front of them are not counted), each position's key into
        its chunk's state and its query against the state before its chunk
        (2 d_k (d_v + 1) each), and one decayed carry gamma^C s + chunk state per
        chunk (a multiply-add per entry)."""
        chunk, n_chunks = self.chunks(seq_len)
        first = seq_len - (n_chunks - 1) * chunk
        pairs = causal_pairs(first) + (n_chunks - 1) * causal_pairs(chunk)
        dk, dv = self.key_dim, self.head_value_dim + 1  # [v, 1]
        inner = pairs * (matmul_flops(1, 1, dk) + matmul_flops(1, dv, 1))
        cross = seq_len * 2 * matmul_flops(1, dv, dk)
        carry = n_chunks * 2 * dk * dv
        return batch * self.n_heads * (inner + cross + carry)

    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:
        total = self.projection_flops(batch * seq_len) + self.retention_flops(batch, seq_len)
        return train_flops(total) if backward else total

    def prefill_flops(self, batch: int, seq_len: int) -> int:
        """``retain_prompt``'s chunkwise form (whatever ``forward`` runs)."""
        return self.projection_flops(batch * seq_len) + self.chunkwise_retention_flops(
            batch, seq_len
        )

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

    def prefill_flops(self, batch: int, seq_len: int) -> int:
        """``forward``'s work and the state after the prompt (``decayed_sum``):
        every position's aged key into it, 2 d_k (d_v + 1) per head."""
        return self.flops(batch, seq_len) + seq_len * 2 * self.state_elements(batch)


@register_mixer("retnet/chunkwise")
class ChunkwiseRetention(Retention):
    """Exact scores inside chunks of ``chunk_size``, a carried state between
    them: O(L * C) for the chunks plus O(L * d_k * d_v) for the state."""

    #: after retnet/fla (0), which runs on a GPU only
    accuracy_rank = 1

    def retain(self, q, k, v) -> torch.Tensor:
        return self.retain_prompt(q, k, v)[0]

    #: tokens per block of ``prefill`` without grad: projections, retention and
    #: output run block by block with the state carried between blocks, so that
    #: the working set stays in cache however long the sequence (and time grows
    #: linearly with it). With grad the sequence is one block: the backward keeps
    #: every block's tensors anyway, and where threads wait for each other at the
    #: end of every op (a busy machine) more ops cost more than cache misses
    block_tokens: ClassVar[int] = 2048

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prefill(x)[0]

    def blocks(self, seq_len: int) -> list[tuple[int, int]]:
        """(start, end) of each block: whole chunks, the first block taking the
        leftover (and, padded in front, the partial chunk); one block with grad."""
        if torch.is_grad_enabled():
            return [(0, seq_len)]
        chunk = min(self.chunk_size, seq_len)
        block = max(chunk, self.block_tokens // chunk * chunk)
        first = seq_len - (-(-seq_len // block) - 1) * block
        ends = [first, *range(first + block, seq_len + 1, block)]
        return list(zip([0, *ends[:-1]], ends, strict=True))

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, RetentionState]:
        """Block by block (``blocks``); ``finish``'s divide, RMS norm and merge of
        heads in one (``NormalisedHeads``)."""
        self.check_input(x)
        chunk = min(self.chunk_size, x.shape[1])
        log_decay = self.log_decay(accumulation_dtype(x.dtype), x.device)
        state, outs = None, []
        for start, end in self.blocks(x.shape[1]):
            q, k, v, g = self.project(x[:, start:end], start)
            # only the first block can hold a partial chunk: zeros in front of it
            # (zero keys and values, from a zero state) leave the state unchanged
            pad = -(end - start) % chunk
            if pad:
                q, k, v = (F.pad(t, (0, 0, pad, 0)) for t in (q, k, v))
            q, k, v = (t.contiguous() for t in (q, k, v))
            o, d, state = RetainChunks.apply(q, k, v, log_decay, chunk, state)
            divisor = normaliser(d[:, :, pad:], log_decay, start)
            o = NormalisedHeads.apply(o[:, :, pad:], divisor, self.layernorm_eps)
            outs.append(self.gate_out(o, g))
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        return out, RetentionState(state, x.shape[1])

    def retention_flops(self, batch: int, seq_len: int) -> int:
        return self.chunkwise_retention_flops(batch, seq_len)


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

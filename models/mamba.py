"""Mamba's selective state-space block (Gu & Dao, 2023), with mamba-ssm's parameter layout.

    x -> in_proj -> (x_in, z)
    u = silu(causal depthwise conv1d(x_in))
    (dt, B, C) = x_proj(u);  delta = softplus(dt_proj(dt))
    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t      (per channel, per state)
    y_t = C_t . h_t + D * u_t
    out = out_proj(y * silu(z))

The variants share every parameter (one ``state_dict``) and differ only in how
they run the selective scan over time: ``mamba/reference`` loops over positions,
``mamba/scan`` runs a chunked scan whose sequential depth is about 3*sqrt(L)
instead of L, ``mamba/fused`` runs it as one C loop on the CPU
(models/mamba_fused.c, built at first use), ``mamba/mamba-ssm`` runs the
whole block in mamba-ssm's and causal-conv1d's CUDA kernels where both are built.
Decoding keeps a fixed-size state: the conv's last ``d_conv - 1`` inputs and h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from . import mamba_fused
from .attention import causal_pairs, cuda_run_problem
from .base import (
    Mixer,
    accumulation_dtype,
    check_positive,
    cuda_package_reason,
    matmul_flops,
    outside_autocast,
    train_flops,
)
from .registry import register_mixer

#: FLOPs per (position, channel, state) of one pass of the recurrence:
#: delta*A and (delta*u)*B (2 multiplies), h update (a multiply-add), C.h (a multiply-add);
#: exp and the per-channel delta*u are elementwise work (models/attention.py's convention).
SCAN_FLOPS_PER_STATE = 6
#: how to get the compiled kernels: neither package ships a wheel, and since
#: mid-2026 a default mamba-ssm install leaves its scan kernel out
MAMBA_SSM_BUILD = "build it: MAMBA_FORCE_BUILD=TRUE pip install mamba-ssm --no-build-isolation"
CAUSAL_CONV1D_BUILD = (
    "build it: CAUSAL_CONV1D_FORCE_BUILD=TRUE pip install causal-conv1d --no-build-isolation"
)
#: causal_conv1d.cpp:182 (causal-conv1d v1.6.0): "only supports width between 2 and 4"
CAUSAL_CONV1D_WIDTHS = range(2, 5)
#: selective_scan.cpp:262 (mamba-ssm v2.3.2.post1): "state dimension <= 256"
MAX_SCAN_STATE = 256


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """x with softplus(x) = y, written as y + log(1 - exp(-y)) so small y stay accurate."""
    return y + torch.log(-torch.expm1(-y))


@dataclass
class MambaState:
    """What decoding carries from one token to the next; its size does not grow."""

    #: (batch, d_inner, d_conv - 1): the conv's last inputs, oldest first
    conv: torch.Tensor
    #: (batch, d_inner, d_state): the SSM state h, in the accumulation dtype
    ssm: torch.Tensor


def ssm_step(
    h: torch.Tensor,
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One position of the recurrence. h: (..., E, N); u, delta: (..., E); A: (E, N);
    B, C: (..., N). Returns y (..., E), without the D skip, and the new h."""
    h = discretized_update(h, u, delta, A, B)
    return (h @ C.unsqueeze(-1)).squeeze(-1), h


def discretized_update(
    h: torch.Tensor, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor
) -> torch.Tensor:
    """h * exp(delta A) + (delta u) B: zero-order hold on A, Euler on B, as in mamba."""
    decay = torch.exp(delta.unsqueeze(-1) * A)
    return torch.addcmul((delta * u).unsqueeze(-1) * B.unsqueeze(-2), decay, h)


def sequential_selective_scan(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence one position at a time. u, delta: (b, L, E); B, C: (b, L, N).
    Returns y (b, L, E) without the D skip, and the final h (b, E, N)."""
    h = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
    ys = []
    for t in range(u.shape[1]):
        y_t, h = ssm_step(h, u[:, t], delta[:, t], A, B[:, t], C[:, t])
        ys.append(y_t)
    return torch.stack(ys, dim=1), h


#: positions of the scan whose states the forward keeps for the backward: the
#: backward recomputes the states in between (a few slabs, warm in cache) from them
CHECKPOINT_EVERY = 4


@dataclass
class ScanLayout:
    """The chunked scan's view of a sequence: ``size`` positions per chunk, the
    chunks of every sequence side by side as rows, position first, so that one
    step of the recurrence is one op over a (rows, N, E) slab. ``pad`` zeros past
    the end fill the last chunk: delta = 0 there means decay 1 and input 0, so
    the padding leaves h unchanged."""

    batch: int
    length: int
    size: int

    @property
    def pad(self) -> int:
        return -self.length % self.size

    @property
    def n_chunks(self) -> int:
        return (self.length + self.pad) // self.size

    @property
    def rows(self) -> int:
        return self.batch * self.n_chunks

    def by_position(self, z: torch.Tensor) -> torch.Tensor:
        """(b, L, k) -> (size, rows, k): with one chunk a view (each step reads
        strided rows), else one copy."""
        if self.n_chunks == 1:
            return z.transpose(0, 1)
        if self.pad:
            z = F.pad(z, (0, 0, 0, self.pad))
        z = z.view(self.batch, self.n_chunks, self.size, -1).permute(2, 0, 1, 3)
        return z.contiguous().view(self.size, self.rows, -1)

    def steps(self, z: torch.Tensor, column: bool = False) -> tuple[torch.Tensor, ...]:
        """``by_position(z)`` step by step, each step's (rows, k) as rows
        (rows, 1, k) or columns (rows, k, 1) to broadcast against (and multiply
        with) the (rows, N, E) state: one view op for all steps."""
        return self.by_position(z).unsqueeze(3 if column else 2).unbind(0)

    def by_sequence(self, z: torch.Tensor) -> torch.Tensor:
        """(size, rows, k) -> (b, L, k): the inverse of by_position, padding dropped."""
        z = z.view(self.size, self.batch, self.n_chunks, -1).permute(1, 2, 0, 3)
        return z.reshape(self.batch, self.length + self.pad, -1)[:, : self.length]


def scan_decay(delta_t: torch.Tensor, A2: torch.Tensor) -> torch.Tensor:
    """exp(delta A) of one step as exp2(delta A log2(e)), (rows, N, E) from
    delta_t (rows, 1, E): exp2 is about twice as fast as exp on CPUs, to the
    same precision."""
    return (delta_t * A2).exp2_()


def scan_input(B_t: torch.Tensor, du_t: torch.Tensor) -> torch.Tensor:
    """(delta u) B of one step, (rows, N, E), from B_t (rows, N, 1) and du_t (rows, 1, E)."""
    return B_t * du_t


def chunk_starts(layout: ScanLayout, du, delta, A2, B, delta_sum):
    """The true state before every chunk, (rows, N, E), and the final state
    (b, N, E): each chunk runs from h = 0 keeping only its end state, then a
    short loop over chunks carries the state across their borders (a chunk's
    total decay is exp(A * sum of its delta) <= 1). du, delta and B are
    ``ScanLayout.steps``; delta_sum is each row's sum of delta (rows, E)."""
    local = A2.new_zeros(layout.rows, *A2.shape)
    for t in range(layout.size):
        local = scan_input(B[t], du[t]).addcmul_(scan_decay(delta[t], A2), local)
    shape = (layout.batch, layout.n_chunks, *A2.shape)
    local = local.view(shape)
    chunk_decay = (delta_sum.view(layout.batch, layout.n_chunks, 1, -1) * A2).exp2_()
    starts = local.new_empty(shape)
    h = local.new_zeros(layout.batch, *A2.shape)
    for c in range(layout.n_chunks):
        starts[:, c] = h
        h = torch.addcmul(local[:, c], chunk_decay[:, c], h)
    return starts.view(layout.rows, *A2.shape), h


def chunk_end_adjoints(
    layout: ScanLayout, delta, A2, C, dy, dh, delta_sum: torch.Tensor | None
) -> torch.Tensor:
    """The gradient flowing into each chunk's last position from the positions
    after it, (rows, N, E): the mirror image of ``chunk_starts``. Each chunk runs
    the adjoint recurrence g_t = C_t dy_t + exp(delta_{t+1} A) g_{t+1} backwards
    from 0 and hands exp(delta_0 A) g_0 to the chunk before it; a short loop
    over chunks carries those across the borders, from the final state's
    gradient ``dh`` (b, N, E) or 0. delta, C (rows, N, 1) and dy (rows, 1, E)
    are ``ScanLayout.steps``; delta_sum as for ``chunk_starts`` (with more
    than one chunk)."""
    N, E = A2.shape
    shape = (layout.batch, layout.n_chunks, N, E)
    ends = A2.new_zeros(shape)
    if dh is not None:
        ends[:, -1] = dh
    if layout.n_chunks > 1:
        out = A2.new_zeros(layout.rows, N, E)
        for t in range(layout.size - 1, -1, -1):
            out = torch.addcmul(out, C[t], dy[t])
            out.mul_(scan_decay(delta[t], A2))
        out = out.view(shape)
        chunk_decay = (delta_sum.view(layout.batch, layout.n_chunks, 1, E) * A2).exp2_()
        for c in range(layout.n_chunks - 1, 0, -1):
            ends[:, c - 1] += torch.addcmul(out[:, c], chunk_decay[:, c], ends[:, c])
    return ends.view(layout.rows, N, E)


class ChunkedScan(torch.autograd.Function):
    """The selective scan over (b, L, E) inputs in chunks, with a hand-written
    backward. Returns y (b, L, E) without the D skip and the final h (b, E, N).

    Forward: the chunks of every sequence are rows of one slab; with more than
    one chunk, ``chunk_starts`` finds each chunk's true start state first; then
    every chunk runs the recurrence from it, reading y out. It keeps only the
    inputs and the states at every CHECKPOINT_EVERY-th position (as a list on
    ctx, uncopied).

    Backward: for h_t = a_t h_{t-1} + x_t (a_t = exp(delta_t A), x_t = (delta_t u_t) B_t)
    and y_t = C_t . h_t, the adjoint g_t = dL/dh_t = C_t dy_t + a_{t+1} g_{t+1} runs
    backwards (across chunk borders by ``chunk_end_adjoints``), segment by segment
    between checkpoints, whose states it recomputes; then
    d(delta u)_t = g_t . B_t, dB_t = g_t . (delta u)_t, dC_t = h_t . dy_t, and
    r_t = g_t a_t h_{t-1}, the gradient of delta_t A, gives d delta_t = r_t . A and
    dA = sum_t r_t delta_t. Memory: O(L (E + N) + L E N / CHECKPOINT_EVERY), not
    autograd's several (L, E, N) tensors.
    """

    @staticmethod
    @outside_autocast
    def forward(ctx, u, delta, A, B, C, chunk_size: int):
        layout = ScanLayout(u.shape[0], u.shape[1], min(chunk_size, u.shape[1]))
        du, dl = layout.steps(delta * u), layout.steps(delta)
        Bs, Cs = layout.steps(B, column=True), layout.steps(C)
        # the state is laid out (N, E), E contiguous: C.h is a (1, N) @ (N, E) product
        A2 = (A.T * math.log2(math.e)).contiguous()
        if layout.n_chunks > 1:
            delta_sum = layout.by_position(delta).sum(0)
            h, final = chunk_starts(layout, du, dl, A2, Bs, delta_sum)
        else:
            h = u.new_zeros(layout.rows, *A2.shape)
        keep = any(ctx.needs_input_grad)
        checkpoints = []
        y = u.new_empty(layout.size, layout.rows, 1, u.shape[-1])
        ys = y.unbind(0)
        for t in range(layout.size):
            if keep and t % CHECKPOINT_EVERY == 0:
                checkpoints.append(h)
            h = scan_input(Bs[t], du[t]).addcmul_(scan_decay(dl[t], A2), h)
            torch.bmm(Cs[t], h, out=ys[t])
        if layout.n_chunks == 1:
            final = h
        if keep:
            ctx.layout = layout
            ctx.save_for_backward(u, delta, A, B, C)
            # states made here, not inputs or outputs: kept as they are, where
            # save_for_backward would need them stacked (a copy of all of them)
            ctx.checkpoints = checkpoints
        return layout.by_sequence(y), final.transpose(-1, -2)

    @staticmethod
    @outside_autocast
    def backward(ctx, dy, dh):
        u, delta, A, B, C = ctx.saved_tensors
        checkpoints = ctx.checkpoints
        layout = ctx.layout
        du, dl, dys = layout.steps(delta * u), layout.steps(delta), layout.steps(dy)
        B_col, B_row = layout.steps(B, column=True), layout.steps(B)
        C_col = layout.steps(C, column=True)
        A2 = (A.T * math.log2(math.e)).contiguous()
        A_ne = A.T.contiguous()
        delta_sum = layout.by_position(delta).sum(0) if layout.n_chunks > 1 else None
        dh = None if dh is None else dh.transpose(1, 2)
        g = chunk_end_adjoints(layout, dl, A2, C_col, dys, dh, delta_sum)
        rows, (N, E) = layout.rows, A2.shape
        d_du = u.new_empty(layout.size, rows, 1, E)
        d_delta = u.new_empty(layout.size, rows, E)
        dB = u.new_empty(layout.size, rows, 1, N)
        dC = u.new_empty(layout.size, rows, 1, N)
        d_dus, d_deltas, dBs, dCs = (t.unbind(0) for t in (d_du, d_delta, dB, dC))
        dA = u.new_zeros(rows, N, E)
        for s in range(len(checkpoints) - 1, -1, -1):
            first = s * CHECKPOINT_EVERY
            last = min(layout.size, first + CHECKPOINT_EVERY)
            hs, decays = [checkpoints[s]], []
            for t in range(first, last):
                decays.append(scan_decay(dl[t], A2))
                hs.append(scan_input(B_col[t], du[t]).addcmul_(decays[-1], hs[-1]))
            for t in range(last - 1, first - 1, -1):
                i = t - first
                g = torch.addcmul(g, C_col[t], dys[t])
                torch.bmm(B_row[t], g, out=d_dus[t])
                torch.bmm(du[t], g.mT, out=dBs[t])
                torch.bmm(dys[t], hs[i + 1].mT, out=dCs[t])
                g = g.mul_(decays[i])  # a_t g_t: what flows on to position t - 1
                r = torch.mul(g, hs[i], out=decays[i])
                dA.addcmul_(r, dl[t])
                torch.sum(r.mul_(A_ne), -2, out=d_deltas[t])
        d_du, d_delta = layout.by_sequence(d_du), layout.by_sequence(d_delta)
        d_A = dA.sum(0).T
        return (
            d_du * delta,
            d_delta.addcmul_(d_du, u),
            d_A,
            layout.by_sequence(dB),
            layout.by_sequence(dC),
            None,
        )


def chunked_selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same result as ``sequential_selective_scan``, in ``ChunkedScan``: with
    one chunk (chunk_size >= L) the recurrence itself, one position at a time
    over the whole batch; with more, sequential depth 2*chunk_size + L/chunk_size
    instead of L, at twice the work (each chunk's end state first, then its
    outputs). Only products of decays <= 1 appear, so nothing overflows however
    long the sequence."""
    return ChunkedScan.apply(u, delta, A, B, C, chunk_size)


def causal_depthwise_conv(
    x_in: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """bias + sum_k w_k x_{t-(K-1-k)} over (b, L, E) with weight (E, K), zero
    history, before the activation. Written as K shifted multiply-adds: on a CPU
    that beats conv1d, which would also need x_in transposed to (b, E, L) and back."""
    length, taps = x_in.shape[1], weight.shape[1]
    padded = F.pad(x_in, (0, 0, taps - 1, 0))
    out = torch.zeros_like(x_in) if bias is None else bias
    for k in range(taps):
        out = torch.addcmul(out, padded[:, k : k + length], weight[:, k])
    return out


class CausalConvSiLU(torch.autograd.Function):
    """silu(bias + sum_k w_k x_{t-(K-1-k)}) over (b, L, E): the causal depthwise
    conv as K shifted multiply-adds on the overlapping parts only (zero history
    contributes nothing), then silu; with a hand-written backward (autograd's
    would zero-fill a padded gradient per tap and copy the tap's slice into it)."""

    @staticmethod
    def forward(ctx, x_in: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
        length, taps = x_in.shape[1], weight.shape[1]
        pre = torch.addcmul(bias, x_in, weight[:, -1])
        for k in range(taps - 1):
            lag = taps - 1 - k
            if lag < length:
                pre[:, lag:].addcmul_(x_in[:, : length - lag], weight[:, k])
        ctx.save_for_backward(x_in, weight, pre)
        return F.silu(pre)

    @staticmethod
    def backward(ctx, du: torch.Tensor):
        x_in, weight, pre = ctx.saved_tensors
        length, taps = pre.shape[1], weight.shape[1]
        d_pre = torch.ops.aten.silu_backward(du, pre)
        d_x = d_w = d_bias = None
        if ctx.needs_input_grad[0]:
            d_x = d_pre * weight[:, -1]
            for k in range(taps - 1):
                lag = taps - 1 - k
                if lag < length:
                    d_x[:, : length - lag].addcmul_(d_pre[:, lag:], weight[:, k])
        if ctx.needs_input_grad[1]:
            d_w = weight.new_zeros(weight.shape)
            product = torch.empty_like(d_pre)
            for k in range(taps):
                lag = taps - 1 - k
                if lag < length:
                    part = torch.mul(d_pre[:, lag:], x_in[:, : length - lag], out=product[:, lag:])
                    torch.sum(part, (0, 1), out=d_w[:, k])
        if ctx.needs_input_grad[2]:
            d_bias = d_pre.sum((0, 1))
        return d_x, d_w, d_bias


class Mamba(Mixer):
    """Shared weights and plumbing; variants differ only in ``selective_scan``
    (mamba/scan also in ``causal_conv``; mamba/mamba-ssm runs forward, prefill
    and step in its kernels)."""

    fixed_state = True
    positional = "none beyond its recurrence (selective scan) and short causal convolution"

    modes = ("forward", "step (fixed-size state)", "prefill")
    #: FLOPs per (position, channel, state) of ``selective_scan`` in ``forward``
    scan_flops_per_state: ClassVar[int] = SCAN_FLOPS_PER_STATE

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
    ) -> None:
        super().__init__(d_model)
        check_positive("d_state", d_state)
        check_positive("d_conv", d_conv)
        check_positive("expand", expand)
        if dt_rank == "auto":
            dt_rank = math.ceil(d_model / 16)
        check_positive("dt_rank ('auto' or a positive integer)", dt_rank)
        if not 0 < dt_min <= dt_max:
            raise ValueError(
                f"dt_min and dt_max must satisfy 0 < dt_min <= dt_max, got {dt_min} and {dt_max}"
            )
        self.d_state, self.d_conv, self.expand, self.dt_rank = d_state, d_conv, expand, dt_rank
        self.d_inner = expand * d_model
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner)
        self.x_proj = nn.Linear(self.d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, self.d_inner)
        self._init_dt(dt_min, dt_max, dt_init_floor)
        # S4D-real: A = -(1, 2, ..., N) for every channel, stored as log(-A) so it stays negative
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    @torch.no_grad()
    def _init_dt(self, dt_min: float, dt_max: float, floor: float) -> None:
        """mamba's dt init: weights uniform in +-dt_rank^-1/2; the bias is chosen so
        that softplus(bias), the initial step size, is log-uniform in [dt_min, dt_max]."""
        bound = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -bound, bound)
        log_dt = torch.empty(self.d_inner).uniform_(math.log(dt_min), math.log(dt_max))
        self.dt_proj.bias.copy_(inverse_softplus(log_dt.exp().clamp(min=floor)))

    # -- the pieces every mode shares -----------------------------------------
    def project_in(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """in_proj's two halves, x_in and z, each computed into its own contiguous
        tensor: the elementwise work after runs slower on strided halves."""
        x_in, z = (F.linear(x, w) for w in self.in_proj.weight.chunk(2))
        return x_in, z

    def causal_conv(self, x_in: torch.Tensor) -> torch.Tensor:
        """silu(causal depthwise conv) over time, (b, L, E) -> (b, L, E), zero history."""
        return F.silu(causal_depthwise_conv(x_in, self.conv1d.weight.squeeze(1), self.conv1d.bias))

    def selective_params(self, u: torch.Tensor, acc: torch.dtype):
        """delta (..., E) and B, C (..., N) from u (..., E), in the accumulation dtype."""
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        # the bias joins in the accumulation dtype, as in mamba-ssm's kernel
        dt = F.linear(dt, self.dt_proj.weight).to(acc) + self.dt_proj.bias.to(acc)
        return F.softplus(dt), B.to(acc), C.to(acc)

    def decay_rates(self, acc: torch.dtype) -> torch.Tensor:
        """A = -exp(A_log): (E, N), negative, so every decay exp(delta A) is < 1."""
        return -torch.exp(self.A_log.to(acc))

    def gate_and_project(self, y: torch.Tensor, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """out_proj((y + D u) * silu(z)); y is in the accumulation dtype."""
        y = (y + u.to(y.dtype) * self.D.to(y.dtype)) * F.silu(z.to(y.dtype))
        return self.out_proj(y.to(z.dtype))

    def selective_scan(
        self,
        u: torch.Tensor,
        delta: torch.Tensor,
        A: torch.Tensor,
        B: torch.Tensor,
        C: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        """u, delta: (b, L, E); A: (E, N); B, C: (b, L, N), all in the accumulation
        dtype, from h = 0. Returns y (b, L, E) without the D skip and the final h."""
        raise NotImplementedError

    def check_sequence(self, x: torch.Tensor) -> None:
        self.check_input(x)
        if x.shape[1] == 0:
            raise ValueError("x must have at least one position (length >= 1), got length 0")

    def check_step(self, x_t: torch.Tensor, state: Any) -> None:
        self.check_token(x_t)
        if not isinstance(state, MambaState):
            raise ValueError(
                f"state must be a MambaState from init_state or prefill, got {type(state).__name__}"
            )

    def _mix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The whole sequence from an empty state: (output, conv input (b, L, E), final h)."""
        self.check_sequence(x)
        acc = accumulation_dtype(x.dtype)
        x_in, z = self.project_in(x)
        u = self.causal_conv(x_in)
        delta, B, C = self.selective_params(u, acc)
        y, h = self.selective_scan(u.to(acc), delta, self.decay_rates(acc), B, C)
        return self.gate_and_project(y, u, z), x_in, h

    # -- the contract -----------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(x)[0]

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, MambaState]:
        out, x_in, h = self._mix(x)
        # left zero padding stands for the empty history of prompts shorter than the conv
        conv_state = F.pad(x_in, (0, 0, self.d_conv - 1, 0))[:, x_in.shape[1] :]
        return out, MambaState(conv_state.transpose(1, 2), h)

    def init_state(self, batch: int, device=None, dtype=None) -> MambaState:
        dtype = dtype or self.in_proj.weight.dtype
        conv = torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype)
        ssm = torch.zeros(
            batch, self.d_inner, self.d_state, device=device, dtype=accumulation_dtype(dtype)
        )
        return MambaState(conv, ssm)

    def step(self, x_t: torch.Tensor, state: MambaState) -> tuple[torch.Tensor, MambaState]:
        self.check_step(x_t, state)
        acc = accumulation_dtype(x_t.dtype)
        x_in, z = self.project_in(x_t)
        window = torch.cat([state.conv, x_in.unsqueeze(-1)], dim=-1)
        conv = (window * self.conv1d.weight.squeeze(1)).sum(-1) + self.conv1d.bias
        u = F.silu(conv)
        delta, B, C = self.selective_params(u, acc)
        y, h = ssm_step(state.ssm, u.to(acc), delta, self.decay_rates(acc), B, C)
        return self.gate_and_project(y, u, z), MambaState(window[..., 1:], h)

    # -- analytic costs: useful work, as models/attention.py states it -----------
    def projection_flops(self, tokens: int) -> int:
        """in_proj, x_proj, dt_proj and out_proj."""
        e, n = self.d_inner, self.d_state
        return (
            matmul_flops(tokens, 2 * e, self.d_model)
            + matmul_flops(tokens, self.dt_rank + 2 * n, e)
            + matmul_flops(tokens, e, self.dt_rank)
            + matmul_flops(tokens, self.d_model, e)
        )

    def scan_flops(self, batch: int, seq_len: int) -> int:
        """The selective scan over the sequence, per position every state element."""
        return batch * seq_len * self.scan_flops_per_state * self.d_inner * self.d_state

    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:
        """Projections, the causal conv's taps (not those on its zero history) and
        the scan; silu, softplus, exp and the gate are elementwise, as softmax is
        for attention."""
        conv = 2 * batch * self.d_inner * causal_pairs(seq_len, self.d_conv)
        total = self.projection_flops(batch * seq_len) + conv + self.scan_flops(batch, seq_len)
        return train_flops(total) if backward else total

    def step_flops(self, batch: int, context_len: int) -> int:
        """One token at position ``context_len``; over positions 0..L-1 these add
        up to mamba/reference's ``flops``."""
        conv = 2 * batch * self.d_inner * min(context_len + 1, self.d_conv)
        scan = batch * SCAN_FLOPS_PER_STATE * self.d_inner * self.d_state
        return self.projection_flops(batch) + conv + scan


@register_mixer("mamba/reference", reference=True)
class ReferenceMamba(Mamba):
    """The selective scan as a plain loop over positions: the reference."""

    def selective_scan(self, u, delta, A, B, C):
        return sequential_selective_scan(u, delta, A, B, C)


@register_mixer("mamba/scan")
class ScanMamba(Mamba):
    """The chunked scan in plain torch with hand-written backwards (see
    ``ChunkedScan`` and ``CausalConvSiLU``); in_proj as one product."""

    accuracy_rank = 2

    #: the first pass (more than one chunk only) repeats the discretisation and
    #: the update (4 FLOPs) without C.h
    first_pass_flops_per_state: ClassVar[int] = 4
    #: per chunk and state element: the chunk's decay exp2(sum(delta) A) (a multiply)
    #: and the carry h <- decay h + local end (a multiply-add)
    carry_flops_per_state: ClassVar[int] = 3
    #: batch * d_inner * d_state from which one step over the whole batch is a
    #: big enough op that a single chunk (the plain recurrence, no first pass)
    #: beats chunking: the chunks' first pass doubles the work to cut op count
    single_chunk_slab: ClassVar[int] = 2**15

    def __init__(self, d_model: int, *, chunk_size: int | None = None, **config: Any) -> None:
        """``chunk_size`` None picks one chunk when a step over the batch is big
        enough (``single_chunk_slab``), else the power of two nearest sqrt(L)
        per call, which balances the loop over positions against the loop over chunks."""
        super().__init__(d_model, **config)
        if chunk_size is not None:
            check_positive("chunk_size", chunk_size)
        self.chunk_size = chunk_size

    def scan_chunk_size(self, batch: int, seq_len: int) -> int:
        """The chunk the scan runs with at this batch and length (at most seq_len)."""
        if self.chunk_size is not None:
            return min(self.chunk_size, seq_len)
        if batch * self.d_inner * self.d_state >= self.single_chunk_slab:
            return seq_len
        return min(2 ** round(math.log2(seq_len) / 2), seq_len)

    def scan_chunks(self, batch: int, seq_len: int) -> int:
        return -(-seq_len // self.scan_chunk_size(batch, seq_len))

    def project_in(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One product for both halves: half the backward's products; the conv
        copies x_in anyway and z is read once."""
        x_in, z = F.linear(x, self.in_proj.weight).chunk(2, dim=-1)
        return x_in, z

    def causal_conv(self, x_in: torch.Tensor) -> torch.Tensor:
        return CausalConvSiLU.apply(x_in, self.conv1d.weight.squeeze(1), self.conv1d.bias)

    def selective_params(self, u: torch.Tensor, acc: torch.dtype):
        """As the reference's; where u is already in the accumulation dtype the
        bias joins inside dt_proj's product (one pass fewer)."""
        if u.dtype != acc:
            return super().selective_params(u, acc)
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.softplus(F.linear(dt, self.dt_proj.weight, self.dt_proj.bias)), B, C

    def gate_and_project(self, y: torch.Tensor, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """As the reference's, the D skip as one multiply-add."""
        y = torch.addcmul(y, u.to(y.dtype), self.D.to(y.dtype)) * F.silu(z.to(y.dtype))
        return self.out_proj(y.to(z.dtype))

    def selective_scan(self, u, delta, A, B, C):
        chunk = self.scan_chunk_size(u.shape[0], u.shape[1])
        return chunked_selective_scan(u, delta, A, B, C, chunk)

    def scan_flops(self, batch: int, seq_len: int) -> int:
        """The recurrence and C.h at every position (the padding past the end is
        not counted); with more than one chunk also the first pass and one carry
        per chunk."""
        total = super().scan_flops(batch, seq_len)
        n_chunks = self.scan_chunks(batch, seq_len)
        if n_chunks > 1:
            per_state = self.first_pass_flops_per_state * seq_len
            per_state += self.carry_flops_per_state * n_chunks
            total += batch * per_state * self.d_inner * self.d_state
        return total


@register_mixer("mamba/fused")
class FusedMamba(ScanMamba):
    """mamba/scan's layers with the selective scan as one C loop on the CPU
    (models/mamba_fused.c, built at first use with the system's compiler):
    each position is one pass over a batch row's cached state instead of
    several torch ops over the whole batch's. CPU, scanning in float32."""

    #: after mamba/mamba-ssm (0), which runs on a GPU only
    accuracy_rank = 1

    def __init__(self, d_model: int, **config: Any) -> None:
        super().__init__(d_model, **config)
        # built here, once per process: never inside a timed call
        mamba_fused.library()

    @staticmethod
    def unavailable_reason() -> str | None:
        return mamba_fused.unavailable_reason()

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        return mamba_fused.run_problem(device, accumulation_dtype(dtype))

    def selective_scan(self, u, delta, A, B, C):
        return mamba_fused.fused_selective_scan(u, delta, A, B, C)

    def scan_flops(self, batch: int, seq_len: int) -> int:
        """The recurrence and C.h at every position: no chunks, no first pass."""
        return Mamba.scan_flops(self, batch, seq_len)


@register_mixer("mamba/mamba-ssm")
class MambaSSM(Mamba):
    """mamba-ssm at its best, as its own Mamba block runs: ``mamba_inner_fn``
    for forward and training (the conv, x_proj, dt_proj, the scan with its
    softplus, Δ bias, D and z gate, and out_proj in its kernels, on the
    (b, E, L) layout they take); prefill through ``causal_conv1d_fn`` and
    ``selective_scan_fn``, which hand back the states; decode through
    ``causal_conv1d_update`` and the Triton ``selective_state_update``, which
    update the state in place. CUDA in fp32/fp16/bf16, the SSM state in fp32."""

    #: mamba-ssm's kernels where a user has built them; mamba/fused (1) elsewhere
    accuracy_rank = 0

    @staticmethod
    def unavailable_reason() -> str | None:
        return cuda_package_reason(
            "mamba_ssm", "selective_scan_cuda", MAMBA_SSM_BUILD
        ) or cuda_package_reason("causal_conv1d", "causal_conv1d_cuda", CAUSAL_CONV1D_BUILD)

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        # selective_scan.cpp:235: u in float, half or bfloat16
        dtypes = (torch.float32, torch.float16, torch.bfloat16)
        return cuda_run_problem("mamba-ssm", device, dtype, dtypes)

    @classmethod
    def shape_problem(
        cls, d_model: int, d_state: int = 16, d_conv: int = 4, **config: Any
    ) -> str | None:
        """Why the variant cannot run with these knobs although it can be built
        (the kernels' limits on the conv width and the state size), or None."""
        if d_conv not in CAUSAL_CONV1D_WIDTHS:
            return f"d_conv {d_conv} is not one of causal-conv1d's widths 2 to 4"
        if d_state > MAX_SCAN_STATE:
            return f"d_state {d_state} > {MAX_SCAN_STATE} (mamba-ssm's selective scan limit)"
        return None

    def xz(self, x: torch.Tensor) -> torch.Tensor:
        """in_proj's product laid out (b, 2E, L), L contiguous, as the kernels
        take it: one (2E, d) @ (d, bL) product, viewed (mamba-ssm's own layout)."""
        b, length, _ = x.shape
        product = self.in_proj.weight @ x.reshape(b * length, self.d_model).T
        return product.view(2 * self.d_inner, b, length).transpose(0, 1)

    def kernel_params(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A (E, N), D and the Δ bias in fp32, as the kernels take them
        (selective_scan.cpp:236, 282, 290)."""
        return -torch.exp(self.A_log.float()), self.D.float(), self.dt_proj.bias.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from mamba_ssm.ops.selective_scan_interface import mamba_inner_fn

        self.check_sequence(x)
        A, D, dt_bias = self.kernel_params()
        return mamba_inner_fn(
            self.xz(x),
            self.conv1d.weight,
            self.conv1d.bias,
            self.x_proj.weight,
            self.dt_proj.weight,
            self.out_proj.weight,
            self.out_proj.bias,
            A,
            None,  # B and C from x_proj, per position
            None,
            D,
            delta_bias=dt_bias,
            delta_softplus=True,
        )

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, MambaState]:
        from causal_conv1d import causal_conv1d_fn
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

        self.check_sequence(x)
        x_in, z = self.xz(x).chunk(2, dim=1)
        u = causal_conv1d_fn(
            x_in, self.conv1d.weight.squeeze(1), self.conv1d.bias, activation="silu"
        )
        # x_proj and dt_proj as products on the left: dt, B and C come out
        # (b, ., L) with L contiguous, as the scan takes them, with no copy
        r, n = self.dt_rank, self.d_state
        dt_low, B, C = (self.x_proj.weight @ u).split([r, n, n], dim=1)
        A, D, dt_bias = self.kernel_params()
        y, h = selective_scan_fn(
            u,
            self.dt_proj.weight @ dt_low,
            A,
            B,
            C,
            D,
            z=z,
            delta_bias=dt_bias,
            delta_softplus=True,
            return_last_state=True,
        )
        return self.out_proj(y.transpose(1, 2)), MambaState(self.conv_tail(x_in), h)

    def conv_tail(self, x_in: torch.Tensor) -> torch.Tensor:
        """The conv's last d_conv - 1 inputs of (b, E, L), oldest first, zeros
        standing for the empty history of prompts shorter than that."""
        keep = self.d_conv - 1
        tail = x_in[..., max(x_in.shape[-1] - keep, 0) :]
        return F.pad(tail, (keep - tail.shape[-1], 0)).contiguous()

    def step(self, x_t: torch.Tensor, state: MambaState) -> tuple[torch.Tensor, MambaState]:
        from causal_conv1d import causal_conv1d_update
        from mamba_ssm.ops.triton.selective_state_update import selective_state_update

        self.check_step(x_t, state)
        x_in, z = self.in_proj(x_t).chunk(2, dim=-1)
        weight = self.conv1d.weight.squeeze(1)
        u = causal_conv1d_update(x_in, state.conv, weight, self.conv1d.bias, activation="silu")
        dt_low, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        A, D, dt_bias = self.kernel_params()
        y = selective_state_update(
            state.ssm,
            u,
            F.linear(dt_low, self.dt_proj.weight),
            A,
            B,
            C,
            D,
            z=z,
            dt_bias=dt_bias,
            dt_softplus=True,
        )
        return self.out_proj(y), state

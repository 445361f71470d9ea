"""Mamba-2's SSD layer (Dao & Gu 2024, "Transformers are SSMs"), with
mamba-ssm's ``Mamba2`` parameter layout (its names and shapes load as they are).

    x -> in_proj -> (z, xBC, dt)
    xBC = silu(causal depthwise conv1d(xBC));  (x, B, C) = split(xBC)
    dt = softplus(dt + dt_bias);  A = -exp(A_log)          (one scalar decay per head)
    h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T              (per head: headdim x d_state)
    y_t = h_t C_t + D x_t                                   (B, C shared by the heads of a group)
    out = out_proj(rms_norm(y * silu(z)) * weight)         (the norm per group of channels)

The scan over time (SSD) has mamba-ssm's ``mamba_chunk_scan_combined``
signature in every variant, so that each can stand in for the others and be
checked against them: ``ssd_scan_ref`` runs the recurrence token by token
(mamba2/ref), ``ssd_chunked`` the chunked algorithm in plain torch
(mamba2/chunked: inside each chunk the quadratic masked form, a few large
batched products; across chunks the state, carried once per chunk),
mamba2/mamba-ssm calls mamba-ssm's Triton kernel where its compiled package
imports, and mamba2/fla (models/mamba2_fla.py) fla's ``chunk_simple_gla``.
Decoding keeps a fixed-size state: the conv's last ``d_conv - 1`` inputs and h.
"""

from __future__ import annotations

import functools
import importlib.util
import math
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
    cuda_package_reason,
    matmul_flops,
    train_flops,
)
from .mamba import CausalConvSiLU, inverse_softplus
from .registry import register_mixer

#: mamba-ssm's Mamba2 default headdim: the default's upper bound here
MAMBA_SSM_HEADDIM = 64

#: FLOPs per (position, head, headdim, state) of the recurrence: the decayed
#: carry (a multiply-add), dt x B^T (a multiply; dt x is per channel) and the
#: read-out h C (a multiply-add)
RECURRENCE_FLOPS_PER_STATE = 5


def discretised_dt(dt: torch.Tensor, dt_bias, dt_softplus: bool) -> torch.Tensor:
    """dt (+ dt_bias) (through softplus) in the accumulation dtype, as
    mamba-ssm computes it before its cumulative sums."""
    dt = dt.to(accumulation_dtype(dt.dtype))
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    return F.softplus(dt) if dt_softplus else dt


def heads_of_groups(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(..., groups, n) -> (..., heads, n): each group's B or C for each of its heads."""
    return t.repeat_interleave(n_heads // t.shape[-2], dim=-2)


def skip_and_gate(y: torch.Tensor, x: torch.Tensor, D, z) -> torch.Tensor:
    """y + D x, times silu(z) where z is given, in x's dtype (mamba-ssm's output)."""
    if D is not None:
        y = y + x.to(y.dtype) * (D if D.dim() == 2 else D[:, None]).to(y.dtype)
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(x.dtype)


def ssd_step(
    state: torch.Tensor,
    x_t: torch.Tensor,
    dt_t: torch.Tensor,
    A: torch.Tensor,
    B_t: torch.Tensor,
    C_t: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One position of the recurrence, every head: state (b, h, p, n), x_t
    (b, h, p), dt_t (b, h) discretised, A (h,), B_t and C_t (b, h, n). Returns
    the new state and y_t = state C_t (b, h, p), without the D skip."""
    decay = torch.exp(dt_t * A)[..., None, None]
    state = torch.addcmul((dt_t[..., None] * x_t)[..., None] * B_t[:, :, None, :], decay, state)
    return state, (state @ C_t[..., None]).squeeze(-1)


def ssd_scan_ref(
    x,
    dt,
    A,
    B,
    C,
    chunk_size,
    D=None,
    z=None,
    dt_bias=None,
    dt_softplus=False,
    initial_states=None,
    return_final_states=False,
):
    """The SSD scan as its recurrence, one position at a time, with
    ``mamba_chunk_scan_combined``'s signature and shapes: x (b, l, h, p), dt
    (b, l, h), A (h,), B and C (b, l, g, n), D (h,) or (h, p), z (b, l, h, p),
    dt_bias (h,), initial_states (b, h, p, n). Returns y (b, l, h, p) in x's
    dtype and, with ``return_final_states``, the state after the last position
    (b, h, p, n) in the accumulation dtype. ``chunk_size`` is taken for the
    signature's sake: the recurrence has no chunks."""
    b, length, h, p = x.shape
    acc = accumulation_dtype(x.dtype)
    dt = discretised_dt(dt, dt_bias, dt_softplus)
    A = A.to(acc)
    Bh, Ch = heads_of_groups(B.to(acc), h), heads_of_groups(C.to(acc), h)
    xa = x.to(acc)
    state = x.new_zeros(b, h, p, B.shape[-1], dtype=acc)
    if initial_states is not None:
        state = initial_states.to(acc)
    ys = []
    for t in range(length):
        state, y_t = ssd_step(state, xa[:, t], dt[:, t], A, Bh[:, t], Ch[:, t])
        ys.append(y_t)
    y = skip_and_gate(torch.stack(ys, dim=1), x, D, z)
    return (y, state) if return_final_states else y


#: the least exponent the chunked form passes to exp: exp(-80) ~ 1.8e-35 is
#: still a normal float32 (those end near exp(-87.3)), while exp of anything
#: lower yields subnormals or 0, which x86 computes ~10-30x slower; strong
#: decays put most of a long chunk's lower triangle there. The weight it
#: stands for is ~1e-35 of an input, under any output's rounding.
EXP_FLOOR = -80.0


@functools.lru_cache(maxsize=32)
def causal_masks(Q: int, device: torch.device, dtype: torch.dtype):
    """(Q, Q) in ``dtype``: 0 on and below the diagonal and -inf above (added to
    exponents), and 1 on and below, 0 above (a multiplier); cached because a
    training run asks for the same chunk's masks at every step and layer."""
    below = torch.ones(Q, Q, dtype=torch.bool, device=device).tril()
    exponent = torch.zeros(Q, Q, dtype=dtype, device=device).masked_fill_(~below, -math.inf)
    return exponent, below.to(dtype)


def floored_exp(t: torch.Tensor) -> torch.Tensor:
    """exp(max(t, EXP_FLOOR)): no subnormal results (see EXP_FLOOR)."""
    return t.clamp_min(EXP_FLOOR).exp()


def segment_decays(acs: torch.Tensor) -> torch.Tensor:
    """(..., Q) cumulative sums of dt A inside a chunk -> (..., Q, Q): exp(acs_i -
    acs_j) on and below the diagonal (the decay from position j to i), above it
    exp(EXP_FLOOR), never a large positive exponent (callers zero it through
    ``causal_masks``' multiplier: exp of -inf is slow too). Four passes, in place."""
    exponent = causal_masks(acs.shape[-1], acs.device, acs.dtype)[0]
    diff = acs[..., :, None] - acs[..., None, :]
    return diff.add_(exponent).clamp_min_(EXP_FLOOR).exp_()


class IntraChunk(torch.autograd.Function):
    """Inside each chunk, per head: Y = (CB * seg) (dt x), with seg =
    ``segment_decays(acs)``. Arguments CB (b, c, g, Q, Q) with zeros above the
    diagonal, acs (b, c, g, hg, Q) and X^T (b, c, g, hg, p, Q); returns Y^T like
    X^T. Position last: the small per-head products are 2-4x faster that way
    round on a CPU (p is as small as 4 in the accuracy grid's models).

    Its own backward, because autograd's for the masked form spends ~10 passes
    over (b, c, h, Q, Q) and the graph's temporaries; with M = CB * seg:
    dX^T = dY^T M, dM = dY X^T, dCB = sum over a group's heads of dM * seg,
    dacs_i = sum_j (dM * M)_ij - sum_j (dM * M)_ji (exp's derivative is itself)."""

    @staticmethod
    def forward(ctx, CB, acs, XT):
        seg = segment_decays(acs)
        M = seg * CB.unsqueeze(3)
        ctx.save_for_backward(CB, XT, seg, M)
        return XT @ M.mT

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dYT):
        CB, XT, seg, M = ctx.saved_tensors
        # under autocast the forward's product came out in the autocast dtype, while
        # the backward runs outside autocast: back to the saved tensors' dtype.
        # Contiguous: a strided one takes bmm's slow path
        dYT = dYT.to(M.dtype).contiguous()
        dXT = dYT @ M
        dM_seg = (dYT.mT @ XT).mul_(seg)
        dCB = dM_seg.sum(3)
        dM_M = dM_seg.mul_(CB.unsqueeze(3))
        return dCB, dM_M.sum(-1) - dM_M.sum(-2), dXT


def intra_chunk(CB: torch.Tensor, acs: torch.Tensor, XT: torch.Tensor) -> torch.Tensor:
    """``IntraChunk`` where a gradient is wanted, else the same product in place."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (CB, acs, XT)):
        return IntraChunk.apply(CB, acs, XT)
    return XT @ segment_decays(acs).mul_(CB.unsqueeze(3)).mT


def ssd_chunked(
    x,
    dt,
    A,
    B,
    C,
    chunk_size,
    D=None,
    z=None,
    dt_bias=None,
    dt_softplus=False,
    initial_states=None,
    return_final_states=False,
):
    """``ssd_scan_ref``'s result by the SSD chunked algorithm, in batched
    products. With acs the cumulative sum of dt A inside a chunk of Q
    positions, per head:

        y     = (C B^T * exp(acs_i - acs_j), j <= i) (dt x)  +  exp(acs) C S_c
        S_c+1 = exp(acs_Q) S_c + B^T (exp(acs_Q - acs) dt x)

    The first term is ``IntraChunk`` (C B^T once per group, shared by its
    heads). The states S are carried in one pass over the chunks, kept (heads x p,
    n) per group so that the products that read and write them are one
    large matmul per group; they are skipped where nothing reads them (one
    chunk, no initial state, no final state asked for: the accuracy grid's
    sequences). Every exponent is <= 0 where it counts and >= EXP_FLOOR:
    nothing overflows however strong the decay. The sequence is padded behind
    to whole chunks with dt = 0 (decay 1, no input), which leaves the state
    unchanged."""
    b, length, h, p = x.shape
    g, n = B.shape[-2:]
    hg = h // g
    acc = accumulation_dtype(x.dtype)
    dt = discretised_dt(dt, dt_bias, dt_softplus)
    Q = min(chunk_size, length)
    pad = -length % Q
    c = (length + pad) // Q
    xs, a = x.to(acc) * dt[..., None], dt * A.to(acc)
    Bc, Cc = B.to(acc), C.to(acc)
    if pad:
        xs, Bc, Cc = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (xs, Bc, Cc))
        a = F.pad(a, (0, 0, 0, pad))
    acs = a.view(b, c, Q, g, hg).permute(0, 1, 3, 4, 2).cumsum(-1)  # (b, c, g, hg, Q)
    Bc, Cc = (t.view(b, c, Q, g, n).transpose(2, 3) for t in (Bc, Cc))  # (b, c, g, Q, n)
    CB = (Cc @ Bc.mT) * causal_masks(Q, x.device, acc)[1]
    X = xs.view(b, c, Q, g, hg, p)
    # chunks that start from a state: all, or all but the first (from zero)
    first = 0 if initial_states is not None else 1
    if c > first or return_final_states:
        starts, state = chunk_states(X, acs, Bc, initial_states, return_final_states)
    wants_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (x, dt, A, B, C, D, z, dt_bias, initial_states) if t is not None
    )
    if wants_grad or p < POSITION_MAJOR_HEADDIM:
        y = chunk_outputs_position_last(CB, acs, X, Cc, starts if c > first else None, first)
        y = skip_and_gate(y.reshape(b, c * Q, h, p)[:, :length], x, D, z)
    else:
        y = chunk_outputs_in_place(CB, acs, X, Cc, starts if c > first else None, first)
        y = y.view(b, c * Q, h, p)[:, :length]
        if D is not None:  # D x in place: the skip_and_gate below adds none
            y.addcmul_(x.to(acc), (D if D.dim() == 2 else D[:, None]).to(acc))
        y = skip_and_gate(y, x, None, z)
    if not return_final_states:
        return y
    return y, state.reshape(b, h, p, n)


#: the least headdim at which ``chunk_outputs_in_place`` multiplies with positions
#: in rows: at L 8K, d_model 512 (16 heads of 64, chunks of 128) 2x faster than
#: positions last, and 1.6x at headdim 16, but 1.2x slower at 8
POSITION_MAJOR_HEADDIM = 16


def chunk_outputs_position_last(CB, acs, X, Cc, starts, first: int):
    """Every chunk's outputs, (b, c, Q, g, hg, p), through ``IntraChunk`` (its
    products with positions last) plus exp(acs) C S read from the state before
    each chunk from ``first`` on (starts (b, c, g, hg, p, n); None: no chunk
    reads one). X (b, c, Q, g, hg, p) is dt x, Cc (b, c, g, Q, n)."""
    XT = X.permute(0, 1, 3, 4, 5, 2).contiguous()  # (b, c, g, hg, p, Q)
    yT = intra_chunk(CB, acs, XT)
    if starts is not None:
        b, c, g, hg, p, n = starts[:, first:].shape
        flat = starts[:, first:].reshape(b, c, g, hg * p, n)
        read = (flat @ Cc[:, first:].mT).view(b, c, g, hg, p, -1)
        from_start = floored_exp(acs[:, first:])[..., None, :]  # (b, c - first, g, hg, 1, Q)
        yT = torch.cat([yT[:, :first], torch.addcmul(yT[:, first:], read, from_start)], dim=1)
    return yT.permute(0, 1, 5, 2, 3, 4)


#: the most bytes of (Q, Q) decays ``chunk_outputs_in_place`` makes at a time:
#: a few chunks' worth that stays in cache through its five passes and the
#: product, where a block's worth (tens of MiB) went to memory and back each pass
CACHED_DECAY_BYTES = 2**20


def chunk_outputs_in_place(CB, acs, X, Cc, starts, first: int):
    """``chunk_outputs_position_last``'s result, contiguous, where no gradient is
    wanted: a few chunks at a time (``CACHED_DECAY_BYTES``), positions in rows (X
    is read where it lies, the output copied once into position-major order),
    the state's read-out added in place."""
    b, c, Q, g, hg, p = X.shape
    y = X.new_empty(b, c, Q, g, hg, p)
    step = max(1, CACHED_DECAY_BYTES // (b * g * hg * Q * Q * X.element_size()))
    for k in range(0, c, step):
        M = segment_decays(acs[:, k : k + step]).mul_(CB[:, k : k + step].unsqueeze(3))
        y[:, k : k + step] = (M @ X[:, k : k + step].permute(0, 1, 3, 4, 2, 5)).permute(
            0, 1, 4, 2, 3, 5
        )
    if starts is not None:
        n = starts.shape[-1]
        flat = starts[:, first:].reshape(b, c - first, g, hg * p, n)
        read = (Cc[:, first:] @ flat.mT).view(b, c - first, g, Q, hg, p).transpose(2, 3)
        from_start = floored_exp(acs[:, first:]).permute(0, 1, 4, 2, 3)[..., None]
        y[:, first:].addcmul_(read, from_start)  # from_start (b, c - first, Q, g, hg, 1)
    return y


def chunk_states(X, acs, Bc, initial_states, final: bool):
    """The state before each chunk, (b, c, g, hg, p, n), and after the last
    (b, g, hg, p, n; None unless ``final``: the last chunk's own contribution
    is then left out), by one sequential pass over the chunks (each chunk's
    own contribution from zero is one batched product first). X (b, c, Q, g,
    hg, p) is dt x, acs (b, c, g, hg, Q), Bc (b, c, g, Q, n)."""
    if not final:
        X, acs, Bc = X[:, :-1], acs[:, :-1], Bc[:, :-1]
    b, c, Q, g, hg, p = X.shape
    n = Bc.shape[-1]
    to_end = floored_exp(acs[..., -1:] - acs).permute(0, 1, 4, 2, 3)[..., None]
    scaled = (X * to_end).transpose(2, 3).reshape(b, c, g, Q, hg * p)  # (b, c, g, Q, hg p)
    local = (scaled.mT @ Bc).view(b, c, g, hg, p, n)
    chunk_decay = floored_exp(acs[..., -1])[..., None, None]  # (b, c, g, hg, 1, 1)
    state = X.new_zeros(b, g, hg, p, n)
    if initial_states is not None:
        state = initial_states.to(X.dtype).view(b, g, hg, p, n)
    starts = []
    # unbind, not local[:, k]: autograd's backward of each index would zero a
    # tensor of the whole of ``local``, c times over (a term in (L/C)^2)
    for local_k, decay_k in zip(local.unbind(1), chunk_decay.unbind(1), strict=True):
        starts.append(state)
        state = torch.addcmul(local_k, decay_k, state)
    if not final:
        return torch.stack([*starts, state], dim=1), None
    return torch.stack(starts, dim=1), state


#: the most bytes one tensor of mamba2/chunked's layer takes (``block_length``):
#: glibc's malloc serves larger blocks from fresh mmap'd pages at every call
#: (its dynamic mmap threshold stops at 32 MiB on 64-bit), and faulting those
#: in took a third of the forward's time at L 8K, d_model 512 (0.97 s against
#: 0.63 s with mmap off): the one term that grew faster than L
BLOCK_BYTES = 32 * 2**20


@dataclass
class Mamba2State:
    """What decoding carries from one token to the next; its size does not grow."""

    #: (batch, conv_dim, d_conv - 1): the conv's last inputs (x, B, C), oldest first
    conv: torch.Tensor
    #: (batch, heads, headdim, d_state): the SSM state h, in the accumulation dtype
    ssm: torch.Tensor


class GatedRMSNorm(nn.Module):
    """mamba-ssm's ``RMSNormGated`` with norm_before_gate=False: rms_norm(y *
    silu(z)) per group of ``group_size`` channels, times a learned weight."""

    def __init__(self, dim: int, group_size: int, eps: float) -> None:
        super().__init__()
        self.group_size, self.eps = group_size, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        gated = (y * F.silu(z.to(y.dtype))).unflatten(-1, (-1, self.group_size))
        normed = F.rms_norm(gated, (self.group_size,), eps=self.eps).flatten(-2)
        return normed * self.weight.to(normed.dtype)

    def forward_in_place(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``forward``'s result in y's memory, z overwritten too: for callers whose
        y and z are temporaries and that want no gradient (rms_norm's composite
        takes five passes and three new tensors; this takes none)."""
        gated = y.mul_(F.silu(z.to(y.dtype), inplace=True)).unflatten(-1, (-1, self.group_size))
        norm = torch.linalg.vector_norm(gated, dim=-1, keepdim=True)
        gated.mul_(norm.square_().div_(self.group_size).add_(self.eps).rsqrt_())
        return gated.mul_(self.weight.to(gated.dtype).view(-1, self.group_size)).flatten(-2)


class Mamba2(Mixer):
    """Shared weights and plumbing; variants differ in ``scan`` (a function with
    ``mamba_chunk_scan_combined``'s signature) and the conv's implementation."""

    fixed_state = True
    positional = "none beyond its recurrence (SSD scan) and short causal convolution"

    modes = ("forward", "step (fixed-size state)", "prefill")

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int | None = None,
        ngroups: int = 1,
        chunk_size: int = 64,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        norm_eps: float = 1e-5,
    ) -> None:
        """``headdim`` None takes the largest divisor of d_inner up to 64
        (mamba-ssm's default headdim) that leaves a whole number of heads per
        group, so that every d_model builds (d_inner 108: 2 heads of 54, not
        the 27 heads of 4 that gcd(64, d_inner) would give: each head costs
        the chunked form a (Q, Q) decay matrix)."""
        super().__init__(d_model)
        for name, value in (
            ("d_state", d_state),
            ("d_conv", d_conv),
            ("expand", expand),
            ("ngroups", ngroups),
            ("chunk_size", chunk_size),
        ):
            check_positive(name, value)
        self.d_inner = expand * d_model
        if headdim is None:
            fits = (d for d in range(1, MAMBA_SSM_HEADDIM + 1) if self.d_inner % (d * ngroups) == 0)
            headdim = max(fits, default=1)
        check_positive("headdim", headdim)
        check_divisible("d_inner (expand * d_model)", self.d_inner, "headdim", headdim)
        self.n_heads = self.d_inner // headdim
        check_divisible("heads (expand * d_model / headdim)", self.n_heads, "ngroups", ngroups)
        if not 0 < dt_min <= dt_max:
            raise ValueError(
                f"dt_min and dt_max must satisfy 0 < dt_min <= dt_max, got {dt_min} and {dt_max}"
            )
        self.d_state, self.d_conv, self.expand = d_state, d_conv, expand
        self.headdim, self.ngroups, self.chunk_size = headdim, ngroups, chunk_size
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + self.n_heads, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim)
        self.dt_bias = nn.Parameter(torch.empty(self.n_heads))
        # A uniform in [1, 16] per head (mamba-ssm's A_init_range), stored as log(-A)
        self.A_log = nn.Parameter(torch.empty(self.n_heads).uniform_(1, 16).log())
        self.D = nn.Parameter(torch.ones(self.n_heads))
        self.norm = GatedRMSNorm(self.d_inner, self.d_inner // ngroups, norm_eps)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        self._init_dt(dt_min, dt_max, dt_init_floor)

    @torch.no_grad()
    def _init_dt(self, dt_min: float, dt_max: float, floor: float) -> None:
        """mamba-ssm's: softplus(dt_bias), the initial step, log-uniform in [dt_min, dt_max]."""
        log_dt = torch.empty(self.n_heads).uniform_(math.log(dt_min), math.log(dt_max))
        self.dt_bias.copy_(inverse_softplus(log_dt.exp().clamp(min=floor)))

    #: the SSD scan, ``mamba_chunk_scan_combined``'s signature
    scan: ClassVar = staticmethod(ssd_scan_ref)

    # -- the pieces every mode shares -----------------------------------------
    def split_in(self, zxbcdt: torch.Tensor):
        return zxbcdt.split([self.d_inner, self.conv_dim, self.n_heads], dim=-1)

    def split_conv(self, xBC: torch.Tensor):
        """(..., conv_dim) -> x (..., heads, headdim), B and C (..., groups, d_state)."""
        gn = self.ngroups * self.d_state
        x, B, C = xBC.split([self.d_inner, gn, gn], dim=-1)
        groups = (self.ngroups, self.d_state)
        return (
            x.unflatten(-1, (self.n_heads, self.headdim)),
            B.unflatten(-1, groups),
            C.unflatten(-1, groups),
        )

    def causal_conv(self, xBC: torch.Tensor) -> torch.Tensor:
        """silu(causal depthwise conv) over time, (b, L, conv_dim), zero history."""
        padded = F.pad(xBC.transpose(1, 2), (self.d_conv - 1, 0))
        out = F.conv1d(padded, self.conv1d.weight, self.conv1d.bias, groups=self.conv_dim)
        return F.silu(out).transpose(1, 2)

    def decay_rates(self, dtype: torch.dtype) -> torch.Tensor:
        """A = -exp(A_log), (heads,): negative, so every decay exp(dt A) is < 1."""
        return -torch.exp(self.A_log.to(accumulation_dtype(dtype)))

    def finish(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Gated RMS norm of y (..., heads, headdim) and the output projection; y
        and z are the caller's temporaries, overwritten where no gradient is wanted."""
        y = y.flatten(-2).to(accumulation_dtype(z.dtype))
        in_place = not torch.is_grad_enabled() or not any(
            t.requires_grad for t in (y, z, self.norm.weight)
        )
        out = self.norm.forward_in_place(y, z) if in_place else self.norm(y, z)
        return self.out_proj(out.to(z.dtype))

    def _mix(self, x: torch.Tensor, final_state: bool):
        """The whole sequence from an empty history: the output, and the state
        after it where ``final_state`` asks for it (else None: the chunked scan
        then skips the state pass that a lone chunk does not need)."""
        self.check_input(x)
        if x.shape[1] == 0:
            raise ValueError("x must have at least one position (length >= 1), got length 0")
        return self._mix_block(x, None, final_state)

    def _mix_block(self, x: torch.Tensor, state: Mamba2State | None, final_state: bool):
        """``_mix`` of positions that follow ``state`` (None: an empty history)."""
        z, xBC_in, dt = self.split_in(self.in_proj(x))
        conv_in = xBC_in
        if state is not None:  # the conv reads the last d_conv - 1 inputs before x
            conv_in = torch.cat([state.conv.transpose(1, 2).to(xBC_in.dtype), xBC_in], dim=1)
        xBC = self.causal_conv(conv_in)[:, conv_in.shape[1] - x.shape[1] :]
        xs, B, C = self.split_conv(xBC)
        scanned = self.scan(
            xs,
            dt,
            self.decay_rates(x.dtype),
            B,
            C,
            self.chunk_size,
            D=self.D,
            dt_bias=self.dt_bias,
            dt_softplus=True,
            initial_states=None if state is None else state.ssm,
            return_final_states=final_state,
        )
        y, h = scanned if final_state else (scanned, None)
        out = self.finish(y, z)
        if not final_state:
            return out, None
        # left zero padding stands for the empty history of prompts shorter than the conv;
        # contiguous, as causal_conv1d_update wants the state it updates in place
        keep = self.d_conv - 1
        tail = conv_in[:, max(0, conv_in.shape[1] - keep) :]
        conv = F.pad(tail, (0, 0, keep - tail.shape[1], 0))
        return out, Mamba2State(conv.transpose(1, 2).contiguous(), h)

    # -- the contract -----------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(x, final_state=False)[0]

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, Mamba2State]:
        return self._mix(x, final_state=True)

    def init_state(self, batch: int, device=None, dtype=None) -> Mamba2State:
        dtype = dtype or self.in_proj.weight.dtype
        conv = torch.zeros(batch, self.conv_dim, self.d_conv - 1, device=device, dtype=dtype)
        shape = (batch, self.n_heads, self.headdim, self.d_state)
        ssm = torch.zeros(shape, device=device, dtype=accumulation_dtype(dtype))
        return Mamba2State(conv, ssm)

    def ssm_step(self, state: torch.Tensor, x_t, dt_t, A, B_t, C_t):
        """One token of the scan: state (b, h, p, n); x_t (b, h, p); dt_t (b, h)
        discretised; B_t, C_t (b, g, n). Returns the new state and y_t without D."""
        acc = state.dtype
        return ssd_step(
            state,
            x_t.to(acc),
            dt_t,
            A,
            heads_of_groups(B_t.to(acc), self.n_heads),
            heads_of_groups(C_t.to(acc), self.n_heads),
        )

    def check_step(self, x_t: torch.Tensor, state) -> None:
        self.check_token(x_t)
        if not isinstance(state, Mamba2State):
            raise ValueError(
                "state must be a Mamba2State from init_state or prefill, got "
                f"{type(state).__name__}"
            )

    def step(self, x_t: torch.Tensor, state: Mamba2State) -> tuple[torch.Tensor, Mamba2State]:
        self.check_step(x_t, state)
        z, xBC_in, dt = self.split_in(self.in_proj(x_t))
        xBC, conv = self.conv_step(xBC_in, state.conv)
        xs, B, C = self.split_conv(xBC)
        dt = discretised_dt(dt, self.dt_bias, dt_softplus=True)
        ssm, y = self.ssm_step(state.ssm, xs, dt, self.decay_rates(x_t.dtype), B, C)
        y = skip_and_gate(y, xs.to(y.dtype), self.D, None)
        return self.finish(y, z), Mamba2State(conv, ssm)

    def conv_step(self, xBC_t: torch.Tensor, conv: torch.Tensor):
        """One token of silu(causal conv): xBC_t (b, conv_dim) after the inputs in
        ``conv`` (b, conv_dim, d_conv - 1). Returns the output and the new inputs."""
        window = torch.cat([conv, xBC_t.unsqueeze(-1)], dim=-1)
        out = (window * self.conv1d.weight.squeeze(1)).sum(-1) + self.conv1d.bias
        return F.silu(out), window[..., 1:]

    # -- analytic costs: useful work, as models/attention.py states it -----------
    def projection_flops(self, tokens: int) -> int:
        in_features = self.in_proj.out_features
        return matmul_flops(tokens, in_features, self.d_model) + matmul_flops(
            tokens, self.d_model, self.d_inner
        )

    def state_elements(self, batch: int) -> int:
        return batch * self.n_heads * self.headdim * self.d_state

    def scan_flops(self, batch: int, seq_len: int) -> int:
        """The recurrence at every position (mamba2/ref's forward)."""
        return seq_len * RECURRENCE_FLOPS_PER_STATE * self.state_elements(batch)

    def conv_flops(self, batch: int, seq_len: int) -> int:
        """The conv's taps, not those on its zero history."""
        return 2 * batch * self.conv_dim * causal_pairs(seq_len, self.d_conv)

    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:
        """Projections, conv and scan; softplus, exp, silu and the norm are
        elementwise, as softmax is for attention."""
        total = self.projection_flops(batch * seq_len) + self.conv_flops(batch, seq_len)
        total += self.scan_flops(batch, seq_len)
        return train_flops(total) if backward else total

    def step_flops(self, batch: int, context_len: int) -> int:
        """One token at position ``context_len``; over positions 0..L-1 these add
        up to mamba2/ref's ``flops``."""
        conv = 2 * batch * self.conv_dim * min(context_len + 1, self.d_conv)
        scan = RECURRENCE_FLOPS_PER_STATE * self.state_elements(batch)
        return self.projection_flops(batch) + conv + scan


def chunked_scan_flops(mixer: Mamba2, batch: int, seq_len: int, chunk_size: int) -> int:
    """The chunked algorithm at ``chunk_size``. Per chunk: C B^T over the causal
    pairs once per group (2 d_state each), the masked scores times dt x per
    head (2 headdim per pair); per position and head the key into its chunk's
    state and the query against the state before its chunk (2 headdim d_state
    each); per chunk and head the decayed carry (a multiply-add per entry).
    The last chunk holds the L mod Q leftover; the padding is not counted."""
    chunk = min(chunk_size, seq_len)
    n_chunks = -(-seq_len // chunk)
    last = seq_len - (n_chunks - 1) * chunk
    pairs = (n_chunks - 1) * causal_pairs(chunk) + causal_pairs(last)
    h, p, n = mixer.n_heads, mixer.headdim, mixer.d_state
    scores = mixer.ngroups * pairs * 2 * n + h * pairs * 2 * p
    states = seq_len * h * 2 * matmul_flops(1, p, n) + n_chunks * 2 * h * p * n
    return batch * (scores + states)


@register_mixer("mamba2/ref", reference=True)
class ReferenceMamba2(Mamba2):
    """The SSD scan as a plain loop over positions (``ssd_scan_ref``): the reference."""


@register_mixer("mamba2/chunked")
class ChunkedMamba2(Mamba2):
    """The SSD chunked algorithm in torch (``ssd_chunked``), chunks of
    ``chunk_size``; the conv with its own backward (mamba's ``CausalConvSiLU``)."""

    #: after mamba2/fla where that runs (a GPU), first on a CPU
    accuracy_rank = 1
    scan: ClassVar = staticmethod(ssd_chunked)

    def block_length(self, length: int, batch: int, dtype: torch.dtype) -> int:
        """Positions per block of ``_mix``: whole chunks, in as few even blocks
        as keep the largest tensor of a block (the input projection's output,
        or the per-head (Q, Q) decays in the accumulation dtype) within
        BLOCK_BYTES (even, so that the time per position does not depend on
        where L falls between two counts of blocks)."""
        acc_bytes = torch.finfo(accumulation_dtype(dtype)).bits // 8
        per_position = batch * max(
            self.in_proj.out_features * torch.finfo(dtype).bits // 8,
            self.n_heads * self.chunk_size * acc_bytes,
        )
        chunks = max(1, -(-length // self.chunk_size))
        most = max(1, BLOCK_BYTES // per_position // self.chunk_size)
        blocks = -(-chunks // most)
        return -(-chunks // blocks) * self.chunk_size

    def _mix(self, x: torch.Tensor, final_state: bool):
        """Block after block of ``block_length`` positions, each carrying the
        state to the next (the layer's own prefill-then-continue): the same
        result, with no tensor larger than BLOCK_BYTES."""
        block = self.block_length(x.shape[1], x.shape[0], x.dtype)
        if x.shape[1] <= block:
            return super()._mix(x, final_state)
        self.check_input(x)
        outs, state = [], None
        for start in range(0, x.shape[1], block):
            last = start + block >= x.shape[1]
            out, state = self._mix_block(
                x[:, start : start + block], state, final_state or not last
            )
            outs.append(out)
        return torch.cat(outs, dim=1), state

    def causal_conv(self, xBC: torch.Tensor) -> torch.Tensor:
        return CausalConvSiLU.apply(xBC, self.conv1d.weight.squeeze(1), self.conv1d.bias)

    def scan_flops(self, batch: int, seq_len: int) -> int:
        return chunked_scan_flops(self, batch, seq_len, self.chunk_size)


#: how to get mamba-ssm's compiled extension (a default install leaves it out)
MAMBA_SSM_BUILD = (
    "pip install mamba-ssm --no-build-isolation on a CUDA machine (MAMBA_FORCE_BUILD=TRUE)"
)


@functools.cache
def mamba_ssm_reason() -> str | None:
    """Why mamba-ssm's SSD kernel cannot run here, or None. Importing its module
    imports the package, whose ``__init__`` loads the compiled
    selective_scan_cuda: a source-only install fails here, not in a timed call."""
    return cuda_package_reason("mamba_ssm", "mamba_ssm.ops.triton.ssd_combined", MAMBA_SSM_BUILD)


def mamba_ssm_scan(x, dt, A, B, C, chunk_size, **kwargs):
    """mamba-ssm's ``mamba_chunk_scan_combined`` (imported where it runs)."""
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined

    return mamba_chunk_scan_combined(x, dt, A, B, C, chunk_size, **kwargs)


@register_mixer("mamba2/mamba-ssm")
class MambaSSM2(Mamba2):
    """mamba-ssm's Triton SSD kernels (``mamba_chunk_scan_combined``) and
    causal-conv1d's conv where that is installed too; decoding as mamba-ssm's
    Mamba2.step does (mamba_ssm/modules/mamba2.py:298-339 at state-spaces/mamba
    e9594ce): causal-conv1d's ``causal_conv1d_update`` where installed, and
    mamba-ssm's Triton ``selective_state_update``; both update the state's
    tensors in place, which the step returns."""

    scan: ClassVar = staticmethod(mamba_ssm_scan)

    @staticmethod
    def unavailable_reason() -> str | None:
        return mamba_ssm_reason()

    def causal_conv(self, xBC: torch.Tensor) -> torch.Tensor:
        if importlib.util.find_spec("causal_conv1d") is None:  # position-major, as below
            return super().causal_conv(xBC).contiguous()
        from causal_conv1d import causal_conv1d_fn

        weight = self.conv1d.weight.squeeze(1)
        # (b, conv_dim, L) with L contiguous: the kernel takes that at any width, but
        # channel-last only with dim and strides multiples of 8 (csrc/causal_conv1d.cpp:
        # 179-180 at causal-conv1d v1.6.0), and xBC is a slice of in_proj's output.
        # Its output back position-major: the scan wants x, B and C with stride 1 in
        # their last dim (mamba_ssm/ops/triton/ssd_combined.py:358-361 copies them else)
        x = xBC.transpose(1, 2).contiguous()
        out = causal_conv1d_fn(x, weight, self.conv1d.bias, activation="silu")
        return out.transpose(1, 2).contiguous()

    def conv_step(self, xBC_t: torch.Tensor, conv: torch.Tensor):
        """causal-conv1d's ``causal_conv1d_update`` where installed (it shifts
        xBC_t into ``conv`` in place), else the torch step."""
        if importlib.util.find_spec("causal_conv1d") is None:
            return super().conv_step(xBC_t, conv)
        from causal_conv1d import causal_conv1d_update

        weight = self.conv1d.weight.squeeze(1)
        return causal_conv1d_update(xBC_t, conv, weight, self.conv1d.bias, activation="silu"), conv

    def step(self, x_t: torch.Tensor, state: Mamba2State) -> tuple[torch.Tensor, Mamba2State]:
        from mamba_ssm.ops.triton.selective_state_update import selective_state_update

        self.check_step(x_t, state)
        z, xBC_in, dt = self.split_in(self.in_proj(x_t))
        xBC, conv = self.conv_step(xBC_in, state.conv)
        xs, B, C = self.split_conv(xBC)
        h, p, n = self.n_heads, self.headdim, self.d_state
        # per (head, channel[, state]) as the kernel takes them (mamba2.py:324-327 there)
        A = self.decay_rates(x_t.dtype)[:, None, None].expand(h, p, n)
        y = selective_state_update(
            state.ssm,
            xs,
            dt[..., None].expand(-1, h, p),
            A,
            B,
            C,
            self.D[:, None].expand(h, p),
            dt_bias=self.dt_bias[:, None].expand(h, p),
            dt_softplus=True,
        )
        return self.finish(y, z), Mamba2State(conv, state.ssm)

    def scan_flops(self, batch: int, seq_len: int) -> int:
        return chunked_scan_flops(self, batch, seq_len, self.chunk_size)

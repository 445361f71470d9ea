"""A fake mamba-ssm 2.3 (``selective_scan_fn``, ``mamba_inner_fn``,
``selective_state_update``, ``mamba_chunk_scan_combined``).

Contracts read in state-spaces/mamba at v2.3.2.post1:
mamba_ssm/ops/selective_scan_interface.py (``SI``), csrc/selective_scan/selective_scan.cpp
(``SS``), mamba_ssm/ops/triton/selective_state_update.py (``SU``),
mamba_ssm/ops/triton/ssd_combined.py (``SD``) and ssd_chunk_state.py (``SC``).
The Mamba-2 family imports ``mamba_chunk_scan_combined`` from
``mamba_ssm.ops.triton.ssd_combined``, where this fake installs it.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
import torch.nn.functional as F

from models.mamba import sequential_selective_scan, ssm_step

from . import FLOATS, FakeLibrary, require, require_dtype, require_last_contiguous, require_shape
from .causal_conv1d import check_conv_input, convolved

SI = "mamba_ssm/ops/selective_scan_interface.py"
SS = "csrc/selective_scan/selective_scan.cpp"
SU = "mamba_ssm/ops/triton/selective_state_update.py"
SD = "mamba_ssm/ops/triton/ssd_combined.py"
SC = "mamba_ssm/ops/triton/ssd_chunk_state.py"
MAX_STATE = 256


def check_fp32_vector(name: str, t: torch.Tensor | None, dim: int, where: str) -> None:
    if t is not None:
        require(t.dtype == torch.float32, f"{name} must be float32, got {t.dtype}", where)
        require_shape(name, t, (dim,), where)


def check_scan_inputs(u, delta, A, B, C, D, z, delta_bias) -> None:
    """selective_scan_cuda.fwd's checks (SS:226-303) for real A and B, C per position."""
    require_dtype("u", u, FLOATS, f"{SS}:235")
    require(A.dtype == torch.float32, f"A must be float32 (real), got {A.dtype}", f"{SS}:236")
    require(delta.dtype == u.dtype, "delta must have u's dtype", f"{SS}:242")
    require(
        B.dim() == 3 and C.dim() == 3,
        "B and C must be (batch, dstate, seqlen): grouped or constant B, C are not faked",
        f"{SI}:120-122",
    )
    require(
        B.dtype == u.dtype and C.dtype == u.dtype, "B and C must have u's dtype", f"{SS}:243-244"
    )
    for name, t in (("u", u), ("delta", delta), ("B", B), ("C", C)):
        require_last_contiguous(name, t, f"{SI}:28-37, {SS}:252-253, :271, :277")
    b, dim, length = u.shape
    dstate = A.shape[1]
    require(dstate <= MAX_STATE, "selective_scan only supports state dimension <= 256", f"{SS}:262")
    require_shape("delta", delta, (b, dim, length), f"{SS}:265")
    require_shape("A", A, (dim, dstate), f"{SS}:266")
    require_shape("B", B, (b, dstate, length), f"{SS}:270")
    require_shape("C", C, (b, dstate, length), f"{SS}:276")
    check_fp32_vector("D", D, dim, f"{SS}:282-285")
    check_fp32_vector("delta_bias", delta_bias, dim, f"{SS}:290-293")
    if z is not None:
        require(z.dtype == u.dtype, "z must have u's dtype", f"{SS}:300")
        require_last_contiguous("z", z, f"{SS}:302")
        require_shape("z", z, (b, dim, length), f"{SS}:303")


def scanned(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """The project's sequential scan on the kernel's (b, ., L) layout, in fp32:
    out (b, dim, L) in u's dtype and the last state (b, dim, dstate) in fp32."""
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    u_, delta_, B_, C_ = (t.float().transpose(1, 2) for t in (u, delta, B, C))
    y, h = sequential_selective_scan(u_, delta_, A, B_, C_)
    y = y.transpose(1, 2)
    if D is not None:
        y = y + u.float() * D[:, None]
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(u.dtype), h


class FakeMambaSSM(FakeLibrary):
    extension = "selective_scan_cuda"

    def modules(self) -> dict[str, dict[str, Any]]:
        scan = {"selective_scan_fn": self.selective_scan_fn, "mamba_inner_fn": self.mamba_inner_fn}
        return {
            "mamba_ssm": {"__version__": "2.3.2.post1", **scan},
            "mamba_ssm.ops": {},
            "mamba_ssm.ops.selective_scan_interface": scan,
            "mamba_ssm.ops.triton": {},
            "mamba_ssm.ops.triton.selective_state_update": {
                "selective_state_update": self.selective_state_update
            },
            "mamba_ssm.ops.triton.ssd_combined": {
                "mamba_chunk_scan_combined": self.mamba_chunk_scan_combined
            },
        }

    def selective_scan_fn(
        self,
        u,
        delta,
        A,
        B,
        C,
        D=None,
        z=None,
        delta_bias=None,
        delta_softplus=False,
        return_last_state=False,
    ):
        """SI:106-112: out (b, dim, L), with the last state (b, dim, dstate) whose
        gradient the backward ignores; differentiable in the rest."""
        self.calls["selective_scan_fn"] += 1
        check_scan_inputs(u, delta, A, B, C, D, z, delta_bias)
        out, h = scanned(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
        return (out, h.detach()) if return_last_state else out

    def mamba_inner_fn(
        self,
        xz,
        conv1d_weight,
        conv1d_bias,
        x_proj_weight,
        delta_proj_weight,
        out_proj_weight,
        out_proj_bias,
        A,
        B=None,
        C=None,
        D=None,
        delta_bias=None,
        B_proj_bias=None,
        C_proj_bias=None,
        delta_softplus=True,
        checkpoint_lvl=1,
        b_rms_weight=None,
        c_rms_weight=None,
        dt_rms_weight=None,
        b_c_dt_rms_eps=1e-6,
    ):
        """SI:184-260 and :373-381: the whole Mamba block after in_proj, from xz
        (batch, 2 dim, L) to (batch, L, d_model); differentiable."""
        self.calls["mamba_inner_fn"] += 1
        require(
            "causal_conv1d_cuda" in sys.modules and sys.modules["causal_conv1d_cuda"],
            "causal_conv1d_cuda is not available. Please install causal-conv1d.",
            f"{SI}:195",
        )
        require(checkpoint_lvl in (0, 1), "checkpoint_lvl must be 0 or 1", f"{SI}:196")
        require(
            B is None
            and C is None
            and B_proj_bias is None
            and C_proj_bias is None
            and b_rms_weight is None
            and c_rms_weight is None
            and dt_rms_weight is None,
            "only B and C from x_proj, without biases or norms, are faked",
            f"{SI}:220-250",
        )
        require_last_contiguous("xz", xz, f"{SI}:206-207")
        require(
            xz.dim() == 3 and xz.shape[1] % 2 == 0, "xz must be (batch, 2 dim, seqlen)", f"{SI}:191"
        )
        x, z = xz.chunk(2, dim=1)
        dim, length = x.shape[1], x.shape[2]
        require(
            conv1d_weight.dim() == 3 and conv1d_weight.shape[1] == 1,
            "conv1d_weight must be (dim, 1, width)",
            f"{SI}:208 'd 1 w -> d w'",
        )
        weight = conv1d_weight[:, 0]
        check_conv_input(x, weight, conv1d_bias, "silu")
        rank = delta_proj_weight.shape[1]
        dstate = A.shape[-1]
        require_shape("x_proj_weight", x_proj_weight, (rank + 2 * dstate, dim), f"{SI}:214")
        require_shape("delta_proj_weight", delta_proj_weight, (dim, rank), f"{SI}:215")
        require(
            out_proj_weight.shape[1] == dim, "out_proj_weight must be (d_model, dim)", f"{SI}:259"
        )
        require(A.dtype == torch.float32, f"A must be float32, got {A.dtype}", f"{SS}:236")
        require(dstate <= MAX_STATE, "state dimension <= 256", f"{SS}:262")
        require_shape("A", A, (dim, dstate), f"{SS}:266")
        check_fp32_vector("D", D, dim, f"{SS}:282-285")
        check_fp32_vector("delta_bias", delta_bias, dim, f"{SS}:290-293")
        for name, w in (
            ("x_proj_weight", x_proj_weight),
            ("delta_proj_weight", delta_proj_weight),
            ("out_proj_weight", out_proj_weight),
        ):
            # F.linear on the conv's output (SI:212-213, :259), outside autocast
            require(
                torch.is_autocast_enabled() or w.dtype == xz.dtype,
                f"{name} must have xz's dtype {xz.dtype}, got {w.dtype}",
                f"{SI}:200-205",
            )
        u = convolved(x, weight, conv1d_bias, "silu")
        x_dbl = F.linear(u.transpose(1, 2).reshape(-1, dim), x_proj_weight)  # (b L, .)
        delta = (delta_proj_weight @ x_dbl[:, :rank].T).view(dim, -1, length).transpose(0, 1)
        B, C = (
            x_dbl[:, i : i + dstate].view(-1, length, dstate).transpose(1, 2)
            for i in (rank, rank + dstate)
        )
        y, _ = scanned(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
        return F.linear(y.transpose(1, 2), out_proj_weight, out_proj_bias)

    def selective_state_update(
        self,
        state,
        x,
        dt,
        A,
        B,
        C,
        D=None,
        z=None,
        dt_bias=None,
        dt_softplus=False,
        state_batch_indices=None,
    ):
        """SU:135-221: one step, state (batch, [nheads,] dim, dstate) updated in
        place, out of x's shape and dtype; no autograd (a decode kernel)."""
        self.calls["selective_state_update"] += 1
        heads = state.dim() > 3
        if not heads:  # the unsqueezes of SU:152-169
            state, x, dt, A, B, C, z = (
                None if t is None else t.unsqueeze(i)
                for t, i in ((state, 1), (x, 1), (dt, 1), (A, 0), (B, 1), (C, 1), (z, 1))
            )
            D = None if D is None else D.unsqueeze(0)
            dt_bias = None if dt_bias is None else dt_bias.unsqueeze(0)
        _, nheads, dim, dstate = state.shape
        batch = x.shape[0]
        require_shape("x", x, (batch, nheads, dim), f"{SU}:174")
        require_shape("dt", dt, (batch, nheads, dim), f"{SU}:175")
        require_shape("A", A, (nheads, dim, dstate), f"{SU}:176")
        groups = B.shape[1]
        require(nheads % groups == 0, "nheads must be divisible by ngroups", f"{SU}:178")
        require_shape("B", B, (batch, groups, dstate), f"{SU}:179")
        require_shape("C", C, (batch, groups, dstate), f"{SU}:180")
        for name, t, shape in (
            ("D", D, (nheads, dim)),
            ("z", z, x.shape),
            ("dt_bias", dt_bias, (nheads, dim)),
        ):
            if t is not None:
                require_shape(name, t, tuple(shape), f"{SU}:181-186")
        require(state_batch_indices is None, "state batch indices are not faked", f"{SU}:136")
        require(state.shape[0] >= batch, "state must hold every batch row", f"{SU}:139")
        with torch.no_grad():
            dt = dt.float() if dt_bias is None else dt.float() + dt_bias.float()
            if dt_softplus:
                dt = F.softplus(dt)  # the kernel's softplus, linear above 20 (SU:102, :110)
            per_head = nheads // groups
            B, C = (t.float().repeat_interleave(per_head, dim=1) for t in (B, C))
            y, h = ssm_step(state.float(), x.float(), dt, A.float(), B, C)
            state.copy_(h)
            if D is not None:
                y = y + x.float() * D.float()
            if z is not None:
                y = y * F.silu(z.float())
        out = y.to(x.dtype)
        return out if heads else out.squeeze(1)

    def mamba_chunk_scan_combined(
        self,
        x,
        dt,
        A,
        B,
        C,
        chunk_size,
        D=None,
        z=None,
        dt_bias=None,
        initial_states=None,
        seq_idx=None,
        cu_seqlens=None,
        dt_softplus=False,
        dt_limit=(0.0, float("inf")),
        return_final_states=False,
        return_varlen_states=False,
    ):
        """SD:624-643: Mamba-2's SSD scan, x (batch, seqlen, nheads, headdim) to out
        of that shape in x's dtype, and the final states (batch, nheads, headdim,
        dstate) in fp32 where asked; differentiable. Computed as the project's
        Mamba recurrence (``ssm_step``) with one decay per head, one B, C per group."""
        self.calls["mamba_chunk_scan_combined"] += 1
        batch, seqlen, nheads, headdim = x.shape
        require(B.dim() == 4, "B must be (batch, seqlen, ngroups, dstate)", f"{SD}:630")
        groups, dstate = B.shape[2], B.shape[3]
        require(nheads % groups == 0, "nheads must be divisible by ngroups", f"{SD}:346")
        require_shape("B", B, (batch, seqlen, groups, dstate), f"{SD}:347")
        require_shape("dt", dt, (batch, seqlen, nheads), f"{SD}:349")
        require_shape("A", A, (nheads,), f"{SD}:350")
        require_shape("C", C, tuple(B.shape), f"{SD}:351")
        for t in (x, dt, B, C):
            require_dtype("x, dt, B and C", t, FLOATS, f"{SD}:343 (Triton kernels)")
        if z is not None:
            require_shape("z", z, tuple(x.shape), f"{SD}:353")
        if D is not None:
            require(
                tuple(D.shape) in ((nheads, headdim), (nheads,)),
                "D must be (nheads, headdim) or (nheads,)",
                f"{SD}:355",
            )
        if dt_bias is not None:
            require_shape("dt_bias", dt_bias, (nheads,), f"{SC}:722")
        if initial_states is not None:
            require_shape(
                "initial_states", initial_states, (batch, nheads, headdim, dstate), f"{SD}:369"
            )
        require(
            isinstance(chunk_size, int) and chunk_size > 0,
            "chunk_size: a positive int",
            f"{SD}:632",
        )
        for name, t in (("B", B), ("C", C)):
            require_last_contiguous(name, t, f"{SD}:358-361")
        require(
            x.stride(-1) == 1 or x.stride(1) == 1,
            "x needs headdim or seqlen contiguous: the wrapper would copy it",
            f"{SD}:362-363",
        )
        require(
            seq_idx is None and cu_seqlens is None and not return_varlen_states,
            "packed sequences are not faked",
            f"{SD}:637-638",
        )
        dt = dt.float() if dt_bias is None else dt.float() + dt_bias.float()
        if dt_softplus:
            dt = F.softplus(dt)
        dt = dt.clamp(*dt_limit)
        per_head = nheads // groups
        h = (
            x.new_zeros(batch, nheads, headdim, dstate, dtype=torch.float32)
            if initial_states is None
            else initial_states.float()
        )
        decay = A.float()[:, None, None].expand(nheads, headdim, 1)
        ys = []
        for t in range(seqlen):
            B_t, C_t = (v[:, t].float().repeat_interleave(per_head, dim=1) for v in (B, C))
            delta = dt[:, t, :, None].expand(batch, nheads, headdim)
            y_t, h = ssm_step(h, x[:, t].float(), delta, decay, B_t, C_t)
            ys.append(y_t)
        y = torch.stack(ys, dim=1)
        if D is not None:
            y = y + x.float() * (D.float() if D.dim() == 2 else D.float()[:, None])
        if z is not None:
            y = y * F.silu(z.float())
        out = y.to(x.dtype)
        return (out, h) if return_final_states else out

"""mamba2/fla: Mamba-2's SSD through fla's Triton kernels (fla-core).

fla's simple GLA runs, per head, S_t = exp(g_t) S_{t-1} + k_t v_t^T and
o_t = scale q_t S_t: with q = C, k = B, v = dt x, g = dt A and scale 1 that is
Mamba-2's SSD (models/mamba2.py), its state kept V-first (headdim x d_state,
mamba-ssm's layout). Forward and training go through ``chunk_simple_gla``
(fla's chunks of FLA_CHUNK; the layer's ``chunk_size`` is not used), decoding
through ``fused_recurrent_simple_gla`` from the carried state. B and C are
repeated per head of their group (fla has no groups). CUDA only, or the CPU
under TRITON_INTERPRET=1 (tests/test_fla.py).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from .fla_backend import FLA_CHUNK, fla_run_problem, fla_unavailable_reason
from .mamba2 import (
    ChunkedMamba2,
    chunked_scan_flops,
    discretised_dt,
    heads_of_groups,
    skip_and_gate,
)
from .registry import register_mixer


def gla_arguments(x, dt, A, B, C):
    """fla's q, k, v and g from the SSD's x (..., h, p), discretised dt (..., h),
    A (h,), B and C (..., g, n); q, k and v in x's dtype, g in dt's."""
    h = x.shape[-2]
    q, k = (heads_of_groups(t, h).to(x.dtype) for t in (C, B))
    return q, k, (x * dt[..., None]).to(x.dtype), dt * A.to(dt.dtype)


def fla_chunk_scan(
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
    """``mamba_chunk_scan_combined``'s signature and results (see
    models/mamba2.ssd_scan_ref) through fla's ``chunk_simple_gla``;
    ``chunk_size`` is fla's own (FLA_CHUNK)."""
    from fla.ops.simple_gla import chunk_simple_gla

    q, k, v, g = gla_arguments(x, discretised_dt(dt, dt_bias, dt_softplus), A, B, C)
    y, state = chunk_simple_gla(
        q,
        k,
        v,
        g=g,
        scale=1.0,
        initial_state=initial_states,
        output_final_state=return_final_states,
        state_v_first=True,
    )
    y = skip_and_gate(y, x, D, z)
    return (y, state) if return_final_states else y


@register_mixer("mamba2/fla")
class FlaMamba2(ChunkedMamba2):
    """mamba2/chunked's layer with the SSD in fla's Triton kernels (the GPU's
    choice: it installs without compiling). Accuracy runs prefer it where it
    runs (rank 0) and mamba2/chunked elsewhere (rank 1)."""

    accuracy_rank = 0
    scan: ClassVar = staticmethod(fla_chunk_scan)

    @staticmethod
    def unavailable_reason() -> str | None:
        return fla_unavailable_reason()

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        return fla_run_problem(device, dtype)

    def ssm_step(self, state, x_t, dt_t, A, B_t, C_t):
        """One token through ``fused_recurrent_simple_gla`` from the carried state."""
        from fla.ops.simple_gla import fused_recurrent_simple_gla

        q, k, v, g = (t[:, None] for t in gla_arguments(x_t, dt_t, A, B_t, C_t))
        y, state = fused_recurrent_simple_gla(
            q,
            k,
            v,
            g=g,
            scale=1.0,
            initial_state=state,
            output_final_state=True,
            state_v_first=True,
        )
        return state, y[:, 0]

    def scan_flops(self, batch: int, seq_len: int) -> int:
        return chunked_scan_flops(self, batch, seq_len, FLA_CHUNK)

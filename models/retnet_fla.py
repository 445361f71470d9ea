"""retnet/fla: RetNet's retention through fla's Triton kernels (fla-core),
with retnet/chunkwise's module and weights (one state dict).

fla's retention runs, per head h with decay gamma_h = 1 - 2^(-5-h) (the
family's decays), S_n = gamma S_(n-1) + k_n v_n^T and o_n = scale q_n S_n. The
project's q and k come rotated and k scaled by key_dim^-0.5
(models/retnet.Retention.project), so fla's scale is 1; a column of ones
appended to v makes the output's last column the row sum d_n, and the
normaliser o_n / max(|d_n|, sqrt(S_n)) is the family's own
(models/retnet.normalise). The carried state is fla's (batch, heads, d_k,
d_v + 1), the layout of retnet's ``RetentionState``. Forward and training go
through ``chunk_retention`` (fla's chunks of FLA_CHUNK; ``chunk_size`` is not
used), decoding through ``fused_recurrent_retention``. q, k and v enter the
kernels in the input's dtype (bf16 stays bf16; the kernels accumulate in
fp32). CUDA only, or the CPU under TRITON_INTERPRET=1 (tests/test_fla.py).
"""

from __future__ import annotations

import torch

from .base import accumulation_dtype
from .fla_backend import FLA_CHUNK, fla_run_problem, fla_unavailable_reason
from .registry import register_mixer
from .retnet import ChunkwiseRetention, RetentionState, normalise, with_ones


def token_major(dtype: torch.dtype, *heads: torch.Tensor) -> list[torch.Tensor]:
    """(batch, heads, length, dim) -> fla's (batch, length, heads, dim) in ``dtype``."""
    return [t.transpose(1, 2).to(dtype) for t in heads]


@register_mixer("retnet/fla")
class FlaRetention(ChunkwiseRetention):
    """retnet/chunkwise's weights, retention in fla's kernels (the GPU's choice:
    it installs without compiling)."""

    #: before retnet/chunkwise (rank 1): fla's kernels where they run (a GPU),
    #: the torch form elsewhere
    accuracy_rank = 0

    @staticmethod
    def unavailable_reason() -> str | None:
        return fla_unavailable_reason()

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        return fla_run_problem(device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prefill(x)[0]

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, RetentionState]:
        from fla.ops.retention import chunk_retention

        self.check_input(x)
        q, k, v, g = self.project(x)
        od, kv = chunk_retention(
            *token_major(x.dtype, q, k, with_ones(v)), scale=1.0, output_final_state=True
        )
        od = od.transpose(1, 2).to(q.dtype)
        o = normalise(od, self.log_decay(q.dtype, q.device), start=0)
        return self.finish(o, g), RetentionState(kv, x.shape[1])

    def step(self, x_t: torch.Tensor, state: RetentionState) -> tuple[torch.Tensor, RetentionState]:
        from fla.ops.retention import fused_recurrent_retention

        self.check_token(x_t)
        q, k, v, g = self.project(x_t[:, None], start=state.length)
        od, kv = fused_recurrent_retention(
            *token_major(x_t.dtype, q, k, with_ones(v)),
            scale=1.0,
            initial_state=state.kv.to(accumulation_dtype(x_t.dtype)),
            output_final_state=True,
        )
        od = od.transpose(1, 2).to(q.dtype)
        o = normalise(od, self.log_decay(q.dtype, q.device), start=state.length)
        return self.finish(o, g)[:, 0], RetentionState(kv, state.length + 1)

    def chunks(self, seq_len: int) -> tuple[int, int]:
        """fla's chunks (FLA_CHUNK), whatever ``chunk_size`` says."""
        chunk = min(FLA_CHUNK, seq_len)
        return chunk, -(-seq_len // chunk)

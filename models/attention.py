"""Causal multi-head softmax attention with rotary positions (a Transformer's mixer).

``attention/math`` spells the softmax out (the reference); ``attention/sdpa``
calls torch's fused kernel; ``attention/flash-attn`` and ``attention/xformers``
use optional packages where installed. Decoding keeps a KV cache that grows
with the context: its bytes are the cost RetNet and Mamba avoid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import (
    Mixer,
    accumulation_dtype,
    check_divisible,
    check_positive,
    cuda_package_reason,
    matmul_flops,
    train_flops,
)
from .registry import register_mixer

# -- the FLOP convention of every mixer's ``flops`` and ``step_flops`` ---------------
# Useful work, 2 FLOPs per multiply-add (an (m, k) @ (k, n) product is 2mnk; a rank-1
# product, one multiply per entry): the products with weights, and the products that
# mix positions over the causal pairs only, m <= n within the sequence: L(L+1)/2
# pairs for L positions, as flash-attention's benchmarks count causal attention (a
# width-k causal convolution: min(n+1, k) taps at n, ``causal_pairs(L, k)``). An
# algorithm's own work on the way counts as it does it: a chunked form's causal
# pairs inside each chunk plus its per-chunk state products and carries, a scan's
# multiply-adds per state element, an FFT's 2.5 n log2(n) per real transform of
# size n. Not counted: pairs a kernel computes and then masks, taps on zero history
# or padding, outputs it drops, and elementwise work on one position or channel
# (softmax, exp, activations, norms, rotary, gates, skips, scaling). So a forward
# that runs the recurrence of its steps (attention, retnet/recurrent,
# mamba/reference, hyena/direct) costs exactly its L steps' ``step_flops``, and no
# variant's achieved FLOP/s can exceed what its kernels really compute.


def causal_pairs(length: int, window: int | None = None) -> int:
    """(m, n) pairs with n - window < m <= n among ``length`` positions: L(L+1)/2
    without a window, sum over n of min(n + 1, window) with one."""
    inside = length if window is None else min(length, window)
    return inside * (inside + 1) // 2 + (length - inside) * (window or 0)


def rotary_angles(positions: torch.Tensor, head_dim: int, base: float, dtype: torch.dtype):
    """cos and sin of shape (len(positions), head_dim // 2)."""
    acc = accumulation_dtype(dtype)
    inv_freq = base ** (
        -torch.arange(0, head_dim, 2, device=positions.device, dtype=acc) / head_dim
    )
    angles = positions.to(acc)[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (..., length, head_dim) by position; pairs are (i, i + head_dim/2)."""
    x1, x2 = x.to(cos.dtype).chunk(2, dim=-1)
    rotated = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return rotated.to(x.dtype)


@dataclass
class KVCache:
    """Keys and values of every past token: (batch, heads, capacity, head_dim),
    filled up to ``length``; capacity doubles so appends are amortised O(1)."""

    k: torch.Tensor
    v: torch.Tensor
    length: int = 0

    def append(self, k_t: torch.Tensor, v_t: torch.Tensor) -> None:
        n = k_t.shape[2]
        if self.length + n > self.k.shape[2]:
            capacity = max(2 * self.k.shape[2], self.length + n, 16)
            self.k = self._grow(self.k, capacity)
            self.v = self._grow(self.v, capacity)
        self.k[:, :, self.length : self.length + n] = k_t
        self.v[:, :, self.length : self.length + n] = v_t
        self.length += n

    def _grow(self, t: torch.Tensor, capacity: int) -> torch.Tensor:
        grown = t.new_empty(t.shape[0], t.shape[1], capacity, t.shape[3])
        grown[:, :, : self.length] = t[:, :, : self.length]
        return grown

    def view(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.k[:, :, : self.length], self.v[:, :, : self.length]


class Attention(Mixer):
    """Shared weights and plumbing; variants differ only in ``attend``."""

    modes = ("forward", "step (KV cache)", "prefill")

    def __init__(self, d_model: int, n_heads: int = 4, rotary_base: float = 10000.0) -> None:
        super().__init__(d_model)
        check_positive("n_heads", n_heads)
        check_divisible("d_model", d_model, "n_heads", n_heads)
        if (d_model // n_heads) % 2:
            raise ValueError(
                f"head dim d_model/n_heads={d_model // n_heads} must be even for rotary "
                "positions; choose d_model as a multiple of 2*n_heads"
            )
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.rotary_base = rotary_base
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    def qkv(self, x: torch.Tensor, start: int = 0):
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        cos, sin = rotary_angles(positions, self.head_dim, self.rotary_base, x.dtype)
        q = apply_rotary(self.heads(self.q_proj(x)), cos, sin)
        k = apply_rotary(self.heads(self.k_proj(x)), cos, sin)
        return q, k, self.heads(self.v_proj(x))

    def merge(self, o: torch.Tensor) -> torch.Tensor:
        b, _, n, _ = o.shape
        return self.out_proj(o.transpose(1, 2).reshape(b, n, self.d_model))

    def attend(self, q, k, v) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.merge(self.attend(*self.qkv(x)))

    def init_state(self, batch: int, device=None, dtype=None) -> KVCache:
        dtype = dtype or self.q_proj.weight.dtype
        empty = torch.empty(batch, self.n_heads, 0, self.head_dim, device=device, dtype=dtype)
        return KVCache(empty, empty.clone())

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, KVCache]:
        self.check_input(x)
        q, k, v = self.qkv(x)
        cache = self.init_state(x.shape[0], x.device, k.dtype)
        cache.append(k, v)
        return self.merge(self.attend(q, k, v)), cache

    def step(self, x_t: torch.Tensor, state: KVCache) -> tuple[torch.Tensor, KVCache]:
        self.check_token(x_t)
        q, k, v = self.qkv(x_t[:, None], start=state.length)
        state.append(k, v)
        keys, values = state.view()
        # one query sees every cached key: no mask needed
        acc = accumulation_dtype(q.dtype)
        scores = (q.to(acc) @ keys.to(acc).transpose(-1, -2)) / math.sqrt(self.head_dim)
        o = (scores.softmax(-1) @ values.to(acc)).to(v.dtype)
        return self.merge(o)[:, 0], state

    # -- analytic costs ------------------------------------------------------
    def pair_flops(self, batch: int, pairs: int) -> int:
        """QK^T and PV over ``pairs`` (query, key) pairs, all heads."""
        return 2 * batch * self.n_heads * matmul_flops(pairs, 1, self.head_dim)

    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:
        """The four projections, and QK^T and PV over the L(L+1)/2 causal pairs
        (the convention above): attention/math computes the masked upper
        triangle too, which is not useful work; softmax is elementwise."""
        tokens = batch * seq_len
        projections = 4 * matmul_flops(tokens, self.d_model, self.d_model)
        total = projections + self.pair_flops(batch, causal_pairs(seq_len))
        return train_flops(total) if backward else total

    def step_flops(self, batch: int, context_len: int) -> int:
        """One query against the context and itself: context_len + 1 pairs."""
        projections = 4 * matmul_flops(batch, self.d_model, self.d_model)
        return projections + self.pair_flops(batch, context_len + 1)

    def state_bytes(self, batch: int, seq_len: int, dtype: torch.dtype = torch.float32) -> int:
        itemsize = torch.empty((), dtype=dtype).element_size()
        return 2 * batch * seq_len * self.d_model * itemsize


@register_mixer("attention/math", reference=True)
class MathAttention(Attention):
    """Softmax written out, accumulated in at least fp32: the plain reference."""

    def attend(self, q, k, v):
        n, acc = q.shape[2], accumulation_dtype(q.dtype)
        scores = (q.to(acc) @ k.to(acc).transpose(-1, -2)) / math.sqrt(self.head_dim)
        future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
        return (scores.softmax(-1) @ v.to(acc)).to(v.dtype)


@register_mixer("attention/sdpa")
class SDPAttention(Attention):
    """torch.nn.functional.scaled_dot_product_attention (flash / memory-efficient
    kernels on GPU, a fused math kernel on CPU)."""

    accuracy_rank = 0

    def attend(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


@register_mixer("attention/flash-attn")
class FlashAttention(Attention):
    """FlashAttention-2 kernels (fp16/bf16 on CUDA)."""

    # fp32 inputs are attended in bf16: 8 mantissa bits
    reference_tolerance = 2e-2

    @staticmethod
    def unavailable_reason() -> str | None:
        return cuda_package_reason("flash_attn")

    def attend(self, q, k, v):
        from flash_attn import flash_attn_func

        dtype = q.dtype if q.dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
        o = flash_attn_func(*(t.transpose(1, 2).to(dtype) for t in (q, k, v)), causal=True)
        return o.transpose(1, 2).to(v.dtype)


@register_mixer("attention/xformers")
class XFormersAttention(Attention):
    """xformers' memory-efficient attention."""

    @staticmethod
    def unavailable_reason() -> str | None:
        return cuda_package_reason("xformers")

    def attend(self, q, k, v):
        from xformers.ops import LowerTriangularMask, memory_efficient_attention

        o = memory_efficient_attention(
            *(t.transpose(1, 2) for t in (q, k, v)), attn_bias=LowerTriangularMask()
        )
        return o.transpose(1, 2)

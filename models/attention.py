"""Causal multi-head softmax attention with rotary positions (a Transformer's mixer).

``attention/math`` spells the softmax out (the reference); ``attention/sdpa``
calls torch's fused kernel; ``attention/flash-attn`` and ``attention/xformers``
use optional CUDA packages where installed (their compiled kernels, not just
the packages: ``cuda_package_reason``). Decoding keeps a KV cache that grows
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


#: positions a prefilled cache holds beyond its prompt: every profile decodes at
#: most 64 tokens per timed round, so that a round's appends never regrow (copy)
#: the cache inside it
DECODE_HEADROOM = 256
#: how to get flash-attn's compiled kernels, which its wheel index may not hold
FLASH_ATTN_BUILD = "pip install flash-attn --no-build-isolation on a CUDA machine"


def softmax_attention(q, k, v, causal: bool) -> torch.Tensor:
    """The plain reference over (..., length, head_dim): softmax(q k^T / sqrt(d)) v,
    accumulated in at least fp32. ``causal`` aligns the queries with the last
    keys (flash-attn's bottom-right mask): query n sees keys m <= n + Lk - Lq."""
    acc = accumulation_dtype(q.dtype)
    scores = (q.to(acc) @ k.to(acc).transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        n, m = q.shape[-2], k.shape[-2]
        future = torch.ones(n, m, dtype=torch.bool, device=q.device).triu(m - n + 1)
        scores = scores.masked_fill(future, float("-inf"))
    return (scores.softmax(-1) @ v.to(acc)).to(v.dtype)


def cuda_run_problem(
    backend: str, device: torch.device, dtype: torch.dtype, dtypes: tuple[torch.dtype, ...]
) -> str | None:
    """Why a CUDA kernel cannot run on ``device`` in ``dtype`` (it takes ``dtypes``), or None."""
    if device.type != "cuda":
        return f"{backend} runs on CUDA only, this run is on {device.type}"
    if dtype not in dtypes:
        names = ", ".join(str(d).removeprefix("torch.") for d in dtypes)
        return (
            f"{backend} computes in {names} only, not {str(dtype).removeprefix('torch.')} "
            "(choose --dtype bfloat16)"
        )
    return None


@dataclass
class KVCache:
    """Keys and values of every past token, filled up to ``length`` along
    ``seq_dim``: (batch, heads, capacity, head_dim) for the torch variants;
    capacity doubles so appends are amortised O(1), and a prefill leaves
    DECODE_HEADROOM free positions."""

    k: torch.Tensor
    v: torch.Tensor
    length: int = 0
    #: the axis positions run along
    seq_dim: int = 2

    @property
    def capacity(self) -> int:
        return self.k.shape[self.seq_dim]

    def make_room(self, n: int) -> bool:
        """Grow so that ``n`` more positions fit; True when it grew (a copy)."""
        if self.length + n <= self.capacity:
            return False
        capacity = max(2 * self.capacity, self.length + n, 16)
        self.k, self.v = self._grown(self.k, capacity), self._grown(self.v, capacity)
        return True

    def _grown(self, t: torch.Tensor, capacity: int) -> torch.Tensor:
        shape = list(t.shape)
        shape[self.seq_dim] = capacity
        grown = t.new_empty(shape)
        grown.narrow(self.seq_dim, 0, self.length).copy_(t.narrow(self.seq_dim, 0, self.length))
        return grown

    def append(self, k_t: torch.Tensor, v_t: torch.Tensor) -> None:
        """Write keys and values laid out as the cache is, after the filled part."""
        n = k_t.shape[self.seq_dim]
        self.make_room(n)
        self.k.narrow(self.seq_dim, self.length, n).copy_(k_t)
        self.v.narrow(self.seq_dim, self.length, n).copy_(v_t)
        self.advance(n)

    def advance(self, n: int) -> None:
        self.length += n

    def view(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.k.narrow(self.seq_dim, 0, self.length), self.v.narrow(
            self.seq_dim, 0, self.length
        )


@dataclass
class FlashKVCache(KVCache):
    """flash-attn's cache, (batch, capacity, heads, head_dim), with ``length``
    also kept as the kernel's ``cache_seqlens`` ((batch,) int32 on the device,
    advanced in place, so that a step needs no host value) and, where the
    kernel rotates (``rotary_base`` set), the rotary table it reads: cos and
    sin at every position of the capacity, (capacity, head_dim / 2) in the
    cache's dtype."""

    seq_dim: int = 1
    rotary_base: float | None = None

    def __post_init__(self) -> None:
        batch, device = self.k.shape[0], self.k.device
        self.seqlens = torch.full((batch,), self.length, dtype=torch.int32, device=device)
        self.cos = self.sin = None
        self._set_rotary_table()

    def _set_rotary_table(self) -> None:
        if self.rotary_base is not None:
            positions = torch.arange(self.capacity, device=self.k.device)
            cos, sin = rotary_angles(positions, self.k.shape[-1], self.rotary_base, self.k.dtype)
            self.cos, self.sin = cos.to(self.k.dtype), sin.to(self.k.dtype)

    def make_room(self, n: int) -> bool:
        grew = super().make_room(n)
        if grew:
            # flash_api.cpp:1413: the table must cover the whole capacity
            self._set_rotary_table()
        return grew

    def advance(self, n: int) -> None:
        super().advance(n)
        self.seqlens.add_(n)


class Attention(Mixer):
    """Shared weights and plumbing; variants differ in ``attend`` (the whole
    sequence) and ``attend_cached`` (one query against the cache)."""

    modes = ("forward", "step (KV cache)", "prefill")
    positional = "rotary (RoPE) on queries and keys, base rotary_base (10000), no other"

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

    def attend_cached(self, q, keys, values) -> torch.Tensor:
        """One query (batch, heads, 1, head_dim) against every cached key: no
        mask. The products run in the cache's dtype (a bf16 product accumulates
        in fp32 inside) and the softmax of the (batch, heads, 1, L) scores in
        fp32, so that a bf16 cache is never copied to fp32."""
        acc = accumulation_dtype(q.dtype)
        scores = (q @ keys.transpose(-1, -2)).to(acc) / math.sqrt(self.head_dim)
        return scores.softmax(-1).to(values.dtype) @ values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.merge(self.attend(*self.qkv(x)))

    def init_state(self, batch: int, device=None, dtype=None, capacity: int = 0) -> KVCache:
        dtype = dtype or self.q_proj.weight.dtype
        shape = (batch, self.n_heads, capacity, self.head_dim)
        empty = torch.empty(shape, device=device, dtype=dtype)
        return KVCache(empty, torch.empty_like(empty))

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, KVCache]:
        self.check_input(x)
        q, k, v = self.qkv(x)
        cache = self.init_state(x.shape[0], x.device, k.dtype, x.shape[1] + DECODE_HEADROOM)
        cache.append(k, v)
        return self.merge(self.attend(q, k, v)), cache

    def step(self, x_t: torch.Tensor, state: KVCache) -> tuple[torch.Tensor, KVCache]:
        self.check_token(x_t)
        q, k, v = self.qkv(x_t[:, None], start=state.length)
        state.append(k, v)
        return self.merge(self.attend_cached(q, *state.view()))[:, 0], state

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
        return softmax_attention(q, k, v, causal=True)


@register_mixer("attention/sdpa")
class SDPAttention(Attention):
    """torch.nn.functional.scaled_dot_product_attention (flash / memory-efficient
    kernels on GPU, a fused math kernel on CPU). Decode keeps the shared
    products over the cache, which torch's FLOP counter sees (it does not see
    the fused kernel on a CPU)."""

    accuracy_rank = 0

    def attend(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


@register_mixer("attention/flash-attn")
class FlashAttention(Attention):
    """FlashAttention-2 on CUDA in fp16/bf16: ``flash_attn_func`` for the
    sequence; decode through ``flash_attn_with_kvcache``, which appends the
    token's key and value to a (batch, capacity, heads, head_dim) cache in place
    and, where the head dim allows, rotates q and k itself with the project's
    half-split rotary (``rotary_interleaved=False``: dims i and i + head_dim/2)."""

    #: checked in bf16, as the kernel takes no fp32: 8 mantissa bits
    reference_tolerance = 2e-2
    #: flash_api.cpp:393 and :1269 (v2.8.3): head dimension at most 256
    max_head_dim = 256
    #: flash_api.cpp:1411: the kernel's rotary takes rotary_dim divisible by 16
    rotary_multiple = 16

    @staticmethod
    def unavailable_reason() -> str | None:
        return cuda_package_reason("flash_attn", "flash_attn_2_cuda", FLASH_ATTN_BUILD)

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        # flash_api.cpp:373: "FlashAttention only support fp16 and bf16 data type"
        return cuda_run_problem("flash-attn", device, dtype, (torch.float16, torch.bfloat16))

    @classmethod
    def shape_problem(cls, d_model: int, n_heads: int = 4, **config) -> str | None:
        """Why the variant cannot run at this width and head count although it
        can be built (the kernel's head-dim limit), or None."""
        head_dim = d_model // n_heads
        if head_dim > cls.max_head_dim:
            return f"head dim {head_dim} > {cls.max_head_dim} (flash-attn's limit; use more heads)"
        return None

    @property
    def kernel_rotary(self) -> bool:
        return self.head_dim % self.rotary_multiple == 0

    def attend(self, q, k, v):
        from flash_attn import flash_attn_func

        # (batch, L, heads, head_dim), the kernel's layout, is how the
        # projections lie in memory: the transposes are views
        o = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True)
        return o.transpose(1, 2)

    def init_state(self, batch: int, device=None, dtype=None, capacity: int = 0) -> FlashKVCache:
        dtype = dtype or self.q_proj.weight.dtype
        shape = (batch, capacity, self.n_heads, self.head_dim)
        empty = torch.empty(shape, device=device, dtype=dtype)
        base = self.rotary_base if self.kernel_rotary else None
        return FlashKVCache(empty, torch.empty_like(empty), rotary_base=base)

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, FlashKVCache]:
        self.check_input(x)
        q, k, v = self.qkv(x)
        cache = self.init_state(x.shape[0], x.device, k.dtype, x.shape[1] + DECODE_HEADROOM)
        cache.append(k.transpose(1, 2), v.transpose(1, 2))
        return self.merge(self.attend(q, k, v)), cache

    def step(self, x_t: torch.Tensor, state: FlashKVCache) -> tuple[torch.Tensor, FlashKVCache]:
        from flash_attn import flash_attn_with_kvcache

        self.check_token(x_t)
        state.make_room(1)
        if state.rotary_base is None:  # the kernel cannot rotate this head dim: rotate here
            q, k, v = (t.transpose(1, 2) for t in self.qkv(x_t[:, None], start=state.length))
        else:
            shape = (x_t.shape[0], 1, self.n_heads, self.head_dim)
            q, k, v = (p(x_t).view(shape) for p in (self.q_proj, self.k_proj, self.v_proj))
        o = flash_attn_with_kvcache(
            q,
            state.k,
            state.v,
            k=k,
            v=v,
            rotary_cos=state.cos,
            rotary_sin=state.sin,
            cache_seqlens=state.seqlens,
            causal=True,
            rotary_interleaved=False,
        )
        state.advance(1)
        return self.out_proj(o.reshape(x_t.shape[0], self.d_model)), state


def xformers_operator_reason() -> str | None:
    """Why xformers' memory-efficient attention cannot run although the package
    is installed, or None: it must import, and a CUDA forward and backward
    operator must be built (``fmha.ALL_FW_OPS``/``ALL_BW_OPS``; an operator
    whose compiled kernel is absent resolves to ``no_such_operator`` and
    ``is_available()`` says False: xformers/ops/common.py:33-40, v0.0.35)."""
    try:
        from xformers.ops import fmha, memory_efficient_attention  # noqa: F401
    except (ImportError, OSError, RuntimeError) as error:
        detail = " ".join(str(error).split())
        return (
            "xformers is installed but xformers.ops.memory_efficient_attention does not "
            f"import ({type(error).__name__}: {detail})"
        )
    for kind, ops in (("forward", fmha.ALL_FW_OPS), ("backward", fmha.ALL_BW_OPS)):
        if not any("cuda" in op.SUPPORTED_DEVICES and op.is_available() for op in ops):
            return (
                f"xformers is installed but none of its CUDA attention {kind} operators is "
                "built (reinstall xformers for this torch and CUDA)"
            )
    return None


@register_mixer("attention/xformers")
class XFormersAttention(Attention):
    """xformers' memory-efficient attention, for the sequence (causal mask) and
    for decode (one query, no mask), on the (batch, L, heads, head_dim) layout
    its ``memory_efficient_attention`` takes with only the last dim contiguous."""

    @staticmethod
    def unavailable_reason() -> str | None:
        return cuda_package_reason("xformers") or xformers_operator_reason()

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        # fmha/cutlass.py:172 (v0.0.35): SUPPORTED_DTYPES float, half, bfloat16
        dtypes = (torch.float16, torch.bfloat16, torch.float32)
        return cuda_run_problem("xformers", device, dtype, dtypes)

    def attend(self, q, k, v):
        from xformers.ops import LowerTriangularMask, memory_efficient_attention

        o = memory_efficient_attention(
            *(t.transpose(1, 2) for t in (q, k, v)), attn_bias=LowerTriangularMask()
        )
        return o.transpose(1, 2)

    def attend_cached(self, q, keys, values):
        from xformers.ops import memory_efficient_attention

        return memory_efficient_attention(
            *(t.transpose(1, 2) for t in (q, keys, values))
        ).transpose(1, 2)

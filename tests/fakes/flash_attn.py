"""A fake flash-attn 2.8 (``flash_attn_func``, ``flash_attn_with_kvcache``).

Contracts read in Dao-AILab/flash-attention at v2.8.3:
flash_attn/flash_attn_interface.py (``I``) and csrc/flash_attn/flash_api.cpp (``API``).
"""

from __future__ import annotations

from typing import Any

import torch

from models.attention import apply_rotary, softmax_attention

from . import (
    HALVES,
    FakeLibrary,
    require,
    require_dtype,
    require_last_contiguous,
    require_shape,
)

I = "flash_attn/flash_attn_interface.py"
API = "csrc/flash_attn/flash_api.cpp"
MAX_HEAD_DIM = 256


def check_qkv_like(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, where: str) -> None:
    """q (b, sq, h, d), k and v (b, sk, hk, d): one dtype, fp16/bf16, last dim contiguous."""
    require_dtype("q", q, HALVES, f"{API}:373 'FlashAttention only support fp16 and bf16'")
    require(
        k.dtype == q.dtype and v.dtype == q.dtype,
        "q, k and v must share one dtype",
        f"{API}:375-376",
    )
    require(
        q.dim() == 4,
        f"q must be (batch, seqlen, nheads, headdim), got {tuple(q.shape)}",
        f"{where} docstring",
    )
    b, _, h, d = q.shape
    require(
        k.dim() == 4 and k.shape[0] == b and k.shape[3] == d and v.shape == k.shape,
        f"k and v must be (batch, seqlen_k, nheads_k, headdim={d}), got {tuple(k.shape)} and "
        f"{tuple(v.shape)}",
        f"{where} docstring",
    )
    require(h % k.shape[2] == 0, "nheads_k must divide nheads", f"{API}:395")
    require(d <= MAX_HEAD_DIM, f"head dim {d} > {MAX_HEAD_DIM}", f"{API}:393, :1269")
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_last_contiguous(name, t, f"{I}:19-20 maybe_contiguous; {API}:380-382")


def grouped(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(b, s, hk, d) -> (b, heads, s, d): query heads h*g .. h*g+g-1 read kv
    head h (I:1149-1153)."""
    return t.repeat_interleave(heads // t.shape[2], dim=2).transpose(1, 2)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool):
    """Rotary on the first 2 * cos.shape[-1] dims of x (..., s, h, d) with cos and
    sin (s, rotary_dim / 2), in fp32 as the kernel does: half-split pairs
    (i, i + rotary_dim/2), the project's ``apply_rotary``, or interleaved pairs
    (2i, 2i + 1) (I:1553-1556)."""
    dim = 2 * cos.shape[-1]
    part, rest = x[..., :dim], x[..., dim:]
    cos, sin = cos.float()[:, None], sin.float()[:, None]
    if interleaved:
        x1, x2 = part.float()[..., 0::2], part.float()[..., 1::2]
        pairs = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        part = pairs.flatten(-2).to(x.dtype)
    else:
        part = apply_rotary(part, cos, sin)
    return torch.cat((part, rest), dim=-1)


class FakeFlashAttn(FakeLibrary):
    extension = "flash_attn_2_cuda"

    def modules(self) -> dict[str, dict[str, Any]]:
        functions = {
            "flash_attn_func": self.flash_attn_func,
            "flash_attn_with_kvcache": self.flash_attn_with_kvcache,
        }
        return {
            "flash_attn": {"__version__": "2.8.3", **functions},
            "flash_attn.flash_attn_interface": functions,
        }

    def flash_attn_func(
        self,
        q,
        k,
        v,
        dropout_p=0.0,
        softmax_scale=None,
        causal=False,
        window_size=(-1, -1),
        softcap=0.0,
        alibi_slopes=None,
        deterministic=False,
        return_attn_probs=False,
    ):
        """I:1135-1208; the project's reference computes the answer (differentiable,
        as FlashAttnFunc's backward is)."""
        self.calls["flash_attn_func"] += 1
        check_qkv_like(q, k, v, f"{I}:1171-1173")
        require(
            dropout_p == 0.0 and not return_attn_probs and alibi_slopes is None,
            "dropout, attention probabilities and ALiBi are not faked",
            f"{I}:1135",
        )
        require(
            softmax_scale is None and window_size == (-1, -1) and softcap == 0.0,
            "the fake computes the default 1/sqrt(headdim), full-window softmax",
            f"{I}:1175-1178",
        )
        o = softmax_attention(
            q.transpose(1, 2), grouped(k, q.shape[2]), grouped(v, q.shape[2]), causal=causal
        )
        return o.transpose(1, 2).contiguous()

    def flash_attn_with_kvcache(
        self,
        q,
        k_cache,
        v_cache,
        k=None,
        v=None,
        rotary_cos=None,
        rotary_sin=None,
        cache_seqlens=None,
        cache_batch_idx=None,
        cache_leftpad=None,
        block_table=None,
        softmax_scale=None,
        causal=False,
        window_size=(-1, -1),
        softcap=0.0,
        rotary_interleaved=True,
        alibi_slopes=None,
        num_splits=0,
        return_softmax_lse=False,
    ):
        """I:1464-1599: appends k and v to the caches in place at cache_seqlens,
        rotates k (and q) there when given rotary_cos/sin, attends q over the
        filled cache; no backward (I:1525)."""
        self.calls["flash_attn_with_kvcache"] += 1
        require(
            k_cache.stride(-1) == 1 and v_cache.stride(-1) == 1,
            "k_cache and v_cache must have a contiguous last dim",
            f"{I}:1572-1573",
        )
        check_qkv_like(q, k_cache, v_cache, f"{I}:1528-1533")
        require(
            cache_batch_idx is None
            and cache_leftpad is None
            and block_table is None
            and alibi_slopes is None
            and not return_softmax_lse,
            "paged, indexed or left-padded caches and ALiBi are not faked",
            f"{I}:1464",
        )
        require(
            softmax_scale is None and window_size == (-1, -1) and softcap == 0.0,
            "the fake computes the default 1/sqrt(headdim), full-window softmax",
            f"{I}:1548-1552",
        )
        b, sq, h, d = q.shape
        capacity = k_cache.shape[1]
        require(sq <= capacity, "seqlen_q must not exceed the cache's seqlen", f"{API}:1356")
        seqlens = self.seqlens(cache_seqlens, b, k is not None)
        new = 0
        if k is not None:
            require(
                v is not None, "If key is supplied, value must also be passed in", f"{API}:1354"
            )
            check_qkv_like(q, k, v, f"{I}:1534-1536")
            require(
                k.shape[2] == k_cache.shape[2],
                "k's heads must match the cache's",
                f"{API}:1365-1366",
            )
            new = k.shape[1]
        require(
            int(seqlens.max()) + new <= capacity,
            f"cache_seqlens + seqlen_new ({int(seqlens.max())} + {new}) must fit the cache "
            f"({capacity}): the kernel writes past it unchecked",
            f"{I}:1491-1493",
        )
        if rotary_cos is not None:
            self.check_rotary(q, k, rotary_cos, rotary_sin, capacity)
        with torch.no_grad():
            out = torch.empty_like(q)
            for i in range(b):
                start = int(seqlens[i])
                q_i = q[i]
                if k is not None:
                    k_i = k[i]
                    if rotary_cos is not None:
                        cos, sin = rotary_cos[start : start + new], rotary_sin[start : start + new]
                        k_i = rotate(k_i, cos, sin, rotary_interleaved)
                    k_cache[i, start : start + new] = k_i
                    v_cache[i, start : start + new] = v[i]
                if rotary_cos is not None:
                    # causal: queries at cache_seqlens, +1, ...; else all at
                    # cache_seqlens (I:1497-1500)
                    at = torch.arange(start, start + sq) if causal else torch.full((sq,), start)
                    q_i = rotate(q_i, rotary_cos[at], rotary_sin[at], rotary_interleaved)
                filled = start + new
                keys, values = k_cache[i : i + 1, :filled], v_cache[i : i + 1, :filled]
                o = softmax_attention(
                    q_i[None].transpose(1, 2), grouped(keys, h), grouped(values, h), causal=causal
                )
                out[i] = o[0].transpose(0, 1)
        return out

    @staticmethod
    def seqlens(cache_seqlens, batch: int, appending: bool) -> torch.Tensor:
        if cache_seqlens is None:
            require(
                not appending, "If key is supplied, seqlens_k must also be passed in", f"{API}:1355"
            )
            raise AssertionError("a cache without cache_seqlens is not faked")
        if isinstance(cache_seqlens, int):
            return torch.full((batch,), cache_seqlens, dtype=torch.int32)
        require(
            cache_seqlens.dtype == torch.int32, "cache_seqlens must have dtype int32", f"{API}:1388"
        )
        require(cache_seqlens.is_contiguous(), "cache_seqlens must be contiguous", f"{API}:1390")
        require_shape("cache_seqlens", cache_seqlens, (batch,), f"{API}:1391")
        return cache_seqlens.clone()

    @staticmethod
    def check_rotary(q, k, cos, sin, capacity: int) -> None:
        require(k is not None, "rotary cos/sin need the new key and value", f"{API}:1406")
        require(
            sin is not None,
            "If rotary cos is provided, rotary sin must also be provided",
            f"{API}:1418",
        )
        rotary_dim = 2 * cos.shape[1]
        require(rotary_dim <= q.shape[-1], "rotary_dim must be <= headdim", f"{API}:1410")
        require(
            rotary_dim % 16 == 0,
            f"Only rotary dimensions divisible by 16 are supported, got {rotary_dim}",
            f"{API}:1411",
        )
        require(
            cos.shape[0] >= capacity,
            f"cos/sin seqlen ({cos.shape[0]}) must be at least the seqlen of KV cache ({capacity})",
            f"{API}:1413",
        )
        for name, t in (("rotary_cos", cos), ("rotary_sin", sin)):
            require_shape(name, t, (cos.shape[0], rotary_dim // 2), f"{API}:1414, :1421")
            require(t.is_contiguous(), f"{name} must be contiguous", f"{API}:1415, :1422")
            require(
                t.dtype == q.dtype,
                f"{name} must have the same dtype as query ({q.dtype}), got {t.dtype}",
                f"{API}:1416, :1423",
            )

"""A fake xformers 0.0.35 (``xformers.ops.memory_efficient_attention`` and the
operator registry that availability reads).

Contracts read in facebookresearch/xformers at v0.0.35: xformers/ops/fmha/__init__.py
(``F``), xformers/ops/fmha/common.py (``C``), xformers/ops/fmha/cutlass.py (``K``),
xformers/ops/fmha/attn_bias.py (``AB``), xformers/ops/common.py (``OC``).
"""

from __future__ import annotations

from typing import Any

from models.attention import softmax_attention

from . import FLOATS, FakeLibrary, require, require_dtype, require_last_contiguous

F = "xformers/ops/fmha/__init__.py"
C = "xformers/ops/fmha/common.py"
K = "xformers/ops/fmha/cutlass.py"
AB = "xformers/ops/fmha/attn_bias.py"
OC = "xformers/ops/common.py"


class LowerTriangularMask:
    """The causal bias, aligned top-left: query i sees keys 0..i (AB:142-151)."""


def operator(name: str, built: bool) -> type:
    """An operator class as the registry lists them: a CUDA one whose kernel is
    built or, like a wheel without its kernels, resolves to ``no_such_operator``
    and says it is not available (OC:33-40)."""
    return type(
        name,
        (),
        {
            "SUPPORTED_DEVICES": {"cuda"},
            "is_available": classmethod(lambda cls: built),
        },
    )


class FakeXFormers(FakeLibrary):
    extension = "xformers._C"

    def __init__(self, built: bool = True) -> None:
        super().__init__()
        self.built = built

    def modules(self) -> dict[str, dict[str, Any]]:
        fmha = {
            "memory_efficient_attention": self.memory_efficient_attention,
            "LowerTriangularMask": LowerTriangularMask,
            "ALL_FW_OPS": [operator("FwOp", self.built)],
            "ALL_BW_OPS": [operator("BwOp", self.built)],
        }
        return {
            "xformers": {"__version__": "0.0.35"},
            "xformers.ops": dict(fmha),
            "xformers.ops.fmha": fmha,
        }

    def memory_efficient_attention(
        self,
        query,
        key,
        value,
        attn_bias=None,
        p=0.0,
        scale=None,
        *,
        op=None,
        output_dtype=None,
    ):
        """F:199-330; the project's reference computes the answer (differentiable)."""
        self.calls["memory_efficient_attention"] += 1
        qkv = (query, key, value)
        require(
            all(t.dim() == 4 for t in qkv),
            "query, key and value must be [B, M, H, K] (the project's layout)",
            f"{F}:215-216, {C}:210",
        )
        require(
            all(t.dtype == query.dtype for t in qkv),
            "Query/Key/Value should all have the same dtype",
            f"{C}:240-248",
        )
        require(all(t.device == query.device for t in qkv), "one device", f"{C}:219-220")
        require_dtype("query", query, FLOATS, f"{K}:172 SUPPORTED_DTYPES")
        for name, t in zip(("query", "key", "value"), qkv, strict=True):
            require_last_contiguous(name, t, f"{F}:222")
        b, mq, h, k = query.shape
        require(
            key.shape[0] == b and key.shape[2] == h and key.shape[3] == k,
            f"key must be [B={b}, Mkv, H={h}, K={k}], got {tuple(key.shape)}",
            f"{F}:295-296",
        )
        require(value.shape[:3] == key.shape[:3], "value must be [B, Mkv, H, Kv]", f"{F}:297")
        require(value.shape[-1] == k, "different value embedding is not faked", f"{C}:423-424")
        require(
            p == 0.0 and scale is None and op is None and output_dtype is None,
            "dropout, a custom scale, a forced op and an output dtype are not faked",
            f"{F}:298-306",
        )
        causal = attn_bias is not None
        if causal:
            require(
                isinstance(attn_bias, LowerTriangularMask),
                "the only bias faked is LowerTriangularMask",
                f"{F}:299-301",
            )
            # top-left aligned: with Mq != Mkv it is not the causal mask the project means
            require(mq == key.shape[1], "LowerTriangularMask with Mq != Mkv", f"{AB}:146-150")
        o = softmax_attention(*(t.transpose(1, 2) for t in qkv), causal=causal)
        return o.transpose(1, 2).contiguous()

"""A fake causal-conv1d 1.6 (``causal_conv1d_fn``, ``causal_conv1d_update``).

Contracts read in Dao-AILab/causal-conv1d at v1.6.0:
causal_conv1d/causal_conv1d_interface.py (``I``) and csrc/causal_conv1d.cpp (``CPP``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from models.mamba import causal_depthwise_conv

from . import FLOATS, FakeLibrary, require, require_dtype, require_shape

I = "causal_conv1d/causal_conv1d_interface.py"
CPP = "csrc/causal_conv1d.cpp"


def check_activation(activation: Any, where: str) -> None:
    require(
        activation in (None, "silu", "swish"),
        f"activation must be None, silu, or swish, got {activation!r}",
        where,
    )


def check_weight(weight: torch.Tensor, bias: torch.Tensor | None, dim: int, where: str) -> int:
    """weight (dim, width) with width 2..4, bias (dim,) of weight's dtype: the width."""
    require_dtype("weight", weight, FLOATS, f"{CPP}:{where}")
    require(
        weight.dim() == 2 and weight.shape[0] == dim,
        f"weight must be (dim={dim}, width), got {tuple(weight.shape)}",
        f"{I}:111",
    )
    width = weight.shape[1]
    require(
        2 <= width <= 4,
        f"causal_conv1d only supports width between 2 and 4, got {width}",
        f"{CPP}:182, :496",
    )
    if bias is not None:
        require(bias.dtype == weight.dtype, "bias must have weight's dtype", f"{CPP}:186, :500")
        require(bias.stride(-1) == 1, "bias must be contiguous", f"{CPP}:188, :502")
        require_shape("bias", bias, (dim,), f"{I}:112")
    return width


def convolved(x: torch.Tensor, weight, bias, activation) -> torch.Tensor:
    """The project's conv over (b, dim, L), in fp32 as the kernel computes, out in x's dtype."""
    bias = None if bias is None else bias.float()
    out = causal_depthwise_conv(x.float().transpose(1, 2), weight.float(), bias).transpose(1, 2)
    return (out if activation is None else F.silu(out)).to(x.dtype)


class FakeCausalConv1d(FakeLibrary):
    extension = "causal_conv1d_cuda"

    def modules(self) -> dict[str, dict[str, Any]]:
        functions = {
            "causal_conv1d_fn": self.causal_conv1d_fn,
            "causal_conv1d_update": self.causal_conv1d_update,
        }
        return {
            "causal_conv1d": {"__version__": "1.6.0", **functions},
            "causal_conv1d.causal_conv1d_interface": functions,
        }

    def causal_conv1d_fn(
        self,
        x,
        weight,
        bias=None,
        seq_idx=None,
        initial_states=None,
        return_final_states=False,
        final_states_out=None,
        activation=None,
    ):
        """I:99-129: x (batch, dim, seqlen) -> out of x's shape and dtype; differentiable."""
        self.calls["causal_conv1d_fn"] += 1
        check_conv_input(x, weight, bias, activation)
        require(
            seq_idx is None
            and initial_states is None
            and not return_final_states
            and final_states_out is None,
            "sequence indices and states are not faked",
            f"{I}:99",
        )
        return convolved(x, weight, bias, activation).contiguous()

    def causal_conv1d_update(
        self,
        x,
        conv_state,
        weight,
        bias=None,
        activation=None,
        cache_seqlens=None,
        conv_state_indices=None,
    ):
        """I:174-202: shifts x into conv_state (batch, dim, state_len) in place and
        returns the conv at x's positions; no autograd (a decode kernel)."""
        self.calls["causal_conv1d_update"] += 1
        check_activation(activation, f"{I}:191-192")
        require(
            x.dim() in (2, 3),
            f"x must be (batch, dim) or (batch, dim, seqlen), got {tuple(x.shape)}",
            f"{I}:176",
        )
        require_dtype("x", x, FLOATS, f"{CPP}:477")
        require(
            conv_state.dtype == x.dtype,
            f"conv_state must have x's dtype {x.dtype}, got {conv_state.dtype}",
            f"{CPP}:479",
        )
        width = check_weight(weight, bias, x.shape[1], "478")
        state_len = conv_state.shape[-1]
        require(
            conv_state.shape == (x.shape[0], x.shape[1], state_len),
            "conv_state must be (batch, dim, state_len)",
            f"{CPP}:529",
        )
        require(state_len >= width - 1, "state_len must be >= width - 1", f"{CPP}:491")
        require(
            cache_seqlens is None and conv_state_indices is None,
            "circular and indexed states are not faked",
            f"{I}:180-187",
        )
        with torch.no_grad():
            x3 = x if x.dim() == 3 else x.unsqueeze(-1)
            window = torch.cat([conv_state, x3], dim=-1)
            conv_state.copy_(window[..., -state_len:])
            out = convolved(window, weight, bias, activation)[..., -x3.shape[-1] :]
        return out if x.dim() == 3 else out.squeeze(-1)


def check_conv_input(x, weight, bias, activation) -> None:
    check_activation(activation, f"{I}:22-23")
    require_dtype("x", x, FLOATS, f"{CPP}:160")
    require(x.dim() == 3, f"x must be (batch, dim, seqlen), got {tuple(x.shape)}", f"{I}:110")
    require(
        x.stride(2) == 1 or x.stride(1) == 1,
        f"x must have seqlen or dim contiguous (strides {x.stride()}): the wrapper would copy it",
        f"{I}:24-25, {CPP}:175",
    )
    if x.stride(1) == 1 and x.stride(2) > 1:  # channel-last
        require(
            x.shape[1] % 8 == 0 and x.stride(2) % 8 == 0 and x.stride(0) % 8 == 0,
            "channel-last x needs dim and strides that are multiples of 8",
            f"{CPP}:179-180",
        )
    check_weight(weight, bias, x.shape[1], "161")

"""The backbone shared by every mixer, so that only the mixer differs:
embedding -> n_layers x [norm -> mixer, norm -> MLP] (pre-norm residual)
-> final norm -> head (classification or language model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from .base import check_positive
from .registry import build_mixer


@dataclass
class BackboneConfig:
    mixer: str
    d_model: int = 128
    n_layers: int = 2
    vocab_size: int = 256
    head: Literal["classify", "lm"] = "lm"
    n_classes: int = 2
    pooling: Literal["mean", "first"] = "mean"
    mlp_ratio: int = 4
    mixer_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "vocab_size", "n_classes", "mlp_ratio"):
            check_positive(name, getattr(self, name))
        if self.head not in ("classify", "lm"):
            raise ValueError(f"head must be 'classify' or 'lm', got {self.head!r}")
        if self.pooling not in ("mean", "first"):
            raise ValueError(f"pooling must be 'mean' or 'first', got {self.pooling!r}")


class MLP(nn.Module):
    def __init__(self, d_model: int, ratio: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, ratio * d_model)
        self.proj = nn.Linear(ratio * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(nn.functional.gelu(self.fc(x)))


def kept_dtype(y: torch.Tensor, x: torch.Tensor, mixer: nn.Module) -> torch.Tensor:
    """``y``, a mixer's output, when adding it to the residual stream ``x``
    keeps ``x``'s dtype (autocast's lower precision does); else a TypeError
    naming the mixer and its output's dtype, where torch would fail later, in
    a norm, with "mixed dtype"."""
    if y.dtype is not x.dtype and torch.promote_types(y.dtype, x.dtype) != x.dtype:
        name = f"{getattr(mixer, 'family', '?')}/{getattr(mixer, 'variant', '?')}"
        raise TypeError(
            f"mixer {name} returned {str(y.dtype).removeprefix('torch.')} for a "
            f"{str(x.dtype).removeprefix('torch.')} input; a mixer returns its input's dtype"
        )
    return y


class Block(nn.Module):
    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.mixer = build_mixer(cfg.mixer, cfg.d_model, **cfg.mixer_config)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg.d_model, cfg.mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + kept_dtype(self.mixer(self.norm1(x)), x, self.mixer)
        return x + self.mlp(self.norm2(x))

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        y, state = self.mixer.prefill(self.norm1(x))
        x = x + kept_dtype(y, x, self.mixer)
        return x + self.mlp(self.norm2(x)), state

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        y, state = self.mixer.step(self.norm1(x_t), state)
        x_t = x_t + kept_dtype(y, x_t, self.mixer)
        return x_t + self.mlp(self.norm2(x_t)), state


class Backbone(nn.Module):
    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        out = cfg.vocab_size if cfg.head == "lm" else cfg.n_classes
        self.head = nn.Linear(cfg.d_model, out)

    @property
    def mixers(self) -> list[nn.Module]:
        return [block.mixer for block in self.blocks]

    def check_tokens(self, tokens: torch.Tensor) -> None:
        if tokens.dim() != 2 or tokens.dtype not in (torch.long, torch.int32, torch.int64):
            raise ValueError(
                f"tokens must be an integer tensor of shape (batch, length), "
                f"got {tokens.dtype} of shape {tuple(tokens.shape)}"
            )

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hidden states after the final norm: (batch, length, d_model)."""
        self.check_tokens(tokens)
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def pool(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, length, d) -> (batch, d); ``mask`` (batch, length) marks real
        tokens so that padding does not dilute the mean."""
        if self.cfg.pooling == "first":
            return h[:, 0]
        if mask is None:
            return h.mean(dim=1)
        mask = mask.to(h.dtype).unsqueeze(-1)
        return (h * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """LM head: logits (batch, length, vocab). Classification: (batch, n_classes)."""
        h = self.features(tokens)
        if self.cfg.head == "lm":
            return self.head(h)
        return self.head(self.pool(h, mask))

    # -- decoding (LM head) -------------------------------------------------
    def prefill(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[Any]]:
        """Run a prompt at once; returns the last position's logits and the states."""
        self.check_tokens(tokens)
        x = self.embed(tokens)
        states = []
        for block in self.blocks:
            x, state = block.prefill(x)
            states.append(state)
        return self.head(self.norm(x[:, -1])), states

    def step(self, token: torch.Tensor, states: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """One new token (batch,) -> logits (batch, vocab) and the new states."""
        x = self.embed(token)
        new_states = []
        for block, state in zip(self.blocks, states, strict=True):
            x, state = block.step(x, state)
            new_states.append(state)
        return self.head(self.norm(x)), new_states


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

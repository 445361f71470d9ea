"""A model for a task, built on the shared Backbone so only the mixer differs.

- ``per_token``: the backbone's LM head, logits (batch, length, vocab);
- ``classify``: mean or first-token pooling over real (non-pad) tokens, then a
  linear head, logits (batch, n_classes);
- ``pair`` (LRA Retrieval): a two-tower model; both documents go through the
  same backbone and pooling, giving u and v, and an MLP classifies
  [u, v, u * v, u - v] (the LRA paper's setup).
Every model's ``forward(tokens)`` returns logits whose last dimension is the
class axis, so one cross-entropy (with IGNORE_INDEX) trains them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from models.backbone import Backbone, BackboneConfig

from .base import TaskSpec


@dataclass
class ModelConfig:
    mixer: str
    d_model: int = 64
    n_layers: int = 2
    pooling: Literal["mean", "first"] = "mean"
    mlp_ratio: int = 4
    mixer_config: dict[str, Any] = field(default_factory=dict)


class SequenceModel(nn.Module):
    """``per_token`` and ``classify`` tasks: the backbone with its own head."""

    def __init__(self, spec: TaskSpec, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg  # a checkpoint's identity includes it
        self.pad_id = spec.pad_id
        head = "lm" if spec.kind == "per_token" else "classify"
        self.backbone = Backbone(backbone_config(spec, cfg, head))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.backbone.cfg.head == "lm":
            return self.backbone(tokens)
        return self.backbone(tokens, mask=tokens != self.pad_id)


class TwoTowerClassifier(nn.Module):
    """``pair`` tasks: tokens (batch, 2, length) -> logits (batch, n_classes)."""

    def __init__(self, spec: TaskSpec, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg  # a checkpoint's identity includes it
        self.pad_id = spec.pad_id
        self.backbone = Backbone(backbone_config(spec, cfg, "classify"))
        # the towers' output is the pooled features; the classifier below replaces the head
        self.backbone.head = nn.Identity()
        hidden = cfg.mlp_ratio * cfg.d_model
        self.classifier = nn.Sequential(
            nn.Linear(4 * cfg.d_model, hidden), nn.GELU(), nn.Linear(hidden, spec.n_classes)
        )

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, length) -> pooled features (batch, d_model)."""
        return self.backbone(tokens, mask=tokens != self.pad_id)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 3 or tokens.shape[1] != 2:
            raise ValueError(
                f"pair tokens must have shape (batch, 2, length), got {tuple(tokens.shape)}"
            )
        batch = tokens.shape[0]
        # one backbone pass over both documents: the towers share weights
        both = self.encode(tokens.flatten(0, 1)).view(batch, 2, -1)
        u, v = both[:, 0], both[:, 1]
        return self.classifier(torch.cat((u, v, u * v, u - v), dim=-1))


def backbone_config(spec: TaskSpec, cfg: ModelConfig, head: str) -> BackboneConfig:
    return BackboneConfig(
        mixer=cfg.mixer,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        vocab_size=spec.vocab_size,
        head=head,
        n_classes=spec.n_classes,
        pooling=cfg.pooling,
        mlp_ratio=cfg.mlp_ratio,
        mixer_config=dict(cfg.mixer_config),
    )


def build_model(spec: TaskSpec, cfg: ModelConfig) -> nn.Module:
    """The model for ``spec``'s kind; raises ``MixerUnavailable`` when the mixer
    cannot run here."""
    if spec.kind == "pair":
        return TwoTowerClassifier(spec, cfg)
    if spec.kind in ("classify", "per_token"):
        return SequenceModel(spec, cfg)
    raise ValueError(f"unknown task kind {spec.kind!r}; expected classify, pair or per_token")

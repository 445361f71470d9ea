"""A model for a task, built on the shared Backbone so only the mixer differs.

- ``per_token``: the backbone's LM head, logits (batch, length, vocab);
- ``classify``: mean or first-token pooling over real (non-pad) tokens, then a
  linear head, logits (batch, n_classes);
- ``pair`` (LRA Retrieval): a two-tower model; both documents go through the
  same backbone and pooling, giving u and v, and an MLP classifies
  [u, v, u * v, u - v] (the LRA paper's setup);
- ``reconstruct`` (MAD's compression): an encoder-decoder; the backbone's output at
  the last position is the code, and an MLP decodes every position's token from the
  code and that position's embedding, logits (batch, length, vocab).
Every model's ``forward(tokens)`` returns logits whose last dimension is the
class axis, so one cross-entropy (with IGNORE_INDEX) trains them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from models.backbone import Backbone, BackboneConfig

from .base import RECONSTRUCT, TaskSpec


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


class ReconstructionModel(nn.Module):
    """``reconstruct`` tasks: tokens (batch, length) -> logits (batch, length, vocab),
    every position decoded from the last position's features alone.

    MAD's AutoEncoder (athms/mad-lab@0f49a45 mad/model/auto_encoder.py): the code is
    the encoder's output at the last position (``global_pool='last'``, lines 102-105);
    the decoder adds a fixed sine-cosine embedding of the position to decode (line 50,
    117) and runs it through a non-expanding MLP, norm -> d x d -> GELU twice (lines
    63-70), then a norm and the projection to the vocabulary (line 72). The norms are
    this backbone's LayerNorm where MAD has RMSNorm. A causal mixer's last position
    is the only one that has read the whole sequence, so the task measures how much
    of it a mixer's output there keeps."""

    def __init__(self, spec: TaskSpec, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg  # a checkpoint's identity includes it
        self.backbone = Backbone(backbone_config(spec, cfg, "classify"))
        # the encoder's features are the code; the decoder below replaces the head
        self.backbone.head = nn.Identity()
        d = cfg.d_model
        # a fixed table, not a parameter (MAD's is a plain tensor): no state to save
        self.register_buffer("positions", sincos_positions(spec.seq_len, d), persistent=False)
        self.decoder = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(),
            nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(),
            nn.LayerNorm(d), nn.Linear(d, spec.vocab_size),
        )  # fmt: skip

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[-1]
        if length > len(self.positions):
            raise ValueError(
                f"a reconstruct model decodes at most {len(self.positions)} positions (the "
                f"task's seq_len), got {length} tokens; build it for the longer length"
            )
        code = self.backbone.features(tokens)[:, -1]
        return self.decoder(code.unsqueeze(1) + self.positions[:length])


def sincos_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim): the sines of position x frequency, then their cosines, the
    frequencies geometric from 1 down to 1/10000 (the Transformer's); an odd ``dim``
    ends in a zero column."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000) * torch.arange(half) / max(1, half - 1))
    angles = torch.arange(length).unsqueeze(1) * frequencies
    table = torch.cat((angles.sin(), angles.cos()), dim=1)
    return nn.functional.pad(table, (0, dim - 2 * half))


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
    if spec.kind == RECONSTRUCT:
        return ReconstructionModel(spec, cfg)
    if spec.kind in ("classify", "per_token"):
        return SequenceModel(spec, cfg)
    raise ValueError(
        f"unknown task kind {spec.kind!r}; expected classify, pair, per_token or {RECONSTRUCT}"
    )

"""Compression, after MAD (Poli et al., 2024, athms/mad-lab).

``seq_len - 1`` random tokens and a compression token at the end; the model
must reconstruct every token from the compression token's output alone (MAD's
"token concatenation": a sequence assembled onto one token so that an MLP can
decode it).

That bottleneck is the model's, not the data's: MAD trains this task with its
AutoEncoder backbone (benchmark.py:213 picks it for compression;
mad/model/auto_encoder.py: the last position's output, plus a sine-cosine
embedding of the position to decode, through a two-layer MLP to the vocabulary).
A causal language model reading the targets position by position would copy its
input and prove nothing, so this task's spec has kind ``RECONSTRUCT``, which
tasks/model.py's ReconstructionModel serves with such a decoder.

Token ids are MAD's plus one: 0 is the pad id (never used), content tokens
``[1, vocab_size)``, the compression token ``vocab_size``; the spec's
vocabulary is ``vocab_size + 1``. The targets are the content tokens at their
positions and ``IGNORE_INDEX`` at the compression token (MAD also scores the
compression token itself, which only its own position asks for: its generator
returns the inputs as the targets, mad/data/instances.py:509). A run's accuracy
is the share of content tokens reconstructed, over every position of every test
sequence; MAD's metric (mad/metrics.py:5-14, torchmetrics' MulticlassAccuracy at
its default) averages that share per token id instead, which for tokens drawn
uniformly is the same in expectation. MAD's generator can mix in noise; its
settings never do, and this one leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, RECONSTRUCT, TaskData, TaskSpec, split_sizes
from .common import generate_splits, per_token_data


@dataclass(frozen=True)
class CompressionConfig:
    seq_len: int = 32
    #: MAD's vocabulary: content tokens and the compression token (pad id on top)
    vocab_size: int = 16
    #: which of MAD's difficulty settings this is ("baseline", "vocab_size=32", ...):
    #: the task's MAD score is the mean over its settings
    difficulty: str = "baseline"

    def __post_init__(self) -> None:
        if self.vocab_size < 3:
            raise ValueError(
                f"vocab_size must be at least 3 (two content tokens and the compression "
                f"token), got {self.vocab_size}"
            )
        if self.seq_len < 2:
            raise ValueError(
                f"seq_len must be at least 2 (a token and the compression token), "
                f"got {self.seq_len}"
            )

    @property
    def compression_id(self) -> int:
        return self.vocab_size

    def spec(self) -> TaskSpec:
        name = f"compression-v{self.vocab_size}-L{self.seq_len}"
        return TaskSpec(name, RECONSTRUCT, self.vocab_size + 1, self.seq_len, self.vocab_size + 1)


def compression_examples(
    n: int, cfg: CompressionConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len)."""
    tokens = torch.randint(1, cfg.vocab_size, (n, cfg.seq_len), generator=gen)
    tokens[:, -1] = cfg.compression_id
    targets = tokens.clone()
    targets[:, -1] = IGNORE_INDEX
    return tokens, targets


def make_compression(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: CompressionConfig | None = None,
    **overrides,
) -> TaskData:
    """Compression train, val and test splits (``n_val`` None: as many as
    ``n_test``); ``overrides`` set fields of ``CompressionConfig``,
    e.g. ``make_compression(2000, 200, seed=0, seq_len=64)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or CompressionConfig(), **overrides)
    return per_token_data(cfg.spec(), generate_splits(compression_examples, cfg, counts, seed))

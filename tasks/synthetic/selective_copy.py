"""Selective copying, after the Mamba paper (Gu & Dao, 2023, section 3.1).

``n_copy`` data tokens are scattered at random positions of a region filled
with a noise token; ``n_copy`` marker tokens follow. At the i-th marker the
model must output the i-th data token: it has to remember the content and
skip the noise, which a time-invariant convolution cannot do by a fixed shift.
With ``seq_len == 2 * n_copy`` there is no noise and the task is plain copying.

Tokens: 0 pad (unused), 1 noise, 2 marker, data tokens from [3, vocab_size).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, TaskData, TaskSpec, split_sizes
from .common import generate_splits, per_token_data

NOISE_ID = 1
MARKER_ID = 2
FIRST_DATA_ID = 3


@dataclass(frozen=True)
class SelectiveCopyConfig:
    seq_len: int = 64
    vocab_size: int = 16
    n_copy: int = 8

    def __post_init__(self) -> None:
        if self.vocab_size <= FIRST_DATA_ID:
            raise ValueError(
                f"vocab_size must exceed {FIRST_DATA_ID} (pad, noise and marker are "
                f"reserved), got {self.vocab_size}"
            )
        if self.n_copy < 1:
            raise ValueError(f"n_copy must be a positive integer, got {self.n_copy}")
        if self.seq_len < 2 * self.n_copy:
            raise ValueError(
                f"seq_len must be at least 2 * n_copy = {2 * self.n_copy} (data tokens "
                f"and as many markers), got {self.seq_len}"
            )

    @property
    def region_len(self) -> int:
        """Length of the part holding data and noise, before the markers."""
        return self.seq_len - self.n_copy

    def spec(self) -> TaskSpec:
        name = f"selective-copy-n{self.n_copy}-L{self.seq_len}"
        return TaskSpec(name, "per_token", self.vocab_size, self.seq_len, self.vocab_size)


def selective_copy_examples(
    n: int, cfg: SelectiveCopyConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len)."""
    data = torch.randint(FIRST_DATA_ID, cfg.vocab_size, (n, cfg.n_copy), generator=gen)
    # sorted random positions keep the data tokens in the order they must be output
    ranks = torch.rand(n, cfg.region_len, generator=gen).argsort(dim=1)
    positions = ranks[:, : cfg.n_copy].sort(dim=1).values

    tokens = torch.full((n, cfg.seq_len), NOISE_ID, dtype=torch.long)
    tokens.scatter_(1, positions, data)
    tokens[:, cfg.region_len :] = MARKER_ID

    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets[:, cfg.region_len :] = data
    return tokens, targets


def make_selective_copy(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: SelectiveCopyConfig | None = None,
    **overrides,
) -> TaskData:
    """Selective-copying train, val and test splits (``n_val`` None: as many as
    ``n_test``); ``overrides`` set fields of
    ``SelectiveCopyConfig``, e.g. ``make_selective_copy(1000, 100, seed=0, n_copy=4)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or SelectiveCopyConfig(), **overrides)
    return per_token_data(cfg.spec(), generate_splits(selective_copy_examples, cfg, counts, seed))

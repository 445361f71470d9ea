"""Induction heads, after the H3 paper (Fu et al., 2023).

A random sequence of content tokens contains a trigger token once, followed by
some token X; the sequence ends with the trigger again, and at that last
position the model must predict X ("what came after this token last time?").

Tokens: 0 pad (unused), 1 trigger, content from [2, vocab_size). The first
occurrence lies anywhere from the start to three positions before the end, so
that X is not the last token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, TaskData, TaskSpec, split_sizes
from .common import generate_splits, per_token_data

TRIGGER_ID = 1
FIRST_CONTENT_ID = 2


@dataclass(frozen=True)
class InductionConfig:
    seq_len: int = 64
    vocab_size: int = 16

    def __post_init__(self) -> None:
        if self.vocab_size <= FIRST_CONTENT_ID:
            raise ValueError(
                f"vocab_size must exceed {FIRST_CONTENT_ID} (pad and trigger are reserved), "
                f"got {self.vocab_size}"
            )
        if self.seq_len < 4:
            raise ValueError(
                f"seq_len must be at least 4 (trigger, its successor, some context and the "
                f"final trigger), got {self.seq_len}"
            )

    def spec(self) -> TaskSpec:
        name = f"induction-L{self.seq_len}"
        return TaskSpec(name, "per_token", self.vocab_size, self.seq_len, self.vocab_size)


def induction_examples(
    n: int, cfg: InductionConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len)."""
    tokens = torch.randint(FIRST_CONTENT_ID, cfg.vocab_size, (n, cfg.seq_len), generator=gen)
    first = torch.randint(0, cfg.seq_len - 2, (n, 1), generator=gen)
    tokens.scatter_(1, first, TRIGGER_ID)
    tokens[:, -1] = TRIGGER_ID

    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets[:, -1] = tokens.gather(1, first + 1).squeeze(1)
    return tokens, targets


def make_induction(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: InductionConfig | None = None,
    **overrides,
) -> TaskData:
    """Induction-head train, val and test splits (``n_val`` None: as many as
    ``n_test``); ``overrides`` set fields of
    ``InductionConfig``, e.g. ``make_induction(1000, 100, seed=0, seq_len=256)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or InductionConfig(), **overrides)
    return per_token_data(cfg.spec(), generate_splits(induction_examples, cfg, counts, seed))

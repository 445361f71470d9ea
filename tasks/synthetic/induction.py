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

from ..base import IGNORE_INDEX, TaskData, TaskSpec
from .common import check_counts, per_token_data, split_generators

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
    n_train: int, n_test: int, *, seed: int, config: InductionConfig | None = None, **overrides
) -> TaskData:
    """Induction-head train and test splits; ``overrides`` set fields of
    ``InductionConfig``, e.g. ``make_induction(1000, 100, seed=0, seq_len=256)``."""
    check_counts(n_train, n_test)
    cfg = replace(config or InductionConfig(), **overrides)
    train_gen, test_gen = split_generators(seed)
    return per_token_data(
        cfg.spec(),
        induction_examples(n_train, cfg, train_gen),
        induction_examples(n_test, cfg, test_gen),
    )

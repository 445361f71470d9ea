"""Memorization, after MAD (Poli et al., 2024, athms/mad-lab).

One fixed key-value map (a random one-to-one map from the keys, the lower half
of the vocabulary, into the values, the upper half) holds for every sequence of
a seed, in every split: facts to be learned from the training data, with nothing
in the context that gives them away. A sequence is ``seq_len // 2`` slots
``k INSERT``, keys drawn uniformly with repetition; at every insert token the
model must output the value the map gives the key before it.

Token ids are MAD's plus one: 0 is the pad id (never used), keys
``[1, 1 + n_keys)``, values ``[1 + n_keys, vocab_size)``, the insert token
``vocab_size``; the spec's vocabulary is ``vocab_size + 1``.

The map is the training stream's first draw, so the train split (and only it)
continues that stream; validation and test draw their keys from their own
streams and share the map. MAD's memorization can also mix in noise; its
settings never do, and this generator leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, TaskData, TaskSpec, split_sizes
from .common import per_token_data, split_generator


@dataclass(frozen=True)
class MemorizationConfig:
    seq_len: int = 32
    #: MAD's vocabulary: keys, values and the insert token (the pad id comes on top)
    vocab_size: int = 256
    #: which of MAD's difficulty settings this is ("baseline", "vocab_size=512",
    #: ...): the task's MAD score is the mean over its settings
    difficulty: str = "baseline"

    def __post_init__(self) -> None:
        if self.vocab_size < 3:
            raise ValueError(
                f"vocab_size must be at least 3 (a key, a value and the insert token), "
                f"got {self.vocab_size}"
            )
        if self.seq_len < 2 or self.seq_len % 2:
            raise ValueError(
                f"seq_len must be an even number of at least 2 (key and insert-token slots), "
                f"got {self.seq_len}"
            )

    @property
    def n_keys(self) -> int:
        return (self.vocab_size - 1) // 2

    @property
    def first_value(self) -> int:
        return 1 + self.n_keys

    @property
    def insert_id(self) -> int:
        return self.vocab_size

    def spec(self) -> TaskSpec:
        name = f"memorization-v{self.vocab_size}-L{self.seq_len}"
        return TaskSpec(name, "per_token", self.vocab_size + 1, self.seq_len, self.vocab_size + 1)


def draw_key_value_map(cfg: MemorizationConfig, gen: torch.Generator) -> torch.Tensor:
    """(n_keys,) the value token of each key, distinct values."""
    n_values = cfg.vocab_size - cfg.first_value
    return cfg.first_value + torch.randperm(n_values, generator=gen)[: cfg.n_keys]


def memorization_examples(
    n: int, cfg: MemorizationConfig, value_of: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len)."""
    keys = torch.randint(0, cfg.n_keys, (n, cfg.seq_len // 2), generator=gen)
    tokens = torch.stack((1 + keys, torch.full_like(keys, cfg.insert_id)), dim=2)
    targets = torch.stack((torch.full_like(keys, IGNORE_INDEX), value_of[keys]), dim=2)
    return tokens.reshape(n, cfg.seq_len), targets.reshape(n, cfg.seq_len)


def make_memorization(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: MemorizationConfig | None = None,
    **overrides,
) -> TaskData:
    """Memorization train, val and test splits under one key-value map (``n_val``
    None: as many as ``n_test``); ``overrides`` set fields of
    ``MemorizationConfig``, e.g. ``make_memorization(256, 128, seed=0, vocab_size=512)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or MemorizationConfig(), **overrides)
    train_stream = split_generator(seed, "train")
    value_of = draw_key_value_map(cfg, train_stream)
    splits = {"train": memorization_examples(counts["train"], cfg, value_of, train_stream)}
    for split in ("val", "test"):
        stream = split_generator(seed, split)
        splits[split] = memorization_examples(counts[split], cfg, value_of, stream)
    return per_token_data(cfg.spec(), splits)

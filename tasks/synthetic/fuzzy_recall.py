"""Fuzzy in-context recall, after MAD (Poli et al., 2024, athms/mad-lab).

In-context recall where a key is a motif of 1 to ``key_motif_size`` adjacent
tokens and a value one of 1 to ``value_motif_size`` (distinct tokens within a
motif). Keys and values come from disjoint halves of the vocabulary, so the
pairs can be told apart without separators; within one sequence a key always
comes with the same value. Pairs follow each other until the next would not
fit; the sequence is left-padded and ends with a query: a pair whose key (the
probe) appears earlier at a random place. Every pair whose key was seen before
is a query (MAD's ``multi_query``): from the key's last token on, the model
must predict the value's tokens, each at the position before it.

As in MAD, training keys have random motif sizes while validation and test
keys always have ``key_motif_size`` tokens (values vary in every split): the
model must group adjacent tokens into one key in training and recall whole
motifs in evaluation.

Token ids: 0 is the pad id (MAD's pad, ``vocab_size - 1``, moved to 0), keys
``[1, 1 + n_keys)``, values ``[1 + n_keys, vocab_size)``; the spec's vocabulary
is ``vocab_size``, as in MAD.

Where this differs from mad-lab's generator (mad/data/instances.py): every
split labels the queries only (MAD trains on every next token); the probe's
earlier occurrence is always placed (MAD's can be skipped at some lengths, which
leaves a sequence without a query).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, TaskData, TaskSpec, split_sizes
from .common import SPLITS, per_token_data, split_generator

Motif = tuple[int, ...]


@dataclass(frozen=True)
class FuzzyRecallConfig:
    seq_len: int = 128
    #: MAD's vocabulary, its pad token included
    vocab_size: int = 16
    key_motif_size: int = 3
    value_motif_size: int = 3
    #: which of MAD's difficulty settings this is ("baseline", "seq_len=256", ...):
    #: the task's MAD score is the mean over its settings
    difficulty: str = "baseline"

    def __post_init__(self) -> None:
        for name in ("key_motif_size", "value_motif_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.n_keys < self.key_motif_size or self.n_values < self.value_motif_size:
            need = 1 + 2 * max(self.key_motif_size, self.value_motif_size)
            raise ValueError(
                f"vocab_size {self.vocab_size} leaves {self.n_keys} keys and {self.n_values} "
                f"values, fewer than a motif's distinct tokens: raise vocab_size to {need}"
            )
        if self.seq_len < 2 * self.max_pair:
            raise ValueError(
                f"seq_len must be at least 2 * (key_motif_size + value_motif_size) = "
                f"{2 * self.max_pair} (the probe pair and its query), got {self.seq_len}"
            )

    @property
    def n_keys(self) -> int:
        return (self.vocab_size - 1) // 2

    @property
    def n_values(self) -> int:
        return self.vocab_size - 1 - self.n_keys

    @property
    def first_value(self) -> int:
        return 1 + self.n_keys

    @property
    def max_pair(self) -> int:
        return self.key_motif_size + self.value_motif_size

    def spec(self) -> TaskSpec:
        name = (
            f"fuzzy-recall-v{self.vocab_size}-L{self.seq_len}"
            f"-k{self.key_motif_size}v{self.value_motif_size}"
        )
        return TaskSpec(name, "per_token", self.vocab_size, self.seq_len, self.vocab_size)


def draw_motif(rng: random.Random, first: int, count: int, size: int) -> Motif:
    """``size`` distinct tokens from ``[first, first + count)``, in random order."""
    return tuple(rng.sample(range(first, first + count), size))


def fuzzy_pairs(
    cfg: FuzzyRecallConfig, rng: random.Random, variable_keys: bool
) -> list[tuple[Motif, Motif]]:
    """One sequence's pairs in order, its last the query of the probe."""

    def key() -> Motif:
        size = rng.randint(1, cfg.key_motif_size) if variable_keys else cfg.key_motif_size
        return draw_motif(rng, 1, cfg.n_keys, size)

    def value() -> Motif:
        size = rng.randint(1, cfg.value_motif_size)
        return draw_motif(rng, cfg.first_value, cfg.n_values, size)

    probe = key()
    values = {probe: value()}
    probe_len = len(probe) + len(values[probe])
    room = cfg.seq_len - 2 * probe_len  # the probe's occurrence and its query
    pairs: list[tuple[Motif, Motif]] = []
    while True:
        k = key()
        v = values.setdefault(k, value())
        room -= len(k) + len(v)
        if room < 0:
            break
        pairs.append((k, v))
    pairs.insert(rng.randint(0, len(pairs)), (probe, values[probe]))
    return [*pairs, (probe, values[probe])]


def fuzzy_sequence(cfg: FuzzyRecallConfig, pairs: list[tuple[Motif, Motif]]):
    """Tokens and targets of ``pairs``, left-padded to ``seq_len``: a repeated
    key's value is predicted token by token, each at the position before it."""
    tokens: list[int] = []
    targets: list[int] = []
    seen: set[Motif] = set()
    for k, v in pairs:
        tokens += [*k, *v]
        targets += [IGNORE_INDEX] * (len(k) + len(v))
        if k in seen:
            targets[len(targets) - len(v) - 1 : len(targets) - 1] = v
        seen.add(k)
    pad = cfg.seq_len - len(tokens)
    return [0] * pad + tokens, [IGNORE_INDEX] * pad + targets


def fuzzy_recall_examples(
    n: int, cfg: FuzzyRecallConfig, gen: torch.Generator, *, variable_keys: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len). Variable-length
    motifs are drawn in Python, from one stream seeded by ``gen``."""
    rng = random.Random(int(torch.randint(0, 2**62, (1,), generator=gen)))
    rows = [fuzzy_sequence(cfg, fuzzy_pairs(cfg, rng, variable_keys)) for _ in range(n)]
    tokens, targets = zip(*rows, strict=True)
    return torch.tensor(tokens), torch.tensor(targets)


def make_fuzzy_recall(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: FuzzyRecallConfig | None = None,
    **overrides,
) -> TaskData:
    """Fuzzy-recall train, val and test splits (``n_val`` None: as many as
    ``n_test``); training keys have 1 to ``key_motif_size`` tokens, evaluation
    keys ``key_motif_size``; ``overrides`` set fields of ``FuzzyRecallConfig``,
    e.g. ``make_fuzzy_recall(2000, 200, seed=0, seq_len=64)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or FuzzyRecallConfig(), **overrides)
    splits = {
        s: fuzzy_recall_examples(
            counts[s], cfg, split_generator(seed, s), variable_keys=s == "train"
        )
        for s in SPLITS
    }
    return per_token_data(cfg.spec(), splits)

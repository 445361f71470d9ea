"""Noisy in-context recall, after MAD (Poli et al., 2024, athms/mad-lab).

A sequence is ``seq_len // 2`` two-token slots. A slot holds a key-value pair
``k v`` (keys and values from disjoint parts of the vocabulary; within one
sequence a key always comes with the same value, drawn when the key first
appears) or, with probability ``frac_noise``, two tokens of a separate noise
vocabulary. The last slot repeats a key seen earlier. Every pair whose key was
seen before is a query (MAD's ``multi_query``): at the key's position the model
must predict its value. The noise adds a memorization aspect: the model has to
learn which tokens never matter. With ``frac_noise == 0`` this is MAD's plain
in-context recall.

Token ids are MAD's plus one: 0 is the pad id (never used), keys are
``[1, 1 + n_keys)``, values follow, then the noise vocabulary; the spec's
vocabulary is ``vocab_size + 1``.

Where this differs from mad-lab's generator (mad/data/instances.py): MAD trains
on every next token and scores the queries; here every split labels the queries
only, as the suite's other recall tasks do. MAD's sequence drops its last token
(inputs ``[:-1]``); here the whole ``seq_len`` tokens are kept, the final value
carrying no label.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, TaskData, TaskSpec, split_sizes
from .common import generate_splits, per_token_data


@dataclass(frozen=True)
class NoisyRecallConfig:
    seq_len: int = 128
    #: MAD's vocabulary: keys, values and noise together (the pad id comes on top)
    vocab_size: int = 32
    noise_vocab_size: int = 16
    frac_noise: float = 0.2
    #: which of MAD's difficulty settings this is ("baseline", "seq_len=256", ...):
    #: the task's MAD score is the mean over its settings
    difficulty: str = "baseline"

    def __post_init__(self) -> None:
        if self.seq_len < 4 or self.seq_len % 2:
            raise ValueError(
                f"seq_len must be an even number of at least 4 (key-value slots, one pair "
                f"and the final query), got {self.seq_len}"
            )
        if not 0 <= self.noise_vocab_size <= self.vocab_size - 2:
            raise ValueError(
                f"noise_vocab_size must be in [0, vocab_size - 2 = {self.vocab_size - 2}] "
                f"(at least one key and one value remain), got {self.noise_vocab_size}"
            )
        if not 0 <= self.frac_noise < 1:
            raise ValueError(f"frac_noise must be in [0, 1), got {self.frac_noise}")
        if self.frac_noise > 0 and self.noise_vocab_size == 0:
            raise ValueError("frac_noise > 0 needs noise tokens: set noise_vocab_size >= 1")

    @property
    def n_keys(self) -> int:
        return (self.vocab_size - self.noise_vocab_size) // 2

    @property
    def n_values(self) -> int:
        return self.vocab_size - self.noise_vocab_size - self.n_keys

    @property
    def first_value(self) -> int:
        return 1 + self.n_keys

    @property
    def first_noise(self) -> int:
        return self.first_value + self.n_values

    @property
    def slots(self) -> int:
        return self.seq_len // 2

    def spec(self) -> TaskSpec:
        name = f"noisy-recall-v{self.vocab_size}-L{self.seq_len}-noise{self.frac_noise:g}"
        return TaskSpec(name, "per_token", self.vocab_size + 1, self.seq_len, self.vocab_size + 1)


def repeated_key(keys: torch.Tensor, is_pair: torch.Tensor, n_keys: int) -> torch.Tensor:
    """(n, slots) bool: the slot is a pair whose key some earlier pair holds."""
    n, slots = keys.shape
    index = torch.arange(slots).expand(n, -1)
    # noise slots report their index under a spare key n_keys, so they never count
    bucket = torch.where(is_pair, keys, n_keys)
    first = torch.full((n, n_keys + 1), slots).scatter_reduce(1, bucket, index, "amin")
    return is_pair & (index > first.gather(1, bucket))


def held_by_pairs(keys: torch.Tensor, is_pair: torch.Tensor, n_keys: int) -> torch.Tensor:
    """(n, n_keys) bool: some pair slot holds the key."""
    held = torch.zeros(keys.shape[0], n_keys + 1, dtype=torch.bool)
    held.scatter_(1, torch.where(is_pair, keys, n_keys), True)
    return held[:, :n_keys]


def noisy_recall_examples(
    n: int, cfg: NoisyRecallConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len)."""
    slots = cfg.slots
    # key indices in [0, n_keys); each sequence's value table, drawn up front, is
    # the value a key gets when it first appears
    keys = torch.randint(0, cfg.n_keys, (n, slots), generator=gen)
    table = torch.randint(0, cfg.n_values, (n, cfg.n_keys), generator=gen)
    is_pair = torch.rand(n, slots, generator=gen) >= cfg.frac_noise
    # at least one pair before the final query, which is itself always a pair
    kept = torch.randint(0, slots - 1, (n, 1), generator=gen)
    is_pair.scatter_(1, kept, True)
    is_pair[:, -1] = True

    # the final query: one of the keys the earlier pairs hold, uniformly
    seen = held_by_pairs(keys[:, :-1], is_pair[:, :-1], cfg.n_keys)
    scores = torch.rand(n, cfg.n_keys, generator=gen).masked_fill(~seen, -1.0)
    keys[:, -1] = scores.argmax(dim=1)

    values = table.gather(1, keys)
    pairs = torch.stack((1 + keys, cfg.first_value + values), dim=2)
    tokens = pairs
    if cfg.noise_vocab_size:
        noise = torch.randint(cfg.first_noise, cfg.vocab_size + 1, (n, slots, 2), generator=gen)
        tokens = torch.where(is_pair.unsqueeze(2), pairs, noise)
    tokens = tokens.reshape(n, cfg.seq_len)

    queried = repeated_key(keys, is_pair, cfg.n_keys)
    # a query is labelled at its key (the value is the next token), never at its value
    labels = torch.full_like(pairs, IGNORE_INDEX)
    labels[..., 0] = torch.where(queried, pairs[..., 1], IGNORE_INDEX)
    return tokens, labels.reshape(n, cfg.seq_len)


def make_noisy_recall(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: NoisyRecallConfig | None = None,
    **overrides,
) -> TaskData:
    """Noisy-recall train, val and test splits (``n_val`` None: as many as
    ``n_test``); ``overrides`` set fields of ``NoisyRecallConfig``,
    e.g. ``make_noisy_recall(2000, 200, seed=0, seq_len=64, frac_noise=0.4)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or NoisyRecallConfig(), **overrides)
    return per_token_data(cfg.spec(), generate_splits(noisy_recall_examples, cfg, counts, seed))

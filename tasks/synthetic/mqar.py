"""Multi-query associative recall (MQAR), after Zoology (Arora et al., 2023).

A sequence starts with ``num_kv_pairs`` key-value pairs ``k1 v1 k2 v2 ...``
(keys from the lower half of the vocabulary, values from the upper half, all
keys distinct). The rest of the sequence is random filler in which every key
appears once more as a query; at a query's position the model must predict the
value that followed that key in the pairs. Query gaps follow a power law
(``p(gap) ~ gap ** (power_a - 1)``), so most queries sit close to the pairs and
a few far away: recall over short and long distances in one task.

Token 0 is never a key (it is the pad id), values never collide with keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..base import IGNORE_INDEX, TaskData, TaskSpec, split_sizes
from .common import generate_splits, per_token_data, random_subsets


@dataclass(frozen=True)
class MQARConfig:
    seq_len: int = 64
    vocab_size: int = 64
    num_kv_pairs: int = 4
    power_a: float = 0.01
    #: filler between queries: random tokens (as in Zoology) or the pad token 0
    random_filler: bool = True

    def __post_init__(self) -> None:
        if self.vocab_size < 4:
            raise ValueError(f"vocab_size must be at least 4, got {self.vocab_size}")
        n_keys = self.vocab_size // 2 - 1  # token 0 is reserved
        if not 1 <= self.num_kv_pairs <= n_keys:
            raise ValueError(
                f"num_kv_pairs must be in [1, {n_keys}] for vocab_size={self.vocab_size} "
                f"(keys are drawn without repetition from [1, {self.vocab_size // 2})); "
                f"got {self.num_kv_pairs}"
            )
        if self.seq_len < 4 * self.num_kv_pairs:
            raise ValueError(
                f"seq_len must be at least 4 * num_kv_pairs = {4 * self.num_kv_pairs} "
                f"(the pairs, then room for every query), got {self.seq_len}"
            )
        if not 0 < self.power_a <= 1:
            raise ValueError(f"power_a must be in (0, 1], got {self.power_a}")

    @property
    def value_start(self) -> int:
        """First value token; keys are [1, value_start), values [value_start, vocab_size)."""
        return self.vocab_size // 2

    @property
    def query_slots(self) -> int:
        """Queries sit on every other position after the pairs (a query and the
        token after it), so the gaps range over this many slots."""
        return (self.seq_len - 2 * self.num_kv_pairs) // 2

    def spec(self) -> TaskSpec:
        name = f"mqar-kv{self.num_kv_pairs}-L{self.seq_len}"
        return TaskSpec(name, "per_token", self.vocab_size, self.seq_len, self.vocab_size)


def gap_probabilities(slots: int, power_a: float) -> torch.Tensor:
    """p(gap = g) proportional to (g + 1) ** (power_a - 1), g = 0 .. slots - 1."""
    weights = torch.arange(1, slots + 1, dtype=torch.float64) ** (power_a - 1)
    return weights / weights.sum()


def mqar_examples(
    n: int, cfg: MQARConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples: tokens (n, seq_len) and targets (n, seq_len)."""
    k = cfg.num_kv_pairs
    keys = random_subsets(n, 1, cfg.value_start, k, gen)
    values = random_subsets(n, cfg.value_start, cfg.vocab_size, k, gen)

    if cfg.random_filler:
        tokens = torch.randint(0, cfg.vocab_size, (n, cfg.seq_len), generator=gen)
    else:
        tokens = torch.zeros(n, cfg.seq_len, dtype=torch.long)
    tokens[:, 0 : 2 * k : 2] = keys
    tokens[:, 1 : 2 * k : 2] = values

    # each key is queried exactly once, in a random order of gaps
    probs = gap_probabilities(cfg.query_slots, cfg.power_a).expand(n, -1)
    gaps = torch.multinomial(probs, k, replacement=False, generator=gen)
    query_pos = 2 * k + 2 * gaps
    tokens.scatter_(1, query_pos, keys)

    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets.scatter_(1, query_pos, values)
    return tokens, targets


def make_mqar(
    n_train: int,
    n_test: int,
    *,
    seed: int,
    n_val: int | None = None,
    config: MQARConfig | None = None,
    **overrides,
) -> TaskData:
    """MQAR train, val and test splits (``n_val`` None: as many as
    ``n_test``); ``overrides`` set fields of ``MQARConfig``,
    e.g. ``make_mqar(2000, 200, seed=0, seq_len=128, num_kv_pairs=8)``."""
    counts = split_sizes(n_train, n_test, n_val)
    cfg = replace(config or MQARConfig(), **overrides)
    return per_token_data(cfg.spec(), generate_splits(mqar_examples, cfg, counts, seed))

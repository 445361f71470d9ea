"""Pieces every synthetic generator shares: seeding and packing examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import TensorDataset

from ..base import TaskData, TaskSpec

#: one random stream per split; the stream of split s under seed k is seeded with
#: k * len(SPLITS) + s, so no two (seed, split) pairs ever share a stream
SPLITS = ("train", "val", "test")

Split = tuple[torch.Tensor, torch.Tensor]


def split_generator(seed: int, split: str) -> torch.Generator:
    """The generator of one split: the val and test sets depend only on the seed,
    not on how many training examples were drawn, and never repeat another
    split's (or another seed's) stream."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return torch.Generator().manual_seed(seed * len(SPLITS) + SPLITS.index(split))


def random_subsets(n_rows: int, low: int, high: int, size: int, gen: torch.Generator):
    """``n_rows`` rows of ``size`` distinct integers drawn uniformly from [low, high)."""
    if size > high - low:
        raise ValueError(f"cannot draw {size} distinct values from [{low}, {high})")
    ranks = torch.rand(n_rows, high - low, generator=gen).argsort(dim=1)
    return ranks[:, :size] + low


def per_token_data(spec: TaskSpec, splits: dict[str, Split]) -> TaskData:
    train, val, test = (TensorDataset(*splits[s]) for s in SPLITS)
    return TaskData(spec=spec, train=train, test=test, val=val)


def generate_splits(
    make_examples: Callable[[int, Any, torch.Generator], Split],
    cfg: Any,
    counts: dict[str, int],
    seed: int,
) -> dict[str, Split]:
    """``make_examples(n, cfg, generator)`` for every split, each with its own stream:
    one distribution, independent draws."""
    return {s: make_examples(counts[s], cfg, split_generator(seed, s)) for s in SPLITS}

"""Pieces every synthetic generator shares: seeding and packing examples."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from ..base import TaskData, TaskSpec


def split_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """Independent generators for the train and test splits, so that the test
    set depends only on the seed, not on how many training examples were drawn."""
    root = torch.Generator().manual_seed(seed)
    train_seed, test_seed = torch.randint(0, 2**62, (2,), generator=root).tolist()
    return torch.Generator().manual_seed(train_seed), torch.Generator().manual_seed(test_seed)


def random_subsets(n_rows: int, low: int, high: int, size: int, gen: torch.Generator):
    """``n_rows`` rows of ``size`` distinct integers drawn uniformly from [low, high)."""
    if size > high - low:
        raise ValueError(f"cannot draw {size} distinct values from [{low}, {high})")
    ranks = torch.rand(n_rows, high - low, generator=gen).argsort(dim=1)
    return ranks[:, :size] + low


def per_token_data(
    spec: TaskSpec,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
) -> TaskData:
    return TaskData(spec=spec, train=TensorDataset(*train), test=TensorDataset(*test))


def check_counts(n_train: int, n_test: int) -> None:
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")

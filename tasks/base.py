"""The shape every task's data takes, so the training loop serves them all.

An example is ``(tokens, target)``:
- ``classify``: tokens (L,) long, target () long class index;
- ``pair`` (LRA Retrieval): tokens (2, L) long, the two documents; target () long;
- ``per_token``: tokens (L,) long, target (L,) long with ``IGNORE_INDEX`` where
  nothing is predicted (synthetic recall tasks).
Token id ``pad_id`` pads shorter sequences to ``seq_len``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch.utils.data import Dataset

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: Literal["classify", "pair", "per_token"]
    vocab_size: int
    seq_len: int
    #: classes for classify/pair; for per_token the targets are token ids < vocab_size
    n_classes: int
    pad_id: int = 0


@dataclass
class TaskData:
    spec: TaskSpec
    train: Dataset
    test: Dataset
    val: Dataset | None = None

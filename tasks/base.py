"""The shape every task's data takes, so the training loop serves them all.

An example is ``(tokens, target)``:
- ``classify``: tokens (L,) long, target () long class index;
- ``pair`` (LRA Retrieval): tokens (2, L) long, the two documents; target () long;
- ``per_token``: tokens (L,) long, target (L,) long with ``IGNORE_INDEX`` where
  nothing is predicted (synthetic recall tasks);
- ``reconstruct`` (MAD's compression): as ``per_token``, but every target is read
  from the last position's output alone (tasks/model.py's ReconstructionModel), so
  the model must squeeze the whole sequence into one vector.
Token id ``pad_id`` pads shorter sequences to ``seq_len``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch.utils.data import Dataset

IGNORE_INDEX = -100
#: the kind whose targets are decoded from the last position alone (see above)
RECONSTRUCT = "reconstruct"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: Literal["classify", "pair", "per_token", "reconstruct"]
    vocab_size: int
    seq_len: int
    #: classes for classify/pair; for per_token and reconstruct the targets are token
    #: ids < vocab_size
    n_classes: int
    pad_id: int = 0


@dataclass
class TaskData:
    """A task's three splits: train to fit, val to choose settings on (learning
    rates), test to report; every task has all three, drawn from one distribution."""

    spec: TaskSpec
    train: Dataset
    test: Dataset
    val: Dataset
    #: what a loader left out, by reason, e.g. ``{"empty images": 12}`` (the
    #: Pathfinder release holds some 0-byte PNGs, which LRA drops as well)
    skipped: dict[str, int] = field(default_factory=dict)
    #: length-extrapolation tasks: test length -> a test split at that length
    #: (longer than ``spec.seq_len``, which the model trains at); empty elsewhere
    length_tests: dict[int, Dataset] = field(default_factory=dict)


def split_sizes(n_train: int, n_test: int, n_val: int | None = None) -> dict[str, int]:
    """How many examples a generator draws for each split (``n_val`` None: as many
    as the test split); ValueError naming the argument when one is not positive."""
    sizes = {"train": n_train, "val": n_test if n_val is None else n_val, "test": n_test}
    for split, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"n_{split} must be a positive integer, got {value!r}")
    return sizes

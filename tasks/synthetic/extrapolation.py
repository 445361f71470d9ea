"""Length extrapolation: train at one length, test at longer ones.

``extrapolation_splits(config, lengths, seed, ...)`` gives the usual train, val
and test splits at ``config.seq_len`` (exactly what the task's ``make_*`` gives
for that seed) and one more test split per length in ``lengths``, drawn from the
same distribution at that length (induction: the earlier trigger anywhere in the
longer context; MQAR: as many pairs, queries spread over the longer gaps).

Nothing of a test split comes from training:
- every test length has its own random stream, seeded in ``[2**63, 2**64)``,
  where no split stream of tasks.synthetic.common (``seed * 3 + split``) lies;
- MQAR's test sequences never hold a key-value mapping (the set of its pairs)
  that some training sequence holds: a test row whose mapping training has seen
  is drawn again. With a small vocabulary a mapping repeats by chance (at 4 pairs
  over 16 tokens, 8000 training rows hold one mapping in seven), and such a row
  tests memory of the training set, not recall at a longer length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch.utils.data import TensorDataset

from ..base import TaskData, TaskSpec
from .common import Split
from .induction import InductionConfig, induction_examples, make_induction
from .mqar import MQARConfig, make_mqar, mqar_examples

#: test streams are seeded with TEST_STREAM_BASE + seed * MAX_TEST_LENGTH + length
TEST_STREAM_BASE = 2**63
MAX_TEST_LENGTH = 2**24
MAX_SEED = 2**32
#: batches of ``n_test`` rows drawn at most to find ``n_test`` unseen MQAR mappings
MAX_DRAWS = 20

ExtrapolatedConfig = InductionConfig | MQARConfig


@dataclass(frozen=True)
class ExtrapolationData:
    """A task at its training length, and its test splits at other lengths."""

    data: TaskData
    #: test length -> that length's test split
    tests: dict[int, TensorDataset]
    #: test length -> the spec at that length (the model is the training length's)
    specs: dict[int, TaskSpec]


def length_stream(seed: int, length: int) -> torch.Generator:
    """The random stream of the test split at ``length``: one per (seed, length),
    none shared with a train, val or test split of any seed."""
    if not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, {MAX_SEED}), got {seed!r}")
    return torch.Generator().manual_seed(TEST_STREAM_BASE + seed * MAX_TEST_LENGTH + length)


def kv_mapping(tokens: torch.Tensor, num_kv_pairs: int) -> frozenset[tuple[int, int]]:
    """An MQAR row's key-value pairs, as a set."""
    pairs = tokens[: 2 * num_kv_pairs].view(num_kv_pairs, 2).tolist()
    return frozenset(map(tuple, pairs))


def unseen_mqar_rows(
    n: int, cfg: MQARConfig, gen: torch.Generator, seen: set[frozenset[tuple[int, int]]]
) -> Split:
    """``n`` MQAR rows at ``cfg``, none holding a mapping in ``seen``."""
    tokens, targets, have = [], [], 0
    for _ in range(MAX_DRAWS):
        batch_tokens, batch_targets = mqar_examples(n, cfg, gen)
        fresh = torch.tensor(
            [kv_mapping(row, cfg.num_kv_pairs) not in seen for row in batch_tokens]
        )
        tokens.append(batch_tokens[fresh])
        targets.append(batch_targets[fresh])
        have += int(fresh.sum())
        if have >= n:
            return torch.cat(tokens)[:n], torch.cat(targets)[:n]
    raise ValueError(
        f"the training set holds nearly every mapping of {cfg.num_kv_pairs} pairs over "
        f"vocab_size={cfg.vocab_size}: raise vocab_size or lower n_train"
    )


def mqar_split_at(cfg: MQARConfig, data: TaskData, n: int, gen: torch.Generator) -> Split:
    """``n`` test rows at ``cfg``'s length, their mappings unseen in ``data``'s training."""
    train_tokens = data.train.tensors[0]
    seen = {kv_mapping(row, cfg.num_kv_pairs) for row in train_tokens}
    return unseen_mqar_rows(n, cfg, gen, seen)


def induction_split_at(cfg: InductionConfig, data: TaskData, n: int, gen: torch.Generator) -> Split:
    """``n`` test rows at ``cfg``'s length; a row holds no key-value content, so
    its own stream is all that keeps it apart from ``data`` (unused)."""
    return induction_examples(n, cfg, gen)


#: config type -> (its make_* function, its test split at a length)
EXTRAPOLATED: dict[type, tuple[Callable[..., TaskData], Callable[..., Split]]] = {
    InductionConfig: (make_induction, induction_split_at),
    MQARConfig: (make_mqar, mqar_split_at),
}


def check_lengths(config: ExtrapolatedConfig, lengths: Sequence[int]) -> None:
    train_len = config.seq_len
    example = ", ".join(str(f * train_len) for f in (2, 4, 8))
    if not lengths:
        raise ValueError(f"lengths is empty: give the test lengths, e.g. {example}")
    for length in lengths:
        if not isinstance(length, int) or not train_len <= length <= MAX_TEST_LENGTH:
            raise ValueError(
                f"test length {length!r} must be an integer from the training length "
                f"{train_len} to {MAX_TEST_LENGTH}, e.g. {example}"
            )
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"lengths {list(lengths)} repeat a length: give each once")


def extrapolation_splits(
    config: ExtrapolatedConfig,
    lengths: Sequence[int],
    seed: int,
    *,
    n_train: int,
    n_test: int,
    n_val: int | None = None,
) -> ExtrapolationData:
    """``config``'s task trained at ``config.seq_len`` and tested at each of
    ``lengths`` (each at least the training length: 2L, 4L, 8L, ...)."""
    if type(config) not in EXTRAPOLATED:
        known = ", ".join(cls.__name__ for cls in EXTRAPOLATED)
        raise ValueError(f"no length extrapolation for {type(config).__name__}; known: {known}")
    check_lengths(config, lengths)
    make, split_at = EXTRAPOLATED[type(config)]
    data = make(n_train, n_test, seed=seed, n_val=n_val, config=config)
    tests, specs = {}, {}
    for length in lengths:
        cfg = replace(config, seq_len=length)
        tests[length] = TensorDataset(*split_at(cfg, data, n_test, length_stream(seed, length)))
        specs[length] = cfg.spec()
    return ExtrapolationData(data, tests, specs)

"""Length extrapolation splits: the training-length task as its generator gives it,
test splits at longer lengths that hold nothing of the training set."""

from __future__ import annotations

import pytest
import torch

from tasks.base import IGNORE_INDEX
from tasks.synthetic import (
    InductionConfig,
    MQARConfig,
    SelectiveCopyConfig,
    extrapolation_splits,
    make_induction,
    make_mqar,
)
from tasks.synthetic.common import SPLITS, split_generator
from tasks.synthetic.extrapolation import kv_mapping, length_stream
from tasks.synthetic.induction import TRIGGER_ID
from tasks.synthetic.mqar import mqar_examples

L = 32
LENGTHS = (2 * L, 4 * L, 8 * L)
#: 4 pairs over 16 tokens: 58,800 mappings, so 4000 training rows hold ~7% of them
MQAR = MQARConfig(seq_len=L, vocab_size=16, num_kv_pairs=4)
INDUCTION = InductionConfig(seq_len=L, vocab_size=10)


@pytest.fixture(scope="module")
def mqar():
    return extrapolation_splits(MQAR, LENGTHS, 0, n_train=4000, n_test=300)


@pytest.fixture(scope="module")
def induction():
    return extrapolation_splits(INDUCTION, LENGTHS, 0, n_train=2000, n_test=200)


def training_windows_in(test_tokens: torch.Tensor, train_tokens: torch.Tensor) -> int:
    """How many length-L windows of the test rows are training rows."""
    train = set(map(tuple, train_tokens.tolist()))
    windows = test_tokens.unfold(1, train_tokens.shape[1], 1).reshape(-1, train_tokens.shape[1])
    return sum(tuple(w) in train for w in windows.tolist())


def test_the_training_length_task_is_its_generators(mqar, induction):
    same_mqar = make_mqar(4000, 300, seed=0, config=MQAR)
    same_induction = make_induction(2000, 200, seed=0, config=INDUCTION)
    for made, split in ((same_mqar, mqar.data), (same_induction, induction.data)):
        assert made.spec == split.spec
        for name in SPLITS:
            assert torch.equal(getattr(made, name).tensors[0], getattr(split, name).tensors[0])


@pytest.mark.parametrize("task", ["mqar", "induction"])
def test_test_splits_have_their_length_and_spec(task, request):
    splits = request.getfixturevalue(task)
    assert list(splits.tests) == list(LENGTHS) == list(splits.specs)
    for length, dataset in splits.tests.items():
        tokens, targets = dataset.tensors
        assert tokens.shape == targets.shape == (len(splits.data.test), length)
        assert splits.specs[length].seq_len == length
        assert splits.specs[length].vocab_size == splits.data.spec.vocab_size


@pytest.mark.parametrize("task", ["mqar", "induction"])
def test_no_training_sequence_appears_in_a_test_split(task, request):
    splits = request.getfixturevalue(task)
    train = splits.data.train.tensors[0]
    for dataset in splits.tests.values():
        assert training_windows_in(dataset.tensors[0], train) == 0
    # the check sees a leak: a test split built by extending training rows
    leaked = torch.cat([train[:10], train[10:20]], dim=1)
    assert training_windows_in(leaked, train) >= 20


def test_mqar_test_mappings_never_occur_in_training(mqar):
    train = {kv_mapping(row, 4) for row in mqar.data.train.tensors[0]}
    for length, dataset in mqar.tests.items():
        test = [kv_mapping(row, 4) for row in dataset.tensors[0]]
        assert not train.intersection(test), f"a test mapping at {length} occurs in training"
        # the same stream's raw draws do repeat training mappings: the exclusion works
        raw, _ = mqar_examples(300, MQARConfig(length, 16, 4), length_stream(0, length))
        assert train.intersection(kv_mapping(row, 4) for row in raw)


def test_mqar_test_labels_recall_their_own_pairs(mqar):
    for dataset in mqar.tests.values():
        for tokens, targets in zip(*(t.tolist() for t in dataset.tensors), strict=True):
            pairs = dict(zip(tokens[0:8:2], tokens[1:8:2], strict=True))
            queries = [p for p, t in enumerate(targets) if t != IGNORE_INDEX]
            assert len(queries) == 4 and all(p >= 8 for p in queries)
            assert all(targets[p] == pairs[tokens[p]] for p in queries)


def test_induction_test_labels_follow_the_earlier_trigger(induction):
    for length, dataset in induction.tests.items():
        firsts = []
        for tokens, targets in zip(*(t.tolist() for t in dataset.tensors), strict=True):
            triggers = [p for p, t in enumerate(tokens) if t == TRIGGER_ID]
            assert len(triggers) == 2 and triggers[1] == length - 1
            assert targets[-1] == tokens[triggers[0] + 1]
            assert all(t == IGNORE_INDEX for t in targets[:-1])
            firsts.append(triggers[0])
        assert max(firsts) >= L, f"at {length} the earlier trigger lies beyond the training length"


def test_test_streams_are_disjoint_from_every_split_stream():
    split_seeds = {split_generator(seed, s).initial_seed() for seed in range(100) for s in SPLITS}
    test_seeds = {length_stream(seed, n).initial_seed() for seed in range(100) for n in LENGTHS}
    assert len(test_seeds) == 100 * len(LENGTHS)
    assert not split_seeds & test_seeds


def test_test_splits_are_deterministic_per_seed_and_length(induction):
    again = extrapolation_splits(INDUCTION, (8 * L,), 0, n_train=2000, n_test=200)
    assert torch.equal(again.tests[8 * L].tensors[0], induction.tests[8 * L].tensors[0])
    other = extrapolation_splits(INDUCTION, (8 * L,), 1, n_train=2000, n_test=200)
    assert not torch.equal(other.tests[8 * L].tensors[0], induction.tests[8 * L].tensors[0])
    # each length has its own stream: one stream would start both lengths' rows alike
    short, long = induction.tests[2 * L].tensors[0][0], induction.tests[4 * L].tensors[0][0]
    assert not torch.equal(short, long[: 2 * L])


@pytest.mark.parametrize(
    "config, lengths, named",
    [
        (INDUCTION, (), "lengths is empty: give the test lengths, e.g. 64, 128, 256"),
        (INDUCTION, (16,), "must be an integer from the training length 32"),
        (INDUCTION, (64, 64), "repeat a length"),
        (SelectiveCopyConfig(), (128,), "no length extrapolation for SelectiveCopyConfig"),
        # 3 keys, 4 values, 2 pairs: 36 mappings, every one of them in training
        (MQARConfig(seq_len=8, vocab_size=8, num_kv_pairs=2), (16,), "raise vocab_size"),
    ],
)
def test_bad_requests_are_one_line_errors(config, lengths, named):
    with pytest.raises(ValueError, match=named) as error:
        extrapolation_splits(config, lengths, 0, n_train=2000, n_test=50)
    assert "\n" not in str(error.value)

"""Synthetic generators: semantics checked from the tokens alone, and determinism."""

from __future__ import annotations

import pytest
import torch

from tasks.base import IGNORE_INDEX
from tasks.synthetic import make_induction, make_mqar, make_selective_copy
from tasks.synthetic.induction import TRIGGER_ID
from tasks.synthetic.selective_copy import MARKER_ID, NOISE_ID


def tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    tokens, targets = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(tokens), torch.stack(targets)


# -- MQAR ------------------------------------------------------------------------
@pytest.mark.parametrize("random_filler", [True, False])
def test_mqar_queries_recall_the_value_paired_with_their_key(random_filler):
    k, vocab, length = 5, 40, 48
    data = make_mqar(
        50,
        10,
        seed=3,
        seq_len=length,
        vocab_size=vocab,
        num_kv_pairs=k,
        random_filler=random_filler,
    )
    assert data.spec.kind == "per_token" and data.spec.seq_len == length
    for tokens, targets in zip(*tensors(data.train), strict=True):
        keys, values = tokens[0 : 2 * k : 2], tokens[1 : 2 * k : 2]
        assert ((1 <= keys) & (keys < vocab // 2)).all(), "keys come from the lower half"
        assert ((vocab // 2 <= values) & (values < vocab)).all(), "values from the upper half"
        assert len(set(keys.tolist())) == k, "keys are distinct"
        pairs = dict(zip(keys.tolist(), values.tolist(), strict=True))

        query_positions = (targets != IGNORE_INDEX).nonzero().flatten()
        assert len(query_positions) == k, "every key is queried once"
        assert (query_positions >= 2 * k).all(), "queries come after the pairs"
        assert sorted(tokens[query_positions].tolist()) == sorted(pairs)
        for pos in query_positions.tolist():
            assert targets[pos] == pairs[tokens[pos].item()]


def test_mqar_gaps_favour_queries_near_the_pairs():
    k, length = 4, 512
    data = make_mqar(400, 1, seed=0, seq_len=length, vocab_size=64, num_kv_pairs=k)
    _, targets = tensors(data.train)
    gaps = ((targets != IGNORE_INDEX).nonzero()[:, 1] - 2 * k) // 2
    slots = (length - 2 * k) // 2
    # p(gap) ~ gap^-0.99: the first tenth of the slots holds far more than a tenth
    assert (gaps < slots // 10).float().mean() > 0.4
    assert gaps.max() > slots // 2, "long-distance queries still occur"


def test_mqar_rejects_impossible_configs():
    with pytest.raises(ValueError, match="num_kv_pairs"):
        make_mqar(1, 1, seed=0, vocab_size=8, num_kv_pairs=4)
    with pytest.raises(ValueError, match="seq_len"):
        make_mqar(1, 1, seed=0, seq_len=12, num_kv_pairs=4)


# -- selective copying -------------------------------------------------------------
def test_selective_copy_targets_are_the_non_noise_tokens_in_order():
    n_copy, length = 6, 40
    data = make_selective_copy(50, 10, seed=1, seq_len=length, vocab_size=12, n_copy=n_copy)
    for tokens, targets in zip(*tensors(data.train), strict=True):
        region, markers = tokens[: length - n_copy], tokens[length - n_copy :]
        assert (markers == MARKER_ID).all()
        data_tokens = region[region != NOISE_ID]
        assert len(data_tokens) == n_copy
        assert (data_tokens >= 3).all() and (data_tokens < 12).all()
        assert targets[length - n_copy :].tolist() == data_tokens.tolist()
        assert (targets[: length - n_copy] == IGNORE_INDEX).all()


def test_selective_copy_scatters_the_tokens():
    data = make_selective_copy(200, 1, seed=0, seq_len=64, n_copy=4)
    tokens, _ = tensors(data.train)
    first_data = (tokens != NOISE_ID).float().argmax(dim=1)
    assert first_data.unique().numel() > 10, "data tokens do not sit at fixed positions"


def test_selective_copy_without_room_for_noise_is_plain_copying():
    data = make_selective_copy(5, 1, seed=0, seq_len=8, n_copy=4)
    tokens, targets = tensors(data.train)
    assert (tokens[:, :4] != NOISE_ID).all()
    assert torch.equal(targets[:, 4:], tokens[:, :4])


# -- induction heads ----------------------------------------------------------------
def test_induction_target_is_the_token_after_the_earlier_trigger():
    length = 30
    data = make_induction(100, 10, seed=2, seq_len=length, vocab_size=10)
    for tokens, targets in zip(*tensors(data.train), strict=True):
        triggers = (tokens == TRIGGER_ID).nonzero().flatten().tolist()
        assert len(triggers) == 2 and triggers[1] == length - 1
        assert triggers[0] + 1 < length - 1, "the recalled token lies inside the context"
        assert targets[-1] == tokens[triggers[0] + 1]
        assert (targets[:-1] == IGNORE_INDEX).all()


# -- every generator ------------------------------------------------------------------
GENERATORS = {
    "mqar": lambda n, seed: make_mqar(n, 8, seed=seed, seq_len=32, vocab_size=32),
    "selective_copy": lambda n, seed: make_selective_copy(n, 8, seed=seed, seq_len=32),
    "induction": lambda n, seed: make_induction(n, 8, seed=seed, seq_len=32),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic_under_a_seed(name):
    make = GENERATORS[name]
    a, b, c = make(20, 7), make(20, 7), make(20, 8)
    for split in ("train", "val", "test"):
        assert all(
            torch.equal(x, y)
            for x, y in zip(tensors(getattr(a, split)), tensors(getattr(b, split)), strict=True)
        )
    assert not torch.equal(tensors(a.train)[0], tensors(c.train)[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_val_and_test_splits_depend_on_the_seed_only(name):
    make = GENERATORS[name]
    small, large = make(5, 0), make(50, 0)
    for split in ("val", "test"):
        assert torch.equal(tensors(getattr(small, split))[0], tensors(getattr(large, split))[0])
    assert not torch.equal(tensors(small.test)[0][:5], tensors(small.train)[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_val_is_its_own_draw_of_the_same_distribution(name):
    make = GENERATORS[name]
    data, next_seed = make(8, 0), make(8, 1)
    val = tensors(data.val)[0]
    assert len(data.val) == len(data.test) == 8  # n_val defaults to n_test
    # no stream is shared: not with train or test, nor with another seed's splits
    for other in (data.train, data.test, next_seed.train, next_seed.val, next_seed.test):
        assert not torch.equal(val, tensors(other)[0])


def test_split_streams_never_collide():
    from tasks.synthetic.common import SPLITS, split_generator

    seeds = {split_generator(seed, split).initial_seed() for seed in range(50) for split in SPLITS}
    assert len(seeds) == 50 * len(SPLITS)


@pytest.mark.parametrize("bad", [{"n_val": 0}, {"n_test": 0}])
def test_split_sizes_must_be_positive(bad):
    with pytest.raises(ValueError, match="must be a positive integer"):
        make_mqar(**{"n_train": 4, "n_test": 2, "seed": 0, **bad})


@pytest.mark.parametrize("name", GENERATORS)
def test_examples_fit_the_spec(name):
    data = GENERATORS[name](10, 0)
    tokens, targets = tensors(data.train)
    spec = data.spec
    assert tokens.shape == targets.shape == (10, spec.seq_len)
    val_tokens, val_targets = tensors(data.val)
    assert val_tokens.max() < spec.vocab_size and (val_targets != IGNORE_INDEX).any()
    assert tokens.dtype == targets.dtype == torch.long
    assert tokens.min() >= 0 and tokens.max() < spec.vocab_size
    predicted = targets[targets != IGNORE_INDEX]
    assert predicted.numel() > 0 and predicted.max() < spec.n_classes

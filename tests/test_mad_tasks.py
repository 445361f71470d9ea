"""MAD's four tasks: every label against a brute-force solver that reads only the
tokens (and, for memorization, the training split), determinism under a seed,
bad configs, and the settings taken from mad-lab."""

from __future__ import annotations

import pytest
import torch

from tasks.base import IGNORE_INDEX
from tasks.synthetic import (
    MAD_TASKS,
    MAD_TRAINING,
    REDUCED_SETTINGS,
    CompressionConfig,
    FuzzyRecallConfig,
    MemorizationConfig,
    NoisyRecallConfig,
    mad_settings,
    make_compression,
    make_fuzzy_recall,
    make_memorization,
    make_noisy_recall,
)

SPLITS = ("train", "val", "test")


def rows(dataset) -> list[tuple[list[int], list[int]]]:
    tokens, targets = dataset.tensors
    return list(zip(tokens.tolist(), targets.tolist(), strict=True))


# -- brute-force solvers: plain Python over one row's tokens ---------------------------
def solve_noisy_recall(tokens: list[int], vocab: int, noise: int) -> list[int]:
    """Slots of two tokens; a slot whose first token is a key is a pair, one whose
    tokens are both noise is skipped; a key seen before is labelled with the value
    its first pair gave it."""
    keys = range(1, 1 + (vocab - noise) // 2)
    values = range(keys.stop, 1 + vocab - noise)
    noise_ids = range(values.stop, vocab + 1)
    labels = [IGNORE_INDEX] * len(tokens)
    memory: dict[int, int] = {}
    for pos in range(0, len(tokens), 2):
        first, second = tokens[pos], tokens[pos + 1]
        if first in noise_ids:
            assert second in noise_ids, f"slot at {pos} mixes noise and a pair"
            continue
        assert first in keys and second in values, f"slot at {pos} is no key-value pair"
        if first in memory:
            labels[pos] = memory[first]
        else:
            memory[first] = second
    return labels


def split_runs(tokens: list[int], is_key) -> list[tuple[int, list[int], list[int]]]:
    """(start of the value, key tokens, value tokens) of every pair: maximal runs of
    key tokens, each followed by a maximal run of value tokens; leading pads skipped."""
    pos = 0
    while tokens[pos] == 0:
        pos += 1
    pairs = []
    while pos < len(tokens):
        start = pos
        while pos < len(tokens) and is_key(tokens[pos]):
            pos += 1
        middle = pos
        while pos < len(tokens) and tokens[pos] != 0 and not is_key(tokens[pos]):
            pos += 1
        assert start < middle < pos, f"no key-value pair at {start}: {tokens}"
        pairs.append((middle, tokens[start:middle], tokens[middle:pos]))
    return pairs


def solve_fuzzy_recall(tokens: list[int], vocab: int) -> list[int]:
    """A key seen before: its value as remembered, each token labelled at the
    position before it."""
    n_keys = (vocab - 1) // 2
    labels = [IGNORE_INDEX] * len(tokens)
    memory: dict[tuple[int, ...], list[int]] = {}
    for value_start, key, value in split_runs(tokens, lambda t: 1 <= t <= n_keys):
        if tuple(key) in memory:
            for offset, token in enumerate(memory[tuple(key)]):
                labels[value_start - 1 + offset] = token
        else:
            memory[tuple(key)] = value
    return labels


def learn_memorization_map(train_rows, vocab: int) -> dict[int, int]:
    """The key -> value facts of the training split, checked to be one map."""
    facts: dict[int, int] = {}
    for tokens, targets in train_rows:
        for pos in range(0, len(tokens), 2):
            key, insert, value = tokens[pos], tokens[pos + 1], targets[pos + 1]
            assert insert == vocab and targets[pos] == IGNORE_INDEX
            assert facts.setdefault(key, value) == value, f"key {key} has two values"
    return facts


def solve_memorization(tokens: list[int], facts: dict[int, int], vocab: int) -> list[int]:
    """At every insert token (id ``vocab``), the fact about the key before it."""
    return [facts[tokens[p - 1]] if t == vocab else IGNORE_INDEX for p, t in enumerate(tokens)]


def solve_compression(tokens: list[int], vocab: int) -> list[int]:
    assert tokens[-1] == vocab and vocab not in tokens[:-1]
    return [*tokens[:-1], IGNORE_INDEX]


# -- labels against the solvers ------------------------------------------------------
@pytest.mark.parametrize("frac_noise, noise", [(0.0, 0), (0.3, 6), (0.8, 16)])
def test_noisy_recall_labels_match_the_brute_force_solver(frac_noise, noise):
    vocab = 20 + noise
    data = make_noisy_recall(
        200, 50, seed=4, seq_len=40, vocab_size=vocab, noise_vocab_size=noise, frac_noise=frac_noise
    )
    assert data.spec.vocab_size == vocab + 1 and data.spec.seq_len == 40
    noise_slots = 0
    for split in SPLITS:
        for tokens, targets in rows(getattr(data, split)):
            assert targets == solve_noisy_recall(tokens, vocab, noise)
            assert targets[-2] != IGNORE_INDEX, "the last slot queries a key seen before"
            noise_slots += sum(t > vocab - noise for t in tokens[:-2:2])
    slots = 300 * 19
    # the final slot and one earlier slot per row are always pairs
    assert noise_slots / slots == pytest.approx(frac_noise * 18 / 19, abs=0.03)


def test_fuzzy_recall_labels_match_the_brute_force_solver():
    vocab, length = 16, 64
    data = make_fuzzy_recall(300, 100, seed=5, seq_len=length, vocab_size=vocab)
    assert data.spec.vocab_size == vocab and data.spec.seq_len == length
    n_keys = (vocab - 1) // 2
    for split in SPLITS:
        key_sizes = set()
        for tokens, targets in rows(getattr(data, split)):
            assert targets == solve_fuzzy_recall(tokens, vocab)
            pairs = split_runs(tokens, lambda t: 1 <= t <= n_keys)
            assert targets[-2] != IGNORE_INDEX, "the last pair queries a key seen before"
            assert tokens.count(0) < 6, "pairs fill the sequence but for the last one's room"
            for _, key, value in pairs:
                assert len(set(key)) == len(key) <= 3 and len(set(value)) == len(value) <= 3
                key_sizes.add(len(key))
        # MAD: keys of 1 to 3 tokens in training, of 3 in evaluation
        assert key_sizes == ({1, 2, 3} if split == "train" else {3})


def test_memorization_labels_match_a_map_learned_from_training():
    vocab = 33
    data = make_memorization(64, 32, seed=6, seq_len=16, vocab_size=vocab)
    assert data.spec.vocab_size == vocab + 1
    facts = learn_memorization_map(rows(data.train), vocab)
    keys, values = set(facts), set(facts.values())
    assert keys == set(range(1, 17)), "every key occurs in training at this size"
    assert len(values) == len(keys) and values <= set(range(17, 33)), "one-to-one into values"
    for split in ("val", "test"):
        for tokens, targets in rows(getattr(data, split)):
            assert targets == solve_memorization(tokens, facts, vocab)
    other_seed = make_memorization(64, 1, seed=7, seq_len=16, vocab_size=vocab)
    assert learn_memorization_map(rows(other_seed.train), vocab) != facts, "a map per seed"


def test_compression_labels_match_the_brute_force_solver():
    data = make_compression(50, 20, seed=8, seq_len=12, vocab_size=10)
    assert data.spec.vocab_size == 11 and data.spec.kind == "reconstruct"
    for split in SPLITS:
        for tokens, targets in rows(getattr(data, split)):
            assert targets == solve_compression(tokens, 10)
            assert all(1 <= t < 10 for t in tokens[:-1])


# -- determinism and bounds -----------------------------------------------------------
GENERATORS = {
    "noisy_recall": lambda n, seed: make_noisy_recall(n, 8, seed=seed, seq_len=32),
    "fuzzy_recall": lambda n, seed: make_fuzzy_recall(n, 8, seed=seed, seq_len=32),
    "memorization": lambda n, seed: make_memorization(n, 8, seed=seed, vocab_size=64),
    "compression": lambda n, seed: make_compression(n, 8, seed=seed),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic_under_a_seed(name):
    make = GENERATORS[name]
    a, b, c = make(20, 3), make(20, 3), make(20, 4)
    for split in SPLITS:
        for x, y in zip(getattr(a, split).tensors, getattr(b, split).tensors, strict=True):
            assert torch.equal(x, y)
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_evaluation_splits_depend_on_the_seed_only(name):
    make = GENERATORS[name]
    small, large = make(5, 0), make(40, 0)
    for split in ("val", "test"):
        assert torch.equal(getattr(small, split).tensors[1], getattr(large, split).tensors[1])
    assert not torch.equal(small.val.tensors[0], small.test.tensors[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_examples_fit_the_spec(name):
    data = GENERATORS[name](10, 0)
    tokens, targets = data.train.tensors
    assert tokens.shape == targets.shape == (10, data.spec.seq_len)
    assert tokens.dtype == targets.dtype == torch.long
    # token 0 is the pad id: only fuzzy recall pads (its pairs vary in length)
    assert tokens.min() >= (0 if name == "fuzzy_recall" else 1)
    assert tokens.max() < data.spec.vocab_size
    labelled = targets != IGNORE_INDEX
    assert labelled.any(dim=1).all(), "every row has something to predict"
    assert targets[labelled].max() < data.spec.n_classes


def test_fuzzy_recall_pads_with_zero():
    tokens = make_fuzzy_recall(40, 1, seed=0, seq_len=32).train.tensors[0]
    assert (tokens[:, 0] == 0).any()


@pytest.mark.parametrize(
    "make, bad, named",
    [
        (NoisyRecallConfig, {"seq_len": 7}, "seq_len must be an even number"),
        (NoisyRecallConfig, {"noise_vocab_size": 31}, "noise_vocab_size must be in"),
        (NoisyRecallConfig, {"frac_noise": 1.0}, "frac_noise must be in"),
        (NoisyRecallConfig, {"noise_vocab_size": 0}, "set noise_vocab_size >= 1"),
        (FuzzyRecallConfig, {"vocab_size": 6}, "raise vocab_size to 7"),
        (FuzzyRecallConfig, {"seq_len": 11}, "seq_len must be at least"),
        (FuzzyRecallConfig, {"key_motif_size": 0}, "key_motif_size must be a positive"),
        (MemorizationConfig, {"vocab_size": 2}, "vocab_size must be at least 3"),
        (MemorizationConfig, {"seq_len": 5}, "seq_len must be an even number"),
        (CompressionConfig, {"vocab_size": 2}, "vocab_size must be at least 3"),
        (CompressionConfig, {"seq_len": 1}, "seq_len must be at least 2"),
    ],
)
def test_bad_configs_are_one_line_errors_naming_the_fix(make, bad, named):
    with pytest.raises(ValueError, match=named) as error:
        make(**bad)
    assert "\n" not in str(error.value)


def test_split_sizes_must_be_positive():
    with pytest.raises(ValueError, match="n_train must be a positive integer"):
        make_memorization(0, 4, seed=0)


# -- MAD's settings ------------------------------------------------------------------
def test_mad_settings_are_the_baseline_then_one_change_at_a_time():
    counts = {name: len(mad_settings(name)) for name in MAD_TASKS}
    # mad-lab's configs/tasks/*.yml: 1 baseline + the values under ``changes``
    assert counts == {"fuzzy_recall": 11, "noisy_recall": 14, "compression": 11, "memorization": 6}
    baseline, *changes = mad_settings("noisy_recall")
    assert baseline.config == NoisyRecallConfig(
        seq_len=128, vocab_size=32, noise_vocab_size=16, frac_noise=0.2
    )
    assert baseline.n_train == 12800 and baseline.name == "mad-noisy-recall-baseline"
    for change in changes:
        knob, value = change.difficulty.split("=")
        differ = {
            field
            for field in ("seq_len", "vocab_size", "noise_vocab_size", "frac_noise")
            if getattr(change.config, field) != getattr(baseline.config, field)
        }
        if knob == "num_train_examples":
            assert not differ and change.n_train == int(value)
        else:
            assert differ == {knob} and str(getattr(change.config, knob)) == value
        assert "=" not in change.name


def test_mad_training_recipe():
    assert (MAD_TRAINING.d_model, MAD_TRAINING.n_layers) == (128, 2)
    assert MAD_TRAINING.lrs == (1e-4, 5e-4, 1e-3) and MAD_TRAINING.weight_decays == (0.0, 0.1)
    # 200 epochs of batch 128 over 12800 examples; memorization's 256 in two batches
    assert MAD_TRAINING.steps(12800) == 20_000 and MAD_TRAINING.steps(256) == 400


def test_unknown_mad_task():
    with pytest.raises(ValueError, match="no MAD task 'recall'; known: fuzzy_recall"):
        mad_settings("recall")


def test_reduced_settings_are_marked_and_smaller_than_the_baseline():
    for name, point in REDUCED_SETTINGS.items():
        baseline = mad_settings(name)[0]
        assert (
            point.difficulty == "reduced" and point.name == f"mad-{name.replace('_', '-')}-reduced"
        )
        assert point.n_train <= baseline.n_train
        assert point.config.seq_len * point.config.vocab_size < (
            baseline.config.seq_len * baseline.config.vocab_size
        )


# -- the profiles ----------------------------------------------------------------------
def test_default_profile_trains_the_reduced_points_only():
    from tasks.catalog import get_profile

    mad = [t for t in get_profile("default").tasks if t.name.startswith("mad-")]
    assert [t.name for t in mad] == [s.name for s in REDUCED_SETTINGS.values()]
    for task in mad:
        assert task.config["difficulty"] == "reduced"
        assert task.budget.steps * task.budget.batch_size * task.spec.seq_len <= 100 * 512
        data = task.data(0)  # the data are the declared spec's
        assert len(data.train) == task.config["n_train"]


def test_paper_profile_trains_every_mad_setting_as_mad_does():
    from tasks.catalog import get_profile

    tasks = {t.name: t for t in get_profile("paper").tasks if t.name.startswith("mad-")}
    expected = [s for name in MAD_TASKS for s in mad_settings(name)]
    assert sorted(tasks) == sorted(s.name for s in expected)
    for setting in expected:
        task = tasks[setting.name]
        assert task.config["difficulty"] == setting.difficulty
        assert task.config["n_train"] == setting.n_train and task.config["n_test"] == 1280
        budget = task.budget
        assert budget.steps == MAD_TRAINING.steps(setting.n_train)
        assert (budget.d_model, budget.batch_size, budget.lrs) == (128, 128, MAD_TRAINING.lrs)
        assert budget.weight_decays == MAD_TRAINING.weight_decays
        assert budget.warmup_steps == 0 and budget.grad_clip is None
    assert {s.task for s in expected} == {"fuzzy_recall", "noisy_recall", "memorization",
                                          "compression"}  # fmt: skip

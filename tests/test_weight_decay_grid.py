"""The weight-decay axis of the protocol (tasks/budget.py, tasks/record.py): seed 0
trains every (lr, weight decay) pair, the pair with the best validation accuracy is
kept for the other seeds, the point saves the choice and each pair's score through
the schema, and a bad weight decay is a one-line error."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest
import torch

from reports.accuracy_tables import lr_grid_text
from reports.load import load_points, run_file
from schema import Status, Workload, field_problems
from tasks.budget import Budget, train_config
from tasks.catalog import get_profile
from tasks.record import RunKey, RunRecord, choose_run, first_keys, point_extra_info, seed_keys
from tasks.synthetic import MAD_TRAINING
from tasks.train import TrainConfig, make_optimizer
from tests.fixtures import make_benchmarks as make

BASE = dict(steps=10, batch_size=4, lr=1e-3, d_model=32, n_layers=1)
TASK, MIXER = "mad-compression-baseline", "hyena/fft"


def paper_budget() -> Budget:
    return Budget(
        **{**BASE, "lr": 5e-4},
        lr_grid=MAD_TRAINING.lrs,
        weight_decay=0.0,
        weight_decay_grid=MAD_TRAINING.weight_decays,
    )


def fake_first_phase(keys: list[RunKey], seed: int) -> list[RunRecord]:
    """Seed 0's runs with seeded, distinct validation accuracies."""
    rng = random.Random(seed)
    scores = rng.sample(range(1000), len(keys))
    return [
        RunRecord(
            k, Status.OK, accuracy=s / 1000, val_accuracy=s / 1000, weight_decay=k.weight_decay
        )
        for k, s in zip(keys, scores, strict=True)
    ]


def test_the_grid_is_every_rate_with_every_weight_decay():
    budget = paper_budget()
    assert budget.grid == tuple(
        (lr, wd) for lr in MAD_TRAINING.lrs for wd in MAD_TRAINING.weight_decays
    )
    keys = first_keys(TASK, MIXER, budget)
    assert [(k.lr, k.weight_decay) for k in keys] == list(budget.grid)
    assert {k.seed for k in keys} == {0}
    # no weight-decay grid: the budget's one weight decay
    plain = Budget(**BASE, lr_grid=(1e-3, 3e-3))
    assert plain.grid == ((1e-3, 0.1), (3e-3, 0.1))


@pytest.mark.parametrize("seed", range(5))
def test_the_pair_with_the_best_validation_accuracy_is_kept_for_every_seed(seed):
    first = fake_first_phase(first_keys(TASK, MIXER, paper_budget()), seed)
    best = max(first, key=lambda r: r.val_accuracy)
    chosen = choose_run(first)
    assert chosen is best
    others = seed_keys(chosen.key, 3)
    assert [(k.seed, k.lr, k.weight_decay) for k in others] == [
        (s, best.key.lr, best.key.weight_decay) for s in (1, 2)
    ]


def test_test_accuracy_never_chooses_and_ties_go_to_the_grid_order():
    keys = first_keys(TASK, MIXER, paper_budget())
    first = [RunRecord(k, Status.OK, accuracy=1.0 - i / 10, val_accuracy=0.5)
             for i, k in enumerate(keys)]  # fmt: skip
    first[3] = RunRecord(keys[3], Status.OK, accuracy=0.0, val_accuracy=0.6)
    assert choose_run(first).key == keys[3]
    tied = [RunRecord(k, Status.OK, val_accuracy=0.5) for k in keys]
    assert choose_run(tied).key == keys[0]
    assert choose_run([RunRecord(keys[0], Status.DIVERGED)]) is None


def test_the_suites_point_trains_the_chosen_pair(monkeypatch):
    """suite/test_accuracy.py's two phases through a fake executor."""
    from suite import test_accuracy as suite

    @dataclass
    class FakeExecutor:
        submitted: list[RunKey] = field(default_factory=list)

        def submit(self, keys):
            self.submitted += keys

        def result(self, key):
            wd_bonus = 0.3 if key.weight_decay == 0.1 else 0.0
            val = 0.2 + wd_bonus + (0.1 if key.lr == 5e-4 else 0.0)
            return RunRecord(key, Status.OK, accuracy=val, val_accuracy=val)

    budget = paper_budget()
    monkeypatch.setattr(suite, "get_task", lambda task, profile: SimpleNamespace(budget=budget))
    executor = FakeExecutor()
    runs = suite.train_point(suite.SessionGrid(executor, 3), TASK, MIXER, "paper")
    assert len(runs["first"]) == 6
    assert [(r.key.seed, r.key.lr, r.key.weight_decay) for r in runs["seeds"]] == [
        (0, 5e-4, 0.1), (1, 5e-4, 0.1), (2, 5e-4, 0.1)
    ]  # fmt: skip


def test_the_chosen_weight_decay_and_each_pairs_score_round_trip_through_the_schema(tmp_path):
    first = fake_first_phase(first_keys(TASK, MIXER, paper_budget()), 0)
    chosen = choose_run(first)
    seeds = [chosen, RunRecord(replace(chosen.key, seed=1), Status.OK, accuracy=0.4,
                               weight_decay=chosen.key.weight_decay)]  # fmt: skip
    info = point_extra_info(MIXER, TASK, first, seeds, device="cpu", dtype="float32")
    assert field_problems(info) == []
    assert (info["lr"], info["weight_decay"]) == (chosen.key.lr, chosen.key.weight_decay)
    assert info["lr_grid"] == [
        {"lr": r.key.lr, "weight_decay": r.key.weight_decay, "val_accuracy": r.val_accuracy,
         "status": "ok"}
        for r in first
    ]  # fmt: skip
    saved = make.schema_autosave(
        [make.schema_benchmark(make.stats(1.0), **{**info, "workload": Workload.ACCURACY})],
        [],
        {"profile": "paper", "device": "cpu", "dtype": "float32"},
        stamp="20260101_120000",
    )
    path = tmp_path / "box" / "0001_ccc3333_20260101_120000.json"
    path.parent.mkdir()
    path.write_text(json.dumps(saved), encoding="utf-8")
    row = load_points([run_file(path)]).iloc[0]
    assert row["weight_decay"] == chosen.key.weight_decay and row["lr"] == chosen.key.lr
    assert row["lr_grid"] == info["lr_grid"]
    # the report names each pair and marks the one chosen
    text = lr_grid_text(row)
    assert text.count("(chosen)") == 1
    assert f"{chosen.key.lr:g} wd {chosen.key.weight_decay:g}: " in text.split(" (chosen)")[0]


def test_a_run_trains_at_its_keys_weight_decay():
    budget = paper_budget()
    cfg = train_config(budget, lr=1e-3, weight_decay=0.1)
    assert (cfg.lr, cfg.weight_decay) == (1e-3, 0.1)
    assert train_config(budget).weight_decay == 0.0
    groups = make_optimizer(torch.nn.Linear(3, 3), cfg).param_groups
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]  # biases are not decayed
    assert str(RunKey(TASK, MIXER, 0, 1e-3, 0.1)).endswith("-lr0.001-wd0.1")
    assert str(RunKey(TASK, MIXER, 0, 1e-3)).endswith("-lr0.001")


def test_the_default_profile_keeps_one_weight_decay():
    for task in get_profile("default").tasks:
        budget = task.budget
        assert budget.weight_decays == (0.1,), task.name
        assert len(budget.grid) == len(budget.lrs), task.name


@pytest.mark.parametrize(
    "make_it",
    [
        lambda: Budget(**BASE, weight_decay=-0.1),
        lambda: Budget(**BASE, weight_decay=0.0, weight_decay_grid=(0.0, float("nan"))),
        lambda: Budget(**BASE, weight_decay=0.0, weight_decay_grid=(0.0, float("inf"))),
        lambda: TrainConfig(weight_decay="0.1"),
        lambda: TrainConfig(weight_decay=True),
        lambda: train_config(Budget(**BASE), weight_decay=-1.0),
    ],
)
def test_a_bad_weight_decay_is_a_one_line_error_naming_it(make_it):
    with pytest.raises(ValueError, match=r"weight decay must be a finite number >= 0") as error:
        make_it()
    assert "\n" not in str(error.value)


def test_a_weight_decay_outside_its_grid_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"weight_decay 0.1 must be one of weight_decay_grid"):
        Budget(**BASE, weight_decay_grid=(0.0, 0.01))


def test_the_reports_protocol_states_the_joint_choice():
    from pathlib import Path

    from reports import accuracy
    from reports.load import load

    points = load(Path(__file__).parent / "fixtures" / "accuracy", ["all"])
    bullets = accuracy.table_blocks(points)[1]
    for words in (
        "learning rate and weight decay chosen per mixer on validation, jointly",
        "every (learning rate, weight decay) pair of the task's grid",
        "the pair with the best validation accuracy is kept for every seed",
        "at the chosen pair",
    ):
        assert words in bullets, words

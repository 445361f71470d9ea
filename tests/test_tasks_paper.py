"""The paper profile carries each LRA task's published set-up: the sequence
length as released and the LRA repository's Transformer hyper-parameters, each
with its source named, and its budgets follow them (tasks/budget.py,
LRA_PAPER_SETUPS)."""

from __future__ import annotations

import math
import re

import pytest

from schema import mqar_task_name
from tasks.budget import LRA_COMMIT, LRA_PAPER, LRA_PAPER_SETUPS, LRA_REPOSITORY
from tasks.catalog import get_profile, get_task
from tasks.lra import TASK_NAMES as LRA_DISK_TASKS

#: the lengths the LRA release gives its tasks (per document for Retrieval)
RELEASED_LENGTHS = {
    "listops": 2000,
    "text": 4096,
    "retrieval": 4000,
    "image": 32 * 32,
    "pathfinder": 32 * 32,
    "pathx": 128 * 128,
}
#: the folder under lra_benchmarks/ whose configs each task's set-up comes from
CONFIG_FOLDERS = {
    "listops": "listops/configs/",
    "text": "text_classification/configs/",
    "retrieval": "matching/configs/",
    "image": "image/configs/cifar10/",
    "pathfinder": "image/configs/pathfinder32/",
    "pathx": "image/configs/pathfinder128/",
}


def test_every_lra_task_has_a_set_up_with_its_sources():
    profile = get_profile("paper")
    assert set(profile.paper_setups) == set(LRA_DISK_TASKS) == set(LRA_PAPER_SETUPS)
    assert LRA_REPOSITORY == "google-research/long-range-arena"
    assert re.fullmatch(r"[0-9a-f]{40}", LRA_COMMIT)
    for name, setup in LRA_PAPER_SETUPS.items():
        assert setup.task == name
        files = [f.strip() for f in setup.source.split(",")]
        assert files and all(f.startswith(CONFIG_FOLDERS[name]) for f in files), setup.source
        assert any(re.search(r"/base_\w+_config\.py$", f) for f in files), setup.source
        assert all(f.endswith(".py") for f in files)
        assert setup.length_source.startswith(LRA_PAPER)
        if setup.adjusted:
            assert setup.adjusted_why, f"{name}: adjusted {setup.adjusted} without a reason"


@pytest.mark.parametrize("name", LRA_DISK_TASKS)
def test_the_paper_profile_trains_at_the_released_lengths(name):
    setup = LRA_PAPER_SETUPS[name]
    assert setup.seq_len == RELEASED_LENGTHS[name]
    task = get_task(f"lra-{name}", "paper")
    assert task.spec.seq_len == RELEASED_LENGTHS[name]
    assert task.config["lra_task"] == name


@pytest.mark.parametrize("name", LRA_DISK_TASKS)
def test_the_budget_follows_the_set_up(name):
    setup, budget = LRA_PAPER_SETUPS[name], get_task(f"lra-{name}", "paper").budget
    published = {
        "steps": setup.steps,
        "batch_size": setup.batch_size,
        "d_model": setup.d_model,
        "n_layers": setup.n_layers,
        "n_heads": setup.n_heads,
        "weight_decay": setup.weight_decay,
        "grad_clip": setup.grad_clip,
        "warmup_steps": min(setup.warmup_steps, setup.steps),
        "mlp_ratio": max(1, setup.mlp_dim // setup.d_model),
    }
    expected = published | setup.adjusted
    assert {k: getattr(budget, k) for k in expected} == expected
    assert budget.lr == pytest.approx(setup.peak_lr, rel=1e-2)
    assert len(budget.lrs) == 3 and budget.lr in budget.lrs
    assert budget.max_test_examples >= 100_000  # the whole test split


def test_peak_rates_of_the_rsqrt_schedule():
    # lr * min(1, t / warmup) / sqrt(max(t, warmup)) peaks at t = warmup ...
    listops = LRA_PAPER_SETUPS["listops"]
    assert listops.peak_lr == pytest.approx(0.05 / math.sqrt(1000))
    # ... or at the last step when training ends before the warm-up does (Retrieval)
    retrieval = LRA_PAPER_SETUPS["retrieval"]
    assert retrieval.steps < retrieval.warmup_steps
    assert retrieval.peak_lr == pytest.approx(0.05 * 5000 / 8000 / math.sqrt(8000))
    # a cosine schedule's peak is its rate
    assert LRA_PAPER_SETUPS["image"].peak_lr == LRA_PAPER_SETUPS["image"].lr


def test_the_paper_mqar_sweep_reaches_zoology_lengths_and_pairs():
    profile = get_profile("paper")
    sweep = {t.name: t.config for t in profile.tasks if t.name.startswith("mqar-")}
    lengths = {c["seq_len"] for c in sweep.values()}
    pairs = {c["num_kv_pairs"] for c in sweep.values()}
    assert max(lengths) >= 2048 and min(lengths) <= 512
    assert max(pairs) >= 256 and min(pairs) <= 32
    for name, config in sweep.items():
        assert name == mqar_task_name(config["seq_len"], config["num_kv_pairs"])
        assert config["vocab_size"] == 8192
    assert profile.aliases["mqar"] in sweep

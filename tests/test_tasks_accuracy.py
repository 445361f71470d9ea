"""What an accuracy run reports besides the accuracy (the chance level it is read
against, the learning rate, the task's settings, the decoding state) and the
protocol each profile runs (seeds, learning-rate grids, the MQAR sweep's names,
aliases, sanity bars)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from schema import mqar_task_name
from tasks.accuracy import decoding_state_bytes, majority_accuracy, run_accuracy
from tasks.base import IGNORE_INDEX
from tasks.budget import Budget, train_config
from tasks.catalog import DEFAULT_MQAR_POINT, PROFILES, SANITY_BARS, get_task
from tasks.lra.common import TokenArrayDataset
from tasks.model import ModelConfig, build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_majority_accuracy_of_labels_and_of_predicted_positions():
    labels = torch.tensor([1, 1, 1, 0])
    assert majority_accuracy(TensorDataset(torch.zeros(4, 3), labels)) == 0.75
    per_token = torch.full((2, 4), IGNORE_INDEX)
    per_token[0, 1], per_token[1, 2], per_token[1, 3] = 5, 5, 7
    assert majority_accuracy(TensorDataset(torch.zeros(2, 4), per_token)) == pytest.approx(2 / 3)
    stored = TokenArrayDataset(np.zeros((4, 3), np.uint8), np.array([2, 0, 0, 2]))
    assert majority_accuracy(Subset(stored, [0, 3, 1])) == pytest.approx(2 / 3)


def test_run_accuracy_records_chance_and_the_learning_rate():
    run = run_accuracy("attention/sdpa", "induction", "smoke", lr=1e-3)
    assert run.lr == 1e-3 and run.result.status == "ok"
    assert 0 < run.chance_accuracy < 0.5  # 8 content tokens: about 1/8
    assert 0 <= run.result.val_accuracy <= 1


def test_profiles_have_seeds_and_learning_rates():
    for profile in PROFILES.values():
        assert profile.seeds >= 1
        for budget in (task.budget for task in profile.tasks):
            assert budget.lrs and all(lr > 0 for lr in budget.lrs)
            assert not budget.lr_grid or budget.lr in budget.lr_grid


# -- the protocol each profile runs ---------------------------------------------------
def test_default_runs_three_seeds_and_a_small_grid_per_task():
    default = PROFILES["default"]
    assert default.seeds >= 3
    for task in default.task_names():
        assert 2 <= len(get_task(task, "default").budget.lrs) <= 3, task


def test_smoke_stays_one_seed_and_few_rates():
    smoke = PROFILES["smoke"]
    assert smoke.seeds == 1
    for task in smoke.task_names():
        budget = get_task(task, "smoke").budget
        assert len(budget.lrs) <= 2 and budget.steps <= 20, task


def test_every_mqar_sweep_point_is_named_by_its_length_and_pairs():
    for profile in PROFILES.values():
        for task in profile.tasks:
            if task.name.startswith("mqar-"):
                config = task.config
                assert task.name == mqar_task_name(config["seq_len"], config["num_kv_pairs"])
                assert task.spec.seq_len == config["seq_len"]
    default = PROFILES["default"]
    configs = [t.config for t in default.tasks if t.name.startswith("mqar-")]
    # two pair counts (Zoology's claim), the length-tested one where attention leaves
    # MQAR's plateau and the fixed-state mixers do not
    points = [(c["seq_len"], c["num_kv_pairs"]) for c in configs]
    assert DEFAULT_MQAR_POINT in points and len({kv for _, kv in points}) >= 2
    # the default's MQAR against length: trained at one length, tested at longer ones
    lengths = {c["seq_len"] for c in configs} | {
        n for c in configs for n in c.get("test_lengths", ())
    }
    assert len(lengths) >= 2


def test_the_sanity_bars_name_tasks_of_their_profile():
    for profile, task in SANITY_BARS:
        assert task in PROFILES[profile].task_names(), (profile, task)


def test_an_alias_stands_for_its_task_and_is_not_run_twice():
    default = PROFILES["default"]
    target = default.aliases["mqar"]
    assert target in default.task_names()
    assert "mqar" not in default.task_names() and "mqar" in default.accepted_names()
    assert get_task("mqar", "default") is get_task(target, "default")
    with pytest.raises(ValueError, match="unknown task 'lra-nothing' in profile default"):
        get_task("lra-nothing", "default")


# -- what a run records besides its accuracy -----------------------------------------
def test_task_config_holds_the_generator_settings_and_the_loader_options():
    config = get_task("mqar-L32-kv8", "default").config
    assert config["generator"] == "mqar"
    assert (config["seq_len"], config["num_kv_pairs"], config["vocab_size"]) == (32, 8, 32)
    assert config["n_train"] > 0 and config["n_test"] > 0
    listops = get_task("listops", "default")
    assert listops.config["max_len"] == listops.spec.seq_len
    assert get_task("lra-listops", "default").config == {"lra_task": "listops", "max_length": 512}
    assert get_task("lra-image", "default").config == {"lra_task": "image"}
    json.dumps([task.config for profile in PROFILES.values() for task in profile.tasks])


@pytest.mark.parametrize("mixer", ["attention/sdpa", "mamba/scan"])
def test_run_accuracy_records_task_config_and_decoding_state(mixer):
    run = run_accuracy(mixer, "mqar", "smoke", lr=3e-3)
    task = get_task("mqar", "smoke")
    assert run.task_config == task.config and run.task == task.name
    model = build_model(task.spec, run.model)
    expected = sum(m.state_bytes(1, run.seq_len, torch.float32) for m in model.backbone.mixers)
    assert run.state_bytes == expected > 0
    if mixer == "attention/sdpa":  # a KV cache: keys and values of every token, every layer
        per_token = 2 * run.model.d_model * 4 * run.model.n_layers
        assert run.state_bytes == run.seq_len * per_token
    else:  # a fixed-size state
        assert decoding_state_bytes(model, 4 * run.seq_len, torch.float32) == run.state_bytes


def test_a_two_tower_model_counts_its_one_encoder():
    spec = get_task("lra-retrieval", "smoke").spec
    cfg = ModelConfig("attention/sdpa", d_model=16, n_layers=2, mixer_config={"n_heads": 2})
    with torch.device("meta"):
        model = build_model(spec, cfg)
    assert spec.kind == "pair"
    one_tower = sum(m.state_bytes(1, spec.seq_len, torch.float32) for m in model.backbone.mixers)
    assert decoding_state_bytes(model, spec.seq_len, torch.float32) == one_tower


def test_the_budget_reaches_the_training_loop():
    budget = Budget(
        steps=40, batch_size=8, lr=2e-3, lr_grid=(1e-3, 2e-3), d_model=32, n_layers=1,
        weight_decay=0.0, warmup_steps=7, grad_clip=None, time_budget_s=9.0,
    )  # fmt: skip
    cfg = train_config(budget, lr=1e-3, seed=2, progress=False)
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.seed) == (40, 8, 1e-3, 2)
    assert (cfg.weight_decay, cfg.warmup, cfg.grad_clip, cfg.time_budget_s) == (0.0, 7, None, 9.0)
    assert train_config(replace(budget, warmup_steps=None)).warmup == 4  # 10% of the steps
    with pytest.raises(ValueError, match="warmup_steps"):
        replace(budget, warmup_steps=41)
    with pytest.raises(ValueError, match="lr_grid"):
        replace(budget, lr=5e-3)


def test_the_budget_names_a_checkpoint_for_the_loop():
    budget = Budget(steps=40, batch_size=8, lr=2e-3, d_model=32, n_layers=1)
    cfg = train_config(budget, checkpoint_path="run.pt", checkpoint_every=7)
    assert (cfg.checkpoint_path, cfg.checkpoint_every) == ("run.pt", 7)
    assert train_config(budget).checkpoint_path is None


def test_a_task_builds_its_data_once_and_as_it_declares():
    task = get_task("induction", "smoke")
    data = task.data(seed=0)
    assert data is task.data(seed=0) and data is not task.data(seed=1)
    assert data.spec == task.spec


def test_an_lra_task_cuts_its_evaluation_splits_to_the_budget(tmp_path):
    from tasks.lra import DataMissing

    task = get_task("lra-listops", "smoke")
    assert task.spec.seq_len == 128 and task.budget.max_test_examples == 16
    with pytest.raises(DataMissing):
        task.data(seed=0, data_dir=str(tmp_path))


def test_a_registered_generator_is_a_whole_task(monkeypatch):
    """A new generated task is its generator and one synthetic_task entry in a
    profile: budget, spec, recorded settings, data and the run follow from it."""
    import tasks.catalog
    from tasks.catalog import AccuracyProfile, synthetic_task
    from tasks.synthetic import SelectiveCopyConfig, make_selective_copy

    budget = Budget(steps=3, batch_size=4, lr=3e-3, d_model=32, n_layers=1, n_heads=2)
    task = synthetic_task("copy", make_selective_copy, SelectiveCopyConfig, budget, 16, 8,
                          seq_len=16, vocab_size=12, n_copy=4)  # fmt: skip
    assert task.config["generator"] == "selective_copy" and task.config["n_train"] == 16
    assert task.spec == SelectiveCopyConfig(seq_len=16, vocab_size=12, n_copy=4).spec()
    profiles = {**PROFILES, "tiny": AccuracyProfile("tiny", (task,))}
    monkeypatch.setattr(tasks.catalog, "PROFILES", profiles)
    run = run_accuracy("attention/sdpa", "copy", "tiny", progress=False)
    assert run.task == "copy" and run.task_config == task.config and run.result.steps == 3

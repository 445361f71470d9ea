"""Length extrapolation and the learning curve in an accuracy run (tasks/accuracy.py,
tasks/catalog.py's extrapolation tasks): trained at one length, tested at longer ones,
each mixer built for the longest; every run's curve with its analytic FLOPs."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import TensorDataset

from schema import field_problems, make_extra_info
from suite.workloads import analytic_flops
from tasks.accuracy import (
    CURVE_POINTS,
    length_accuracies,
    run_accuracy,
    training_step_flops,
)
from tasks.base import TaskData
from tasks.catalog import get_task
from tasks.model import ModelConfig, build_model
from tasks.record import RunKey, point_extra_info, record_run
from tasks.synthetic import make_induction
from tasks.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def hyena_run():
    return run_accuracy("hyena/fft", "induction", "smoke", lr=3e-3, progress=False)


def test_a_run_is_tested_at_each_longer_length_with_the_model_built_for_the_longest(hyena_run):
    assert [e["seq_len"] for e in hyena_run.extrapolation] == [32, 64]
    assert all(0 <= e["accuracy"] <= 1 for e in hyena_run.extrapolation)
    # Hyena's implicit filter is defined up to l_max: built for the longest test length
    assert hyena_run.model.mixer_config["l_max"] == 64
    assert hyena_run.seq_len == 16


def test_every_run_records_its_learning_curve(hyena_run):
    curve = hyena_run.result.curve
    assert len(curve) == CURVE_POINTS and curve[-1]["step"] == hyena_run.result.steps
    assert all(p["flops"] > 0 for p in curve)
    per_step = curve[0]["flops"] / curve[0]["step"]
    assert curve[-1]["flops"] == pytest.approx(per_step * curve[-1]["step"])


def test_the_curve_and_extrapolation_round_trip_through_the_schema(hyena_run):
    record = record_run(RunKey("induction", "hyena/fft", 0, 3e-3), hyena_run)
    info = point_extra_info("hyena/fft", "induction", [record], [record], device="cpu",
                            dtype="float32")  # fmt: skip
    assert field_problems(info) == []
    assert info["curve"] == [{"seed": 0, "points": hyena_run.result.curve}]
    assert info["extrapolation"] == [{"seed": 0, "accuracies": hyena_run.extrapolation}]
    assert info["positional"].startswith("none beyond its long convolution")
    assert json.loads(json.dumps(info)) == info
    assert make_extra_info(**json.loads(json.dumps(info))) == info


def test_a_curve_entry_of_the_wrong_type_breaks_the_schema():
    assert field_problems({"curve": {"seed": 0}}) == ["curve is {'seed': 0}, not list"]
    assert field_problems({"positional": 1}) == ["positional is 1, not str"]


def test_a_task_without_longer_lengths_saves_no_extrapolation():
    run = run_accuracy("attention/sdpa", "mqar", "smoke", lr=3e-3, progress=False)
    record = record_run(RunKey("mqar", "attention/sdpa", 0, 3e-3), run)
    info = point_extra_info("attention/sdpa", "mqar", [record], [record], device="cpu",
                            dtype="float32")  # fmt: skip
    assert info["extrapolation"] is None and info["positional"].startswith("rotary")
    assert len(info["curve"][0]["points"]) == CURVE_POINTS


@pytest.mark.parametrize("mixer", ["attention/sdpa", "mamba/fused", "retnet/chunkwise"])
def test_a_training_steps_flops_are_the_suites_train_step_count(mixer):
    data = make_induction(8, 8, seed=0, seq_len=32, vocab_size=10)
    with torch.device("meta"):
        model = build_model(data.spec, ModelConfig(mixer, d_model=32, n_layers=2))
    expected = analytic_flops(model.backbone, "train_step", 4, 32)
    assert training_step_flops(model, data.spec, 4) == expected


def test_longer_lengths_are_evaluated_in_batches_of_as_many_tokens():
    seen: list[int] = []

    class Recorder(torch.nn.Module):
        def forward(self, tokens):
            seen.append(tokens.shape[0])
            return torch.zeros(*tokens.shape, 10)

    data = make_induction(8, 64, seed=0, seq_len=16, vocab_size=10)
    long = make_induction(8, 64, seed=1, seq_len=64, vocab_size=10).test
    data = TaskData(data.spec, data.train, data.test, data.val, length_tests={64: long})
    accuracies = length_accuracies(Recorder(), data, TrainConfig(eval_batch_size=32))
    assert seen == [8] * 8 and [a["seq_len"] for a in accuracies] == [64]
    assert isinstance(long, TensorDataset)


def test_the_profiles_register_induction_and_mqar_tested_at_longer_lengths():
    for name in ("induction", "mqar-L32-kv8"):
        config = get_task(name, "default").config
        assert config["seq_len"] == 32 and config["test_lengths"] == [64, 128, 256]
    paper = get_task("induction", "paper")
    assert paper.config["seq_len"] == 256 and paper.config["test_lengths"][-1] == 2**16
    assert paper.budget.batch_size == 8 and paper.budget.d_model == 64
    assert get_task("mqar-L512-kv32", "paper").config["test_lengths"] == [1024, 2048, 4096]

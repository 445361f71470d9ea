"""A finished accuracy run as the suite saves it (tasks/record.py): one mapping from
a run to its record, one from a point's records to its saved fields, shared by the
suite's grid and ``python -m tasks train``."""

from __future__ import annotations

import pickle

import pytest

from models.registry import get_spec
from schema import EXTRA_INFO_KEYS, Status, field_problems
from tasks.accuracy import run_accuracy
from tasks.record import RunKey, RunRecord, point_extra_info, point_status, record_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained() -> RunRecord:
    run = run_accuracy("retnet/chunkwise", "mqar", "smoke", lr=3e-3, progress=False)
    return record_run(RunKey("mqar", "retnet/chunkwise", 0, 3e-3), run)


def record(seed: int, lr: float, status: str = Status.OK, accuracy=None, **values) -> RunRecord:
    return RunRecord(RunKey("mqar", "retnet/chunkwise", seed, lr), status, accuracy=accuracy,
                     **values)  # fmt: skip


def test_a_record_holds_what_the_run_trained_with_and_travels_as_plain_values(trained):
    assert trained.status == Status.OK and 0 <= trained.accuracy <= 1
    assert trained.task_config["generator"] == "mqar" and trained.state_bytes > 0
    assert trained.tokens_seen == trained.steps * trained.batch * trained.seq_len
    assert pickle.loads(pickle.dumps(trained)) == trained


def test_the_saved_fields_hold_every_setting_and_the_mixers_declarations(trained):
    info = point_extra_info("retnet/chunkwise", "mqar", [trained], [trained],
                            device="cpu", dtype="float32")  # fmt: skip
    assert tuple(info) == EXTRA_INFO_KEYS and field_problems(info) == []
    spec = get_spec("retnet/chunkwise")
    assert info["mixer_class"] == spec.class_path and info["fixed_state"] is True
    assert info["task_config"] == trained.task_config
    assert info["state_bytes"] == trained.state_bytes
    assert info["params_target"] == trained.target_params
    # the smoke budget's own weight decay: the run's key named none
    assert info["weight_decay"] == trained.weight_decay == 0.1
    assert info["lr_grid"] == [
        {"lr": 3e-3, "weight_decay": 0.1, "val_accuracy": trained.val_accuracy, "status": "ok"}
    ]


def test_the_point_averages_the_seeds_that_reached_an_accuracy():
    first = [record(0, 1e-3, val_accuracy=0.4), record(0, 3e-3, accuracy=0.5, val_accuracy=0.6)]
    seeds = [first[1], record(1, 3e-3, accuracy=0.7), record(2, 3e-3, Status.DIVERGED)]
    info = point_extra_info("retnet/chunkwise", "mqar", first, seeds, device="cpu",
                            dtype="float32")  # fmt: skip
    assert info["accuracy"] == pytest.approx(0.6) and info["lr"] == 3e-3
    assert info["status"] == Status.DIVERGED
    assert [s["seed"] for s in info["seed_accuracies"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("first", "seeds", "expected"),
    [
        ([Status.SKIPPED, Status.SKIPPED], [], Status.SKIPPED),
        ([Status.SKIPPED, Status.FAILED], [], Status.FAILED),
        ([Status.OK], [Status.OK, Status.TIMEOUT], Status.TIMEOUT),
        ([Status.OK], [Status.OK, Status.FAILED, Status.DIVERGED], Status.FAILED),
        ([Status.OK], [Status.OK, Status.OK], Status.OK),
    ],
)
def test_the_points_status(first, seeds, expected):
    runs = [record(0, 1e-3 * (i + 1), status) for i, status in enumerate(first)]
    chosen = [record(seed, 1e-3, status) for seed, status in enumerate(seeds)]
    assert point_status(runs, chosen) == expected


def test_a_point_that_trained_nothing_still_saves_what_the_mixer_declares():
    info = point_extra_info("mamba/scan", "mqar", [], [], device="cpu", dtype="float32")
    assert field_problems(info) == [] and info["fixed_state"] is True
    assert info["mixer_class"] == get_spec("mamba/scan").class_path
    assert info["accuracy"] is None and info["params"] is None and info["seed_accuracies"] == []


def test_curves_and_extrapolation_are_kept_per_seed_that_recorded_them():
    point = {"step": 10, "val_accuracy": 0.5, "cpu_s": 1.0, "flops": None}
    lengths = [{"seq_len": 64, "accuracy": 0.4}]
    seeds = [
        record(0, 3e-3, accuracy=0.5, curve=[point], extrapolation=lengths),
        record(1, 3e-3, accuracy=0.6, curve=[], extrapolation=[]),
        record(2, 3e-3, Status.FAILED),
    ]
    info = point_extra_info("retnet/chunkwise", "mqar", seeds[:1], seeds, device="cpu",
                            dtype="float32")  # fmt: skip
    assert info["curve"] == [{"seed": 0, "points": [point]}]
    assert info["extrapolation"] == [{"seed": 0, "accuracies": lengths}]
    assert field_problems(info) == []
    bare = point_extra_info("retnet/chunkwise", "mqar", seeds[1:2], seeds[1:2], device="cpu",
                            dtype="float32")  # fmt: skip
    assert bare["curve"] is None and bare["extrapolation"] is None

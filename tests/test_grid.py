"""The accuracy grid (suite/grid.py): Ray workers give the records in-process
runs give, a lost worker is recorded as failed while the rest completes, and
without --workers Ray is never imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schema import Status
from suite.grid import GridContext, InProcess, RayGrid, train_one
from tasks.record import RunKey

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = GridContext("smoke", "cpu", None, "off", threads=1)
KEYS = [RunKey("mqar", mixer, seed, 3e-3) for mixer in ("attention/sdpa", "retnet/chunkwise")
        for seed in (0, 1)]  # fmt: skip

ray = pytest.importorskip("ray", reason="Ray is the optional extra mixbench[ray]")
#: one local Ray cluster at a time: a second would be found by --ray-address auto
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def in_process() -> dict[RunKey, object]:
    grid = InProcess(CONTEXT, len(KEYS))
    records = {key: grid.result(key) for key in KEYS}
    grid.close()
    return records


@pytest.mark.slow
def test_ray_workers_give_the_in_process_records(in_process) -> None:
    grid = RayGrid(CONTEXT, len(KEYS), workers=2)
    try:
        grid.submit(KEYS)
        remote = {key: grid.result(key) for key in reversed(KEYS)}
    finally:
        grid.close()
    for key in KEYS:
        here, there = in_process[key], remote[key]
        assert there.status == Status.OK
        assert (there.accuracy, there.val_accuracy, there.params) == (
            here.accuracy,
            here.val_accuracy,
            here.params,
        )


def train_or_die(key: RunKey, context: GridContext):
    """A run whose worker process is killed, beside runs that train."""
    if key.seed == 1:
        os._exit(1)
    return train_one(key, context)


@pytest.mark.slow
def test_a_lost_worker_is_recorded_as_failed_and_the_grid_goes_on() -> None:
    grid = RayGrid(CONTEXT, len(KEYS), workers=2, train=train_or_die)
    try:
        grid.submit(KEYS)
        records = {key: grid.result(key) for key in KEYS}
    finally:
        grid.close()
    for key, record in records.items():
        if key.seed == 1:
            assert record.status == Status.FAILED
            assert "worker" in record.reason
        else:
            assert record.status == Status.OK and record.accuracy is not None
    assert not ray.is_initialized()


def test_without_workers_ray_is_never_imported() -> None:
    code = (
        "import sys, suite.grid, suite.test_accuracy\n"
        "from suite.grid import InProcess, GridContext\n"
        "from tasks.record import RunKey\n"
        "grid = InProcess(GridContext('smoke', 'cpu', None, 'off', 1), 1)\n"
        "grid.result(RunKey('mqar', 'attention/sdpa', 0, 3e-3))\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_run_takes_the_knobs_set_for_its_mixer() -> None:
    options = {"mamba": {"d_state": "4"}, "retnet/*": {"n_heads": "1"}}
    context = GridContext("smoke", "cpu", None, "off", threads=1, mixer_options=options)
    grid = InProcess(context, 1)
    record = grid.result(RunKey("mqar", "mamba/scan", 0, 3e-3))
    grid.close()
    assert record.status == Status.OK and record.mixer_config["d_state"] == 4
    assert "n_heads" not in record.mixer_config

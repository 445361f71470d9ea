"""suite/guard.py: every call into a mixer runs under a time budget, in a worker
the suite can leave behind, with torch's global state put back after it; and the
suite's runs (speed points, the reference check, accuracy runs in this process)
go on past a plug-in that never returns or one that changes torch's state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from schema import Status
from suite.grid import GridContext, InProcess
from suite.guard import CallTimeout, StateChanged, guarded
from tasks.record import RunKey, RunRecord

ROOT = Path(__file__).resolve().parents[1]


def test_a_call_within_its_budget_gives_its_value_and_its_error() -> None:
    assert guarded(lambda: 41 + 1, 5.0, "adding") == 42
    with pytest.raises(ZeroDivisionError):
        guarded(lambda: 1 / 0, 5.0, "dividing")


def test_a_python_loop_past_its_budget_is_stopped() -> None:
    def spin() -> None:
        while True:
            pass

    started = time.perf_counter()
    with pytest.raises(CallTimeout, match=r"spinning ran past its time budget of 0.3 s .*stopped"):
        guarded(spin, 0.3, "spinning")
    assert time.perf_counter() - started < 2.0
    assert not any(t.name == "mixbench-mixer-call" and t.is_alive() for t in threading.enumerate())


def test_a_call_that_never_returns_is_abandoned_and_the_caller_goes_on() -> None:
    release = threading.Event()
    started = time.perf_counter()
    with pytest.raises(CallTimeout, match=r"did not stop .* abandoned in worker thread"):
        guarded(lambda: release.wait(3600) and time.sleep(3600), 0.2, "sleeping")
    # a native wait never sees the exception raised in its thread: left behind
    assert time.perf_counter() - started < 0.2 + 2.0 + 1.0
    assert any(t.name == "mixbench-mixer-call" and t.daemon for t in threading.enumerate())


def plugin_sets(change) -> None:
    """What a plug-in's forward does to torch, then returns."""
    change()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda: torch.set_num_threads(torch.get_num_threads() + 6), "num_threads"),
        (lambda: torch.set_default_dtype(torch.float64), "default_dtype"),
        (lambda: torch.use_deterministic_algorithms(True), "deterministic_algorithms"),
        (lambda: torch.set_grad_enabled(False), "grad_enabled True -> False"),
        (lambda: torch.set_float32_matmul_precision("medium"), "float32_matmul_precision"),
    ],
)
def test_a_call_that_changes_torchs_state_is_named_and_the_state_put_back(change, named) -> None:
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    with pytest.raises(StateChanged, match=named):
        guarded(lambda: plugin_sets(change), 5.0, "a leaky forward")
    assert torch.get_num_threads() == threads
    assert torch.get_default_dtype() == dtype
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.get_float32_matmul_precision() == "highest"
    assert torch.is_grad_enabled()


def test_the_rng_is_put_back_without_a_word() -> None:
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    guarded(lambda: torch.manual_seed(12345) and torch.rand(100), 5.0, "seeding")
    assert torch.equal(torch.rand(4), expected)


def test_the_callers_grad_mode_travels_into_the_worker() -> None:
    with torch.no_grad():
        assert guarded(torch.is_grad_enabled, 5.0, "asking") is False
    assert guarded(torch.is_grad_enabled, 5.0, "asking") is True


# -- accuracy runs in this process ------------------------------------------------------
CONTEXT = GridContext(profile="smoke", device="cpu", data_dir=None, autocast="off", threads=1)
KEY = RunKey("mqar", "attention/sdpa", 0, 1e-3)


def test_an_accuracy_run_that_never_returns_is_a_timeout_and_the_grid_goes_on() -> None:
    def stuck(key: RunKey, context: GridContext) -> RunRecord:
        if key.seed == 0:
            threading.Event().wait(3600)
        return RunRecord(key, Status.OK)

    grid = InProcess(CONTEXT, 2, train=stuck, budget_s=lambda key, context: 0.3)
    record = grid.result(KEY)
    assert record.status == Status.TIMEOUT
    assert "training attention/sdpa on mqar (seed 0" in record.reason
    assert "abandoned" in record.reason
    assert grid.result(RunKey("mqar", "attention/sdpa", 1, 1e-3)).status == Status.OK
    grid.close()


def test_an_accuracy_run_that_changes_the_default_dtype_is_failed_and_put_back() -> None:
    def leaky(key: RunKey, context: GridContext) -> RunRecord:
        torch.set_default_dtype(torch.float64)
        return RunRecord(key, Status.OK)

    threads = torch.get_num_threads()
    record = InProcess(CONTEXT, 1, train=leaky).result(KEY)
    assert record.status == Status.FAILED
    assert "default_dtype torch.float32 -> torch.float64" in record.reason
    assert torch.get_default_dtype() == torch.float32
    assert torch.get_num_threads() == threads  # the run's one thread put back too


# -- a whole run with hostile plug-ins --------------------------------------------------
HOSTILE_PLUGIN = """
import time

import torch
from models import Mixer, register_mixer


class Identity(Mixer):
    fixed_state = True

    def forward(self, x):
        return x * 1.0

    def init_state(self, batch, device=None, dtype=None):
        return {}

    def step(self, x_t, state):
        return self.forward(x_t[:, None])[:, 0], state

    def flops(self, batch, seq_len, backward=False):
        return batch * seq_len * self.d_model

    def step_flops(self, batch, context_len):
        return self.flops(batch, 1)


@register_mixer("stuck/forever", reference=True)
class Stuck(Identity):
    def forward(self, x):
        time.sleep(3600)  # a native wait: no exception reaches it


@register_mixer("leaky/threads", reference=True)
class Leaky(Identity):
    def forward(self, x):
        torch.set_num_threads(7)
        return x * 1.0
"""


def run_with_hostile_plugins(tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    (tmp_path / "hostile_plugin.py").write_text(textwrap.dedent(HOSTILE_PLUGIN))
    env = {
        **os.environ,
        "MIXBENCH_PLUGINS": "hostile_plugin",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
    }
    command = [
        sys.executable, "-m", "pytest", "suite/test_speed.py", "-q", "-p", "no:cacheprovider",
        "--profile", "smoke", "--device", "cpu", "--lengths", "32", "--time-budget-s", "2",
        "--mixers", "stuck/forever,leaky/threads,attention/sdpa", "-k", "forward",
        "--benchmark-json", str(tmp_path / "run.json"),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return done, time.perf_counter() - started


@pytest.mark.slow
def test_a_run_goes_on_past_a_stuck_and_a_leaky_plugin(tmp_path: Path) -> None:
    """The stuck variant's reference check is a timeout, abandoned; the leaky one
    fails naming the threads; attention is measured after both, at one thread."""
    done, seconds = run_with_hostile_plugins(tmp_path)
    output = done.stdout[-4000:] + done.stderr[-4000:]
    saved = json.loads((tmp_path / "run.json").read_text())
    failures = {f["extra_info"]["mixer"]: f["extra_info"] for f in saved["mixbench_failures"]}
    assert failures["stuck/forever"]["status"] == Status.TIMEOUT, output
    assert "abandoned" in failures["stuck/forever"]["reason"]
    assert failures["leaky/threads"]["status"] == Status.FAILED
    assert "num_threads 1 -> 7" in failures["leaky/threads"]["reason"]
    measured = [b for b in saved["benchmarks"] if b["extra_info"]["mixer"] == "attention/sdpa"]
    assert measured and measured[0]["extra_info"]["status"] == Status.OK, output
    assert saved["mixbench_options"]["torch_threads"] == 1
    assert seconds < 300

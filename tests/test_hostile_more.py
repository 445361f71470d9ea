"""More of what a hostile user or a broken machine gives the suite and its commands
(issue 22): an unreachable Ray cluster, absurd worker counts, axis flags of
another sweep, comparisons of runs that share nothing, a user's files under the
names the commands write, a full disk, odd plug-in names, a planted cache. Each
is a one-line error naming the problem, never a hang or a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from pathlib import Path

import pytest

from reports.__main__ import EXIT_UNCHECKED
from reports.__main__ import main as reports_main
from suite.grid import ray_address_problem
from suite.options import resolve_options
from tests.test_options import KNOWN, assert_usage_error, collect_suite

ROOT = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolve(**raw: str):
    return resolve_options(raw, KNOWN, cuda_available=False)


# -- the Ray grid -------------------------------------------------------------------------
def test_an_address_nothing_answers_at_is_named_at_once() -> None:
    port = closed_port()
    started = time.perf_counter()
    problem = ray_address_problem(f"127.0.0.1:{port}", timeout_s=2.0)
    assert f"nothing answers at 127.0.0.1:{port}" in problem
    assert time.perf_counter() - started < 3.0


def test_a_listening_head_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert ray_address_problem(f"127.0.0.1:{server.getsockname()[1]}") is None


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("head", "is not host:port"),
        ("head:port", "is not host:port"),
        ("head:70000", "is not host:port"),
        (":6379", "is not host:port"),
    ],
)
def test_an_address_that_is_not_host_port_is_named(address: str, message: str) -> None:
    assert message in ray_address_problem(address)


def test_ray_client_addresses_need_ray_client(monkeypatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert "pip install 'ray[client]'" in ray_address_problem("ray://head:10001")


def test_auto_checks_the_address_ray_address_names(monkeypatch) -> None:
    port = closed_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in ray_address_problem("auto", timeout_s=1.0)
    monkeypatch.delenv("RAY_ADDRESS")
    assert ray_address_problem("auto") is None  # Ray says at once when there is none


def test_an_unreachable_ray_address_is_a_usage_error_at_start() -> None:
    port = closed_port()
    done = collect_suite("--ray-address", f"127.0.0.1:{port}")
    assert_usage_error(done, "--ray-address", f"127.0.0.1:{port}", "nothing answers")


# -- options --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ("4k", "'4k' is not a whole number of workers"),
        ("99999999999", "is more than"),
        ("0", "positive"),
        ("-3", "not a whole number"),
    ],
)
def test_absurd_worker_counts_are_refused(workers: str, message: str) -> None:
    with pytest.raises(pytest.UsageError, match=rf"--workers '{workers}': .*{message}"):
        resolve(workers=workers)


def test_a_sane_worker_count_is_kept() -> None:
    assert resolve(workers="2").workers == 2


@pytest.mark.parametrize(
    ("sweep", "raw", "flag"),
    [
        ("length", {"batches": "1,4"}, "--batches applies only with --sweep batch"),
        ("batch", {"lengths": "32,64"}, "--lengths applies only with --sweep length"),
        ("length", {"d_models": "16,32"}, "--d-models applies only with --sweep d_model"),
    ],
)
def test_an_axis_flag_of_another_sweep_is_a_usage_error(sweep: str, raw: dict, flag: str) -> None:
    with pytest.raises(pytest.UsageError, match=flag):
        resolve(sweep=sweep, **raw)


# -- reports compare --------------------------------------------------------------------
CPU_RUN = (
    ROOT / "tests/fixtures/benchmarks/Linux-CPython-3.11-64bit/0001_aaa1111_20260101_120000.json"
)


def runs_sharing_only(tmp_path: Path, status_a: str, status_b: str) -> Path:
    """Two runs whose one shared point has these statuses (nothing else in common)."""
    storage = tmp_path / "storage"
    (storage / "box").mkdir(parents=True)
    for number, status in (("0001", status_a), ("0002", status_b)):
        data = json.loads(CPU_RUN.read_text())
        kept = data["mixbench_failures"][0]
        kept["extra_info"].update(status=status, reason=f"{status} here")
        data["benchmarks"], data["mixbench_failures"] = [], [kept]
        (storage / "box" / f"{number}_abc{number}_2026010{number[-1]}_120000.json").write_text(
            json.dumps(data)
        )
    return storage


def compare_code(storage: Path, out: Path) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = reports_main(
            ["compare", "box/0001", "box/0002", "--storage", str(storage), "--out", str(out),
             "--format", "md", "--fail-on-regression"]
        )  # fmt: skip
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize(
    ("status_a", "status_b"),
    [("skipped", "skipped"), ("unavailable", "unavailable"), ("timeout", "timeout"),
     ("skipped", "unavailable")],
)  # fmt: skip
def test_the_regression_gate_fails_when_no_point_ran_in_both(tmp_path, status_a, status_b):
    code, stdout, stderr = compare_code(runs_sharing_only(tmp_path, status_a, status_b), tmp_path)
    assert code == EXIT_UNCHECKED, stdout + stderr
    assert "no point matched that ran in both runs" in stdout
    assert "nothing was checked" in stderr


def test_a_point_measured_in_a_and_not_run_in_b_is_no_regression_and_not_compared(tmp_path):
    code, stdout, _ = compare_code(runs_sharing_only(tmp_path, "ok", "skipped"), tmp_path)
    assert code == EXIT_UNCHECKED
    assert "not run in B (skipped)" in (tmp_path / "compare.md").read_text()

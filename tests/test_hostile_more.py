"""More of what a hostile user or a broken machine gives the suite and its commands
(issue 22): an unreachable Ray cluster, absurd worker counts, axis flags of
another sweep, comparisons of runs that share nothing, a user's files under the
names the commands write, a full disk, odd plug-in names, a planted cache. Each
is a one-line error naming the problem, never a hang or a traceback."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import torch

from models.backbone import Backbone, BackboneConfig
from reports.__main__ import EXIT_UNCHECKED
from reports.__main__ import main as reports_main
from suite.grid import ray_address_problem
from suite.options import resolve_options
from tasks.__main__ import current_umask
from tasks.__main__ import main as tasks_main
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


def serving(reply: bytes):
    """A server on 127.0.0.1 that answers one connection with ``reply``; its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        connection, _ = server.accept()
        with connection, server:
            connection.recv(64)
            connection.sendall(reply)
            time.sleep(2)

    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


def test_a_head_that_answers_grpc_passes() -> None:
    settings = bytes([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100])  # a SETTINGS frame
    assert ray_address_problem(f"127.0.0.1:{serving(settings)}", timeout_s=2.0) is None


@pytest.mark.parametrize("reply", [b"", b"-ERR redis here\r\n", b"SSH-2.0-OpenSSH_9.6\r\n"])
def test_a_port_that_is_not_a_ray_head_is_named(reply: bytes) -> None:
    port = serving(reply)
    problem = ray_address_problem(f"127.0.0.1:{port}", timeout_s=1.0)
    assert f"127.0.0.1:{port} answers but is not a Ray head" in problem


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


# -- python -m tasks ----------------------------------------------------------------------
TRAIN = ["train", "--task", "mqar", "--mixer", "attention/math", "--profile", "smoke"]


def tasks_error(capsys, argv: list[str]) -> str:
    """``python -m tasks argv`` ends with exit 2 and one error line, which is returned."""
    with pytest.raises(SystemExit) as exited:
        tasks_main(argv)
    assert exited.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    import tasks.accuracy

    def refuse(*args, **kwargs):
        raise AssertionError("trained despite a bad argument")

    monkeypatch.setattr(tasks.accuracy, "run_accuracy", refuse)


def test_train_refuses_to_replace_an_existing_out(tmp_path, capsys, no_training) -> None:
    out = tmp_path / "existing.json"
    out.write_text("the user's")
    line = tasks_error(capsys, [*TRAIN, "--out", str(out)])
    assert f"--out {out} already exists; pass --overwrite" in line
    assert out.read_text() == "the user's"


def test_train_overwrites_when_asked_and_leaves_a_users_partial_alone(tmp_path, capsys) -> None:
    out = tmp_path / "existing.json"
    out.write_text("old result")
    users = tmp_path / "existing.json.partial"
    users.write_text("the user's own file")
    argv = [*TRAIN, "--out", str(out), "--overwrite", "--threads", "1", "--no-progress"]
    assert tasks_main([*argv, "--device", "cpu"]) == 0
    assert json.loads(out.read_text())["task"] == "mqar"
    assert users.read_text() == "the user's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.json", "existing.json.partial"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def full_disk_after(limit: int):
    """A write_text that writes ``limit`` bytes, then finds the disk full."""

    def write_text(self: Path, text: str, *args, **kwargs) -> int:
        with open(self, "w") as handle:
            handle.write(text[:limit])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write_text


def test_a_full_disk_leaves_no_partial_result_and_names_the_out(tmp_path, capsys, monkeypatch):
    from tasks.__main__ import write_json

    out = tmp_path / "result.json"
    monkeypatch.setattr(Path, "write_text", full_disk_after(0))
    with pytest.raises(OSError, match=r"No space left on device; the result was not saved") as e:
        write_json(out, {"accuracy": 0.5})
    assert e.value.filename == str(out)
    assert list(tmp_path.iterdir()) == []


def test_generate_on_a_full_disk_leaves_no_truncated_tsv(tmp_path, capsys, monkeypatch) -> None:
    import tasks.__main__ as tasks_cli

    write = tasks_cli.write_listops

    def fills_up(root, splits):
        written = write(root, {"train": splits["train"]})  # one split whole, then full
        written[0].write_bytes(written[0].read_bytes()[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tasks_cli, "write_listops", fills_up)
    argv = ["generate", "listops", "--out", str(tmp_path), "--n", "20"]
    argv += ["--min-length", "5", "--max-length", "40"]
    line = tasks_error(capsys, argv)
    assert "No space left on device while writing ListOps" in line and str(tmp_path) in line
    assert list(tmp_path.iterdir()) == []  # no split, no staging folder


def test_a_lost_rank_ends_with_one_line(capsys, monkeypatch) -> None:
    import torch.distributed

    import tasks.accuracy
    import tasks.train

    @contextlib.contextmanager
    def two_ranks(device):
        yield types.SimpleNamespace(device=device, world_size=2)

    def peer_gone(*args, **kwargs):
        raise torch.distributed.DistBackendError(
            "[../gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:5\nmore"
        )

    monkeypatch.setattr(tasks.train, "distributed", two_ranks)
    monkeypatch.setattr(tasks.accuracy, "run_accuracy", peer_gone)
    monkeypatch.setenv("RANK", "1")
    assert tasks_main([*TRAIN, "--device", "cpu", "--no-progress"]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1, errors
    assert "rank 1 lost the other processes of the run (" in errors[0]
    assert "Connection closed by peer" in errors[0] and "Traceback" not in errors[0]


# -- plug-in names ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["x/y/z", "", "/", "fam/", "a b/c", "fam/*", "fam/a,b", "<img src=x>/v", "-x/y"]
)
def test_a_bad_plugin_name_is_one_line_from_models_list(tmp_path: Path, name: str) -> None:
    (tmp_path / "badly_named.py").write_text(
        f"from models import Mixer, register_mixer\n\n@register_mixer({name!r})\n"
        "class Named(Mixer):\n    pass\n"
    )
    env = {**os.environ, "MIXBENCH_PLUGINS": "badly_named", "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "models", "list"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "mixer name must be 'family/variant'" in errors[0] and repr(name) in errors[0]
    assert "MIXBENCH_PLUGINS" in errors[0]


def test_good_names_still_register() -> None:
    from models.registry import name_problem

    for name in ("mine/fast", "mamba2/mamba-ssm", "a.b/c_d", "X1/y"):
        assert name_problem(name) is None


# -- a mixer's output dtype ---------------------------------------------------------------
class Widening(torch.nn.Module):
    """A float32 plug-in's forward that returns float64 (or bfloat16, as under autocast)."""

    family, variant = "wide", "double"

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.dtype)


def test_a_float64_output_from_a_float32_mixer_is_named() -> None:
    model = Backbone(BackboneConfig("attention/sdpa", d_model=16, n_layers=1))
    model.blocks[0].mixer = Widening(torch.float64)
    with pytest.raises(TypeError, match="mixer wide/double returned float64 for a float32 input"):
        model(torch.zeros(1, 4, dtype=torch.long))
    model.blocks[0].mixer = Widening(torch.bfloat16)  # lower precision keeps the stream's
    assert model(torch.zeros(1, 4, dtype=torch.long)).dtype == torch.float32


@pytest.mark.xdist_group("ray")  # no cluster of test_grid.py running
def test_ray_auto_without_a_cluster_stops_the_run_once(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is the optional extra mixbench[ray]")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    command = [
        sys.executable, "-m", "pytest", "suite/test_accuracy.py", "-q", "-p", "no:cacheprovider",
        "--profile", "smoke", "--device", "cpu", "--mixers", "attention/sdpa",
        "--ray-address", "auto", "--benchmark-storage", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert output.count("Ray at auto: Could not find any running Ray instance") == 1, output[-3000:]
    assert "Traceback" not in output


def test_train_refuses_an_out_that_is_not_a_plain_file(tmp_path, capsys, no_training) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    line = tasks_error(capsys, [*TRAIN, "--out", str(fifo), "--overwrite"])
    assert f"--out {fifo} is not a plain file" in line
    assert fifo.is_fifo()

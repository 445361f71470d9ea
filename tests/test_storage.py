"""--benchmark-storage the run cannot be saved to (suite/storage.py): a file, a
read-only or a full disk is a usage error before the first point; a disk that
fills up during the run leaves no half-written autosave, and the results go to a
file the error names. Full and read-only disks are small tmpfs mounts (root only)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reports.load import load

ROOT = Path(__file__).resolve().parents[1]
#: a fast run that saves: the calibration matmul alone
CALIBRATION = str(ROOT / "suite" / "test_calibration.py")
RUN = [CALIBRATION, "--profile", "smoke", "-q", "-p", "no:cacheprovider"]

FILL_DISK = '''
"""Fills the storage's disk just before pytest-benchmark saves."""
import os


def pytest_benchmark_update_json(config, benchmarks, output_json):
    with open(os.path.join(os.environ["FILL_DISK"], "filler"), "wb") as f:
        try:
            while True:
                f.write(bytes(1 << 20))
        except OSError:
            pass
'''


def run_saving(
    cwd: Path, storage: Path | str, *more: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", *RUN, "--benchmark-autosave"]
    command += ["--benchmark-storage", str(storage), *more]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def assert_usage_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr
    assert "--benchmark-storage" in done.stderr and "Traceback" not in done.stderr
    assert all(word in done.stderr for word in words), done.stderr
    assert "passed" not in done.stdout  # found before the first point


@pytest.mark.slow
def test_a_storage_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file")
    done = run_saving(tmp_path, tmp_path / "runs" / "sub")
    assert_usage_error(done, f"{tmp_path / 'runs'} is a file, not a folder")
    done = run_saving(tmp_path, f"file://{tmp_path / 'runs'}")
    assert_usage_error(done, "is a file")


@pytest.mark.slow
def test_a_json_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", *RUN]
    for target, words in [
        (tmp_path / "missing" / "run.json", "does not exist"),
        (tmp_path, "is a folder"),
    ]:
        done = subprocess.run(
            [*command, "--benchmark-json", str(target)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
        assert "--benchmark-json" in done.stderr and words in done.stderr
        assert "Traceback" not in done.stderr and "passed" not in done.stdout


def test_a_read_only_storage_is_a_usage_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=4m") as disk:
        done = run_saving(tmp_path, disk / "runs")
        assert_usage_error(done, "Read-only file system")


def test_a_full_disk_is_a_usage_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "size=1m") as disk:
        done = run_saving(tmp_path, disk)
        assert_usage_error(done, "MiB free")
        assert not list(disk.rglob("*.json"))


def test_a_disk_that_fills_during_the_run_leaves_no_half_autosave(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "fill_disk.py").write_text(FILL_DISK)
    work = tmp_path / "work"
    work.mkdir()
    with tmpfs(tmp_path / "disk", "size=20m") as disk:
        env = {**os.environ, "FILL_DISK": str(disk), "PYTHONPATH": str(plugins)}
        done = run_saving(work, disk / "runs", "-p", "fill_disk", env=env)
        assert not list((disk / "runs").rglob("*.json"))  # no 0-byte autosave
    errors = done.stderr
    assert done.returncode == pytest.ExitCode.INTERNAL_ERROR, done.stdout[-2000:] + errors
    assert "No space left on device" in errors and "removed the half-written" in errors
    assert "Traceback" not in errors and "INTERNALERROR" not in done.stdout
    [saved] = work.glob("mixbench-unsaved-*.json")
    assert f"written to {saved} instead" in errors
    assert json.loads(saved.read_text())["benchmarks"]
    assert load(work, [str(saved)])["workload"].tolist() == ["calibration"]

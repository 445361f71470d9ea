"""scripts/gpu-check.sh: its dry run (the GPU check's steps on the CPU at
smoke size) succeeds and leaves the tests' log, a saved run whose points say
how they were timed, a report and a summary; bad arguments are a usage line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite.profiles import GPU_CHECK_MIXERS

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu-check.sh"


@pytest.mark.slow
def test_the_dry_run_runs_every_step_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "check"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "skipped" in (out / "gpu-tests.log").read_text()  # -m gpu on a CPU: all skipped
    (saved,) = (out / "benchmarks").rglob("*.json")
    run = json.loads(saved.read_text())
    points = [b["extra_info"] for b in run["benchmarks"] if b["extra_info"].get("sweep")]
    timed = [p for p in points if p.get("round_times_s") and p["workload"] != "interleaved"]
    assert timed and all(p["timer"] == "thread_cpu" and p["warmup_s"] == 0 for p in timed)
    assert {p["mixer"] for p in timed} < set(GPU_CHECK_MIXERS)
    unavailable = {f["extra_info"]["mixer"] for f in run["mixbench_failures"]
                   if f["extra_info"]["status"] == "unavailable"}  # fmt: skip
    assert "attention/flash-attn" in unavailable  # no flash-attn on the CPU
    assert (out / "report" / "report.md").exists()
    summary = (out / "summary.txt").read_text()
    assert "matmul peak:" in summary and "attention/sdpa train_step" in summary


def test_bad_arguments_are_a_usage_line(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--bogus"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "usage: bash scripts/gpu-check.sh [--dry-run] [OUT]"


def test_a_python_without_the_suites_packages_stops_the_check_saying_which(
    tmp_path: Path,
) -> None:
    bare = tmp_path / "python"  # this Python without its site-packages
    bare.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    bare.chmod(0o755)
    env = {**os.environ, "PYTHON": str(bare)}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert "lacks torch pytest_benchmark" in done.stderr and "wheels/" in done.stderr
    assert not (tmp_path / "out" / "suite.log").exists()  # stopped before any step

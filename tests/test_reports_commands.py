"""The commands' contract with a user and a CI job: distinct files for the
two kinds of comparison, exit codes that mean one thing each, and a report
folder that is either the old one or the new one, never a mix."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
from pathlib import Path

import pytest

from reports import render
from reports.__main__ import EXIT_UNCHECKED, EXIT_WRITE, main

HERE = Path(__file__).parent / "fixtures"
CPU_DIR = "Linux-CPython-3.11-64bit"
CPU_1 = HERE / "benchmarks" / CPU_DIR / "0001_aaa1111_20260101_120000.json"
CPU_2 = HERE / "benchmarks" / CPU_DIR / "0002_bbb2222_20260102_120000.json"
BATCH_RUN = HERE / "sweeps" / "batch-box" / "0001_ddd4444_20260104_120000.json"


def storage_of(tmp_path: Path, *files: Path) -> Path:
    storage = tmp_path / "storage"
    for source in files:
        (storage / source.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, storage / source.parent.name / source.name)
    return storage


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def contents(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.slow
def test_the_two_comparisons_write_under_names_of_their_own(tmp_path):
    storage = storage_of(tmp_path, CPU_1, CPU_2)
    out = tmp_path / "out"
    runs = [f"{CPU_DIR}/0001", f"{CPU_DIR}/0002"]
    code, _, _ = run("--storage", str(storage), "--run", *runs, "--compare", "--out", str(out))
    assert code == 0
    code, _, _ = run("compare", *runs, "--storage", str(storage), "--out", str(out))
    assert code == 0
    for stem in ("report_compare", "compare"):
        assert (out / "tables" / f"{stem}.csv").exists()
        assert (out / "figures" / f"{stem}_speedup.png").exists()
    report, compare = (out / "report.md").read_text(), (out / "compare.md").read_text()
    assert (
        "figures/report_compare_speedup.png" in report and "(tables/report_compare.csv)" in report
    )
    assert "figures/compare_speedup.png" in compare and "report_compare" not in compare
    assert (out / "points.csv").exists()  # the report's, kept by the compare command


def test_fail_on_regression_fails_when_no_point_matched(tmp_path):
    storage = storage_of(tmp_path, CPU_1, BATCH_RUN)
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "compare", f"{CPU_DIR}/0001", "batch-box/0001", "--storage", str(storage),
        "--out", str(out), "--format", "md", "--fail-on-regression",
    )  # fmt: skip
    assert code == EXIT_UNCHECKED
    assert "no point matched" in stdout
    assert "nothing was checked" in stderr
    assert (out / "compare.md").exists()  # the comparison is still written, to read why


def test_fail_on_regression_needs_a_comparison(tmp_path):
    storage = storage_of(tmp_path, CPU_1)
    code, _, stderr = run(
        "--storage", str(storage), "--out", str(tmp_path / "o"), "--fail-on-regression"
    )
    assert code == 2 and "add --compare" in stderr


@pytest.fixture(scope="module")
def first_compare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a storage of two runs and their comparison with a user's note
    in it, made once: each test that writes over it works on a copy."""
    folder = tmp_path_factory.mktemp("compared")
    storage = storage_of(folder, CPU_1, CPU_2)
    out = folder / "out"
    code, _, _ = run("compare", "--storage", str(storage), "--out", str(out), "--format", "md")
    assert code == 0
    (out / "mine.txt").write_text("a user's note")
    return folder


@pytest.fixture
def previous_report(first_compare: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """The storage, the report folder of the first comparison and its files."""
    for name in ("storage", "out"):
        shutil.copytree(first_compare / name, tmp_path / name)
    return tmp_path / "storage", tmp_path / "out", contents(tmp_path / "out")


def test_a_full_disk_exits_with_its_own_code_and_leaves_the_old_report(
    previous_report, monkeypatch
):
    storage, out, before = previous_report
    calls = []

    def full(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    monkeypatch.setattr(render, "write_file", full)
    code, _, stderr = run(
        "compare", "--storage", str(storage), "--out", str(out), "--threshold", "50%"
    )
    assert code == EXIT_WRITE
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write the report to")
    assert "No space left on device" in lines[0] and "Traceback" not in stderr
    assert contents(out) == before  # not one file of the new report
    assert sorted(p.name for p in out.parent.iterdir()) == ["out", "storage"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_exits_with_its_own_code(previous_report):
    storage, out, before = previous_report
    out.chmod(0o555)
    try:
        code, _, stderr = run("compare", "--storage", str(storage), "--out", str(out))
    finally:
        out.chmod(0o755)
    assert code == EXIT_WRITE and stderr.startswith("error: cannot write the report to")
    assert contents(out) == before


def test_a_permission_error_on_the_swap_changes_nothing(previous_report, monkeypatch):
    """What a read-only parent folder does, where root cannot be stopped."""
    storage, out, before = previous_report
    real = os.rename

    def refuse(source, target):
        if Path(source).name.endswith(".new"):  # the new folder into place: refused
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        real(source, target)

    monkeypatch.setattr(render.os, "rename", refuse)
    code, _, stderr = run("compare", "--storage", str(storage), "--out", str(out))
    assert code == EXIT_WRITE and "Permission denied" in stderr
    assert contents(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out", "storage"]


def test_an_out_that_holds_the_working_folder_is_refused(tmp_path, monkeypatch):
    storage = storage_of(tmp_path, CPU_1, CPU_2)
    monkeypatch.chdir(storage)
    code, _, stderr = run("compare", "--storage", str(storage), "--out", str(tmp_path))
    assert code == EXIT_WRITE and "holds the working folder" in stderr

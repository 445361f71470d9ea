"""Crafted autosaves and storage a hostile user or a broken disk leaves: names that
carry HTML, names that are not UTF-8, a report folder holding the user's own things,
oversized files and implausible machine info. The report is written, escaped, and
keeps what is not its own."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from reports.__main__ import main
from reports.render import Section, WriteError, write_report
from reports.tables import Table

FIXTURE = Path(__file__).parent / "fixtures/shards/whole/box-a/0001_eee5555_20260301_090000.json"
EVIL_MIXER = "<img src=x onerror=alert(1)>"
EVIL_TASK = '<script>alert("task")</script>'
EVIL_CPU = '<script>alert("cpu")</script>'
EVIL_LINK = "[click](javascript:alert(1))"
RAW_HTML = re.compile(r"<script>alert|<img src=x")
MARKDOWN_LINK = re.compile(r"\]\(javascript:")


def crafted_run(storage: Path, change) -> Path:
    data = json.loads(FIXTURE.read_text())
    change(data)
    path = storage / "box" / FIXTURE.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def report(storage: Path, out: Path, *more: str) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--storage", str(storage), "--out", str(out), "--format", "md,html", *more])
    return code, stderr.getvalue()


def with_html_in_names(data: dict) -> None:
    mixers = {b["extra_info"].get("mixer") for b in data["benchmarks"]} - {None}
    renamed = dict(zip(sorted(mixers), (EVIL_MIXER, EVIL_LINK), strict=False))
    for entry in data["benchmarks"] + data["mixbench_failures"]:
        extra = entry["extra_info"]
        extra["mixer"] = renamed.get(extra.get("mixer"), extra.get("mixer"))
        if extra.get("task"):
            extra["task"] = EVIL_TASK
    data["machine_info"]["cpu"]["brand_raw"] = EVIL_CPU


def test_names_from_the_data_are_escaped_in_both_pages(tmp_path: Path) -> None:
    """A plug-in named like an <img> tag or a markdown link, a task named like a
    <script>, a CPU brand that reaches the headers of a transposed table: none is raw
    HTML or a link in either page (viewers of report.md pass raw HTML through)."""
    crafted_run(tmp_path / "storage", with_html_in_names)
    code, errors = report(tmp_path / "storage", tmp_path / "out")
    assert code == 0, errors
    for page in ("report.md", "report.html"):
        text = (tmp_path / "out" / page).read_text()
        assert not RAW_HTML.findall(text), page
        assert page == "report.html" or not MARKDOWN_LINK.findall(text)
        assert "&lt;script&gt;alert(" in text and "&lt;img src=x" in text  # shown, escaped


def with_mathtext_in_names(data: dict) -> None:
    for entry in data["benchmarks"] + data["mixbench_failures"]:
        extra = entry["extra_info"]
        if extra.get("mixer"):
            extra["mixer"] = "x$\\frac{$" + extra["mixer"]


def test_a_name_that_looks_like_mathtext_is_drawn_as_it_is(tmp_path: Path) -> None:
    """A "$" in a plug-in's name started matplotlib's mathtext, and a malformed
    formula crashed the whole report in the first figure that named it."""
    crafted_run(tmp_path / "storage", with_mathtext_in_names)
    code, errors = report(tmp_path / "storage", tmp_path / "out")
    assert code == 0, errors
    assert "x$\\frac{$" in (tmp_path / "out" / "report.md").read_text()


def users_things(out: Path) -> dict[str, tuple]:
    """What a user keeps in a report folder: every kind of thing, some of them private."""
    outside = out.parent / "elsewhere"
    outside.mkdir()
    (outside / "data.txt").write_text("theirs")
    (out / "private").mkdir(parents=True)
    (out / "private" / "notes.txt").write_text("mine")
    (out / "empty").mkdir()
    (out / "figures" / "drafts").mkdir(parents=True)  # inside one of the report's folders
    (out / "read-only").mkdir()
    (out / "read-only" / "kept.txt").write_text("kept")
    os.mkfifo(out / "pipe")
    (out / "link-to-folder").symlink_to(outside)
    (out / "link-to-file").symlink_to(outside / "data.txt")
    (out / "dangling").symlink_to(out / "nowhere")
    os.chmod(out / "private", 0o700)
    os.chmod(out / "read-only", 0o500)
    os.chmod(out, 0o700)
    return described(out)


def described(out: Path) -> dict[str, tuple]:
    """Each thing under ``out`` (the report's own files aside) as kind, mode and target."""
    things = {".": ("folder", stat.S_IMODE(out.lstat().st_mode), None)}
    for folder, folders, names in os.walk(out):
        for name in folders + names:
            path = Path(folder) / name
            relative = path.relative_to(out).as_posix()
            if relative.startswith(("tables", "report.", "points.csv", ".report.")):
                continue
            mode = path.lstat().st_mode
            kind = {stat.S_IFDIR: "folder", stat.S_IFLNK: "link", stat.S_IFIFO: "fifo"}.get(
                stat.S_IFMT(mode), "file"
            )
            target = os.readlink(path) if kind == "link" else None
            things[relative] = (kind, stat.S_IMODE(mode), target)
    return things


def a_report(out: Path, figure_free: bool = False) -> None:
    frame = pd.DataFrame({"mixer": ["a", "b"], "time_s": [1.0, 2.0]})
    section = Section("Costs", tables=[Table("costs", "Costs", "Two mixers.", frame)])
    write_report(out, "report", [section], ["md", "html"], points=frame)


def test_a_report_keeps_everything_of_the_users_modes_included(tmp_path: Path) -> None:
    """Empty folders, FIFOs, links to folders and files (never followed) and a 0700
    and a read-only folder stay as they were, across two reports; the old folder is
    removed, read-only folder and all."""
    out = tmp_path / "out"
    before = users_things(out)
    for _ in range(2):
        a_report(out)
        assert described(out) == before
        assert (out / "report.md").is_file() and (out / "tables" / "costs.csv").is_file()
    assert (out / "private" / "notes.txt").read_text() == "mine"
    assert (out / "link-to-folder" / "data.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "out"]


def test_a_folder_that_cannot_be_listed_stops_the_report_and_is_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carried over empty, its contents would be lost: the write stops instead. (The
    refusal to list is simulated: a test run as root reads any folder.)"""
    out = tmp_path / "out"
    a_report(out)
    (out / "locked").mkdir()
    (out / "locked" / "secret.txt").write_text("x")
    listing = os.scandir

    def refusing(path: str | os.PathLike | int = ".") -> object:
        if isinstance(path, str | os.PathLike) and Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", refusing)
    with pytest.raises(WriteError, match="Permission denied .*locked"):
        a_report(out)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "locked" / "secret.txt").read_text() == "x"


def test_names_in_storage_that_are_not_utf8_are_shown_escaped(tmp_path: Path) -> None:
    """A machine folder and an autosave whose names are not UTF-8: both runs are
    reported, the names shown with \\x escapes, every page valid UTF-8."""
    storage = tmp_path / "storage"
    raw = os.fsencode(storage)
    for folder, name in ((b"box\xff", FIXTURE.name), (b"ok", "0002_\udcfe_20260302_090000.json")):
        os.makedirs(raw + b"/" + folder)
        target = raw + b"/" + folder + b"/" + os.fsencode(name)
        shutil.copy(FIXTURE, os.fsdecode(target))
    code, errors = report(storage, tmp_path / "out", "--run", "all")
    assert code == 0, errors
    markdown = (tmp_path / "out" / "report.md").read_bytes().decode("utf-8")
    assert "box\\xff/0001" in markdown
    points = (tmp_path / "out" / "points.csv").read_bytes().decode("utf-8")
    assert "0002_\\xfe_20260302_090000.json" in points

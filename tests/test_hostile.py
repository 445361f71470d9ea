"""Crafted autosaves and storage a hostile user or a broken disk leaves: names that
carry HTML, names that are not UTF-8, a report folder holding the user's own things,
oversized files and implausible machine info. The report is written, escaped, and
keeps what is not its own."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

from reports.__main__ import main

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

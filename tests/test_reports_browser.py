"""report.html in a real headless browser (python -m tests.screenshot): it
renders at a laptop's 1366×768, its contents links reach their sections, every
figure decodes, no table is wider than the window, and the first screen
shows the answer in words beside its figure. Skipped where no Chromium is
installed (``apt-get install chromium``)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from reports.__main__ import main
from tests import screenshot
from tests.fixtures import make_spread

HERE = Path(__file__).parent / "fixtures"
BATCH_RUN = HERE / "sweeps" / "batch-box" / "0001_ddd4444_20260104_120000.json"
CPU_RUN = HERE / "benchmarks" / "Linux-CPython-3.11-64bit" / "0001_aaa1111_20260101_120000.json"
ACCURACY_RUN = HERE / "accuracy" / "lab-box" / "0001_fff6666_20260305_120000.json"
BROWSER = screenshot.find_browser()

pytestmark = [
    pytest.mark.skipif(
        BROWSER is None,
        reason="no headless Chromium on this machine (apt-get install chromium, or set "
        f"${screenshot.ENV_BROWSER})",
    ),
    pytest.mark.slow,
]


def report_of(tmp_path_factory: pytest.TempPathFactory, *runs: Path) -> Path:
    storage = tmp_path_factory.mktemp("storage")
    for source in runs:
        (storage / source.parent.name).mkdir()
        shutil.copy(source, storage / source.parent.name / source.name)
    out = tmp_path_factory.mktemp("out") / "report"
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["--storage", str(storage), "--run", "all", "--out", str(out)]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report over a run with rounds, contention and a FLOP-count error,
    and a batch sweep without rounds (the speed side of the report: accuracy
    tables are tests/test_reports_accuracy.py's)."""
    return report_of(tmp_path_factory, make_spread.PATH, BATCH_RUN)


@pytest.fixture(scope="module")
def answered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of a speed sweep and an accuracy run: every question answered."""
    return report_of(tmp_path_factory, CPU_RUN, ACCURACY_RUN)


@pytest.fixture(scope="module")
def laid_out(page: Path) -> screenshot.Layout:
    return screenshot.layout(page, screenshot.LAPTOP)


def test_the_page_renders_with_its_contents(laid_out):
    assert laid_out.data["title"].startswith("mixbench report")
    assert laid_out.data["viewport"][0] == 1366  # the window's height holds some chrome too
    links = laid_out.data["links"]
    assert len(links) >= 8 and not laid_out.broken_links()
    assert {"Summary", "Claims", "FLOP/s"} <= {link["text"] for link in links}
    assert laid_out.data["images"] and not laid_out.broken_images()


def test_nothing_is_wider_than_a_laptop(laid_out):
    assert laid_out.page_width <= laid_out.data["client_width"]
    assert not laid_out.wide_tables(), laid_out.summary()
    assert not laid_out.problems(), laid_out.summary()


def test_the_screenshots_are_of_the_window_and_of_the_whole_page(page, tmp_path, laid_out):
    window = screenshot.screenshot(page, tmp_path / "window.png")
    assert screenshot.png_size(window) == screenshot.LAPTOP
    whole = screenshot.full_page(page, tmp_path / "whole.png")
    width, height = screenshot.png_size(whole)
    assert width == 1366
    chrome = 768 - laid_out.data["viewport"][1]
    assert height == min(int(laid_out.page_height) + chrome, screenshot.MAX_HEIGHT)


def test_the_command_checks_and_says_what_it_found(page, tmp_path, capsys):
    code = screenshot.main([str(page), str(tmp_path / "shot.png")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "1366×768: page 1366×" in printed and "0 wider than the viewport" in printed
    assert screenshot.main([str(tmp_path / "missing.html"), str(tmp_path / "x.png")]) == 2


def test_the_first_screen_shows_the_answer_beside_its_figure(answered, tmp_path):
    found = screenshot.layout(answered, screenshot.LAPTOP)
    sentences, figure = found.first_screen()
    # the speed questions and the claims come first, wholly in view; the tasks follow
    assert [s.split(":")[1].strip() for s in sentences[:2]] == ["Training", "Decoding"]
    assert any(s.startswith("Claims") for s in sentences[:3]), sentences
    assert len(sentences) >= 4 and figure == pytest.approx(1.0), found.summary()
    image = found.data["lead"]["figure"]
    assert image["left"] > max(s["right"] for s in found.data["lead"]["sentences"])  # beside
    assert not found.problems(), found.summary()
    shot = screenshot.screenshot(answered, tmp_path / "first-screen.png")
    assert screenshot.png_size(shot) == screenshot.LAPTOP

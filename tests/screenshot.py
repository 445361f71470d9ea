"""report.html in a real headless browser: a screenshot at a laptop's size,
one of the whole page, and a check of what a reader would trip on.

    python -m tests.screenshot reports/out/report.html out.png
    python -m tests.screenshot report.html out.png --full out-full.png --size 1366x768

The check loads the page in headless Chromium (``chromium``, ``chromium-browser``
or ``google-chrome`` on the PATH, or ``$MIXBENCH_CHROMIUM``), lets it lay out
at the given window size and reads back from the live DOM: the width of the
page and of every table against the viewport, whether every link of the
contents reaches its section, whether every figure decoded, and how much of
the answer the page opens with (its sentences, its figure) the first screen
shows. It prints what it found and exits 1 when something does not fit (0:
all fine, 2: no browser or no page).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV_BROWSER = "MIXBENCH_CHROMIUM"
LAPTOP = (1366, 768)
#: Chromium will not paint a taller window than this in one screenshot
MAX_HEIGHT = 16000
TIMEOUT_S = 120
MARKER = "mixbench-layout"

#: run once the page has loaded (figures decoded), its findings written into
#: the DOM for --dump-dom to carry out
PROBE = """
<script>
window.addEventListener("load", function () {
  var view = document.documentElement.clientWidth;
  var out = {
    viewport: [window.innerWidth, window.innerHeight],
    client_width: view,
    page: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    title: document.title,
    tables: [], links: [], images: [], overflowing: []
  };
  document.querySelectorAll("table").forEach(function (table, i) {
    var box = table.getBoundingClientRect();
    var holder = table.closest(".table-scroll") || table.parentElement;
    var heading = "";
    var node = holder;
    while (node && !heading) {
      node = node.previousElementSibling;
      if (node && /^H[1-6]$/.test(node.tagName)) heading = node.textContent;
    }
    out.tables.push({
      index: i, heading: heading.trim(), width: box.width, left: box.left,
      holder_width: holder.clientWidth, scrolls: holder.scrollWidth > holder.clientWidth + 1,
      columns: table.rows.length ? table.rows[0].cells.length : 0
    });
  });
  document.querySelectorAll("nav a[href^='#']").forEach(function (a) {
    var id = decodeURIComponent(a.getAttribute("href").slice(1));
    out.links.push({text: a.textContent, target: id, found: !!document.getElementById(id)});
  });
  document.querySelectorAll("img").forEach(function (img) {
    var box = img.getBoundingClientRect();
    out.images.push({alt: img.alt, loaded: img.complete && img.naturalWidth > 0,
                     width: box.width, natural_width: img.naturalWidth});
  });
  document.querySelectorAll("body *").forEach(function (el) {
    if (el.closest(".table-scroll") || el.tagName === "SCRIPT") return;
    var box = el.getBoundingClientRect();
    if (box.width && box.right > view + 1) {
      out.overflowing.push({tag: el.tagName, text: (el.textContent || "").slice(0, 60),
                            right: box.right});
    }
  });
  // the answer the page opens with: its sentences and its figure, where the window shows them
  var lead = document.querySelector("section.lead");
  var box = function (el) {
    var b = el.getBoundingClientRect();
    return {top: b.top, bottom: b.bottom, left: b.left, right: b.right,
            text: (el.textContent || el.alt || "").slice(0, 80)};
  };
  out.lead = lead ? {
    sentences: Array.prototype.map.call(lead.querySelectorAll(".answer li"), box),
    figure: lead.querySelector(".headline img") ? box(lead.querySelector(".headline img")) : null
  } : null;
  var pre = document.createElement("pre");
  pre.id = "MARKER";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
""".replace("MARKER", MARKER)


class BrowserError(Exception):
    """No headless browser, or it could not render the page."""


@dataclass
class Layout:
    """What the browser saw at one window size."""

    width: int
    height: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def page_width(self) -> float:
        return self.data["page"][0]

    @property
    def page_height(self) -> float:
        return self.data["page"][1]

    def wide_tables(self) -> list[dict]:
        """Tables wider than the viewport (a reader scrolls sideways to read them)."""
        return [t for t in self.data["tables"] if t["width"] > self.data["client_width"] + 1]

    def scrolling_tables(self) -> list[dict]:
        """Tables wider than the column they sit in (they scroll in their box)."""
        return [t for t in self.data["tables"] if t["scrolls"]]

    def broken_links(self) -> list[dict]:
        return [link for link in self.data["links"] if not link["found"]]

    def broken_images(self) -> list[dict]:
        return [image for image in self.data["images"] if not image["loaded"]]

    def first_screen(self) -> tuple[list[str], float]:
        """What the window shows of the answer before any scrolling: the
        sentences wholly in view, and the share of the headline figure in view."""
        lead, height = self.data.get("lead") or {}, self.data["viewport"][1]
        sentences = [s["text"] for s in lead.get("sentences", []) if s["bottom"] <= height + 1]
        figure = lead.get("figure")
        if not figure or figure["bottom"] <= figure["top"]:
            return sentences, 0.0
        shown = min(figure["bottom"], height) - max(figure["top"], 0)
        return sentences, max(shown, 0) / (figure["bottom"] - figure["top"])

    def problems(self) -> list[str]:
        found = []
        if self.data.get("lead"):
            sentences, figure = self.first_screen()
            if not sentences:
                found.append("no sentence of the answer is on the first screen")
            if self.data["lead"]["figure"] and figure < 0.5:
                found.append(f"only {figure:.0%} of the headline figure is on the first screen")
        if self.page_width > self.data["client_width"] + 1:
            found.append(
                f"the page is {self.page_width:.0f} px wide in a {self.width} px window: "
                "it scrolls sideways"
            )
        for table in self.wide_tables():
            found.append(
                f"table {table['index']} ({table['heading'] or 'no heading'}, "
                f"{table['columns']} columns) is {table['width']:.0f} px wide, wider than the "
                f"{self.data['client_width']} px viewport"
            )
        for link in self.broken_links():
            found.append(f"contents link {link['text']!r} points at #{link['target']}: no such id")
        for image in self.broken_images():
            found.append(f"figure {image['alt']!r} did not decode")
        for element in self.data["overflowing"][:5]:
            found.append(
                f"{element['tag']} {element['text']!r} reaches {element['right']:.0f} px, past "
                "the viewport"
            )
        if not self.data["links"]:
            found.append("the page has no contents links")
        return found

    def summary(self) -> str:
        lines = [
            f"{self.width}×{self.height}: page {self.page_width:.0f}×{self.page_height:.0f} px, "
            f"{len(self.data['tables'])} tables ({len(self.scrolling_tables())} scroll in their "
            f"box, {len(self.wide_tables())} wider than the viewport), "
            f"{len(self.data['links'])} contents links ({len(self.broken_links())} broken), "
            f"{len(self.data['images'])} figures ({len(self.broken_images())} not decoded)"
        ]
        if self.data.get("lead"):
            sentences, figure = self.first_screen()
            lines.append(
                f"  first screen: {len(sentences)} of {len(self.data['lead']['sentences'])} "
                f"sentences of the answer, {figure:.0%} of the headline figure"
            )
        lines += [f"  - {problem}" for problem in self.problems()]
        return "\n".join(lines)


def find_browser() -> str | None:
    """A headless-capable Chromium: $MIXBENCH_CHROMIUM, else the first on the PATH."""
    chosen = os.environ.get(ENV_BROWSER)
    if chosen:
        return chosen if shutil.which(chosen) or Path(chosen).is_file() else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def run_browser(browser: str, args: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [
        browser,
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--mute-audio",
        f"--user-data-dir={profile}",
        *args,
    ]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BrowserError(f"{browser} did not run: {error}") from error


def probed_copy(page: Path, folder: Path) -> Path:
    """The page with PROBE before </body>, in ``folder`` (the original is left alone)."""
    text = page.read_text(encoding="utf-8")
    if "</body>" not in text:
        raise BrowserError(f"{page} has no </body>: is it the report's HTML?")
    probed = folder / page.name
    probed.write_text(text.replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    return probed


def layout(page: Path, size: tuple[int, int] = LAPTOP, browser: str | None = None) -> Layout:
    """Load ``page`` in a window of ``size`` and read back its layout."""
    browser = browser or find_browser()
    if browser is None:
        raise BrowserError(f"no headless browser: install chromium or set ${ENV_BROWSER}")
    with tempfile.TemporaryDirectory(prefix="mixbench-browser-") as tmp:
        folder = Path(tmp)
        probed = probed_copy(page, folder)
        done = run_browser(
            browser,
            [
                f"--window-size={size[0]},{size[1]}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probed.resolve().as_uri(),
            ],
            folder / "profile",
        )
    match = re.search(rf'<pre id="{MARKER}">(.*?)</pre>', done.stdout, re.S)
    if not match:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise BrowserError(f"{browser} rendered no layout of {page}: {' '.join(tail)}")
    text = match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    return Layout(size[0], size[1], json.loads(text.replace("&amp;", "&")))


def screenshot(
    page: Path, out: Path, size: tuple[int, int] = LAPTOP, browser: str | None = None
) -> Path:
    """A PNG of ``page`` in a window of ``size`` (its top, as a reader first sees it)."""
    browser = browser or find_browser()
    if browser is None:
        raise BrowserError(f"no headless browser: install chromium or set ${ENV_BROWSER}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mixbench-browser-") as tmp:
        done = run_browser(
            browser,
            [
                f"--window-size={size[0]},{size[1]}",
                "--virtual-time-budget=10000",
                f"--screenshot={out.resolve()}",
                page.resolve().as_uri(),
            ],
            Path(tmp) / "profile",
        )
    if not out.is_file() or out.stat().st_size == 0:
        raise BrowserError(f"{browser} wrote no screenshot: {done.stderr.strip()[-300:]}")
    return out


def full_page(page: Path, out: Path, width: int = LAPTOP[0], browser: str | None = None) -> Path:
    """A PNG of the whole page at ``width`` (up to MAX_HEIGHT px tall)."""
    found = layout(page, (width, LAPTOP[1]), browser)
    # the window holds the viewport and what headless Chromium keeps above it
    chrome = LAPTOP[1] - found.data["viewport"][1]
    height = int(min(found.page_height + chrome, MAX_HEIGHT))
    return screenshot(page, out, (width, max(height, LAPTOP[1])), browser)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def size_arg(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[x×](\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"--size takes WIDTHxHEIGHT like 1366x768, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.screenshot",
        description="Render report.html in headless Chromium: a screenshot, optionally the "
        "whole page, and a check of its layout (exit 1 when something does not fit).",
    )
    parser.add_argument("page", type=Path, help="the report's HTML file")
    parser.add_argument("out", type=Path, help="the PNG of the window")
    parser.add_argument("--full", type=Path, help="also a PNG of the whole page")
    parser.add_argument("--size", type=size_arg, default=LAPTOP, help="window, default 1366x768")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"error: {args.page} is not a file", file=sys.stderr)
        return 2
    try:
        found = layout(args.page, args.size)
        screenshot(args.page, args.out, args.size)
        print(f"wrote {args.out} {'×'.join(map(str, png_size(args.out)))}")
        if args.full:
            full_page(args.page, args.full, args.size[0])
            print(f"wrote {args.full} {'×'.join(map(str, png_size(args.full)))}")
    except BrowserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(found.summary())
    return 1 if found.problems() else 0


if __name__ == "__main__":
    sys.exit(main())

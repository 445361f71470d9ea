"""Writes a report: report.md, a self-contained report.html (figures inlined
as base64 PNG), the figures as PNG and SVG, every table as CSV and the tidy
table of all points as points.csv.

Every file is written to a temporary file beside it and then moved into
place, so a reader never sees half a report, and nothing is written outside
the output folder.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .figures import FigureResult
from .tables import Table
from .units import human

FORMATS = ("md", "html")
HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td.text { text-align: left; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; }
figcaption, p.caption { color: #444; font-size: 0.9em; }
"""


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[FigureResult] = field(default_factory=list)


@dataclass(frozen=True)
class RenderedFigure:
    result: FigureResult
    png: bytes
    svg: bytes


# -- writing files --------------------------------------------------------------


def current_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside the target, then rename over it: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        # mkstemp makes files only the owner can read; a report is for everyone.
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_figure(result: FigureResult) -> RenderedFigure:
    images = {}
    for kind in ("png", "svg"):
        buffer = io.BytesIO()
        result.figure.savefig(buffer, format=kind, dpi=110, bbox_inches="tight")
        images[kind] = buffer.getvalue()
    plt.close(result.figure)
    return RenderedFigure(result, images["png"], images["svg"])


# -- formatting values ----------------------------------------------------------


def format_value(column: str, value: object, percent: bool = False) -> str:
    """Human units chosen by the column's name; N/A where nothing was measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "N/A"
    if isinstance(value, str | bool) or not isinstance(value, int | float):
        return str(value)
    if percent:
        return f"{100 * value:.1f}"
    return human(column, float(value))


def formatted(table: Table) -> pd.DataFrame:
    percent = set(table.percent)
    return pd.DataFrame(
        {
            column: [format_value(column, v, column in percent) for v in table.frame[column]]
            for column in table.frame.columns
        },
        index=table.frame.index,
    )


# -- markdown -------------------------------------------------------------------


def markdown_table(table: Table) -> str:
    if table.frame.empty:
        return "_Not measured in the selected runs._\n"
    cells = formatted(table)
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    lines = [
        "| " + " | ".join(escape(c) for c in cells.columns) + " |",
        "|" + "|".join("---" for _ in cells.columns) + "|",
    ]
    lines += ["| " + " | ".join(escape(v) for v in row) + " |" for row in cells.to_numpy()]
    return "\n".join(lines) + "\n"


def markdown(title: str, sections: Iterable[Section], figure_dir: str) -> str:
    parts = [f"# {title}\n"]
    for section in sections:
        parts.append(f"## {section.title}\n")
        if section.text:
            parts.append(section.text + "\n")
        for table in section.tables:
            if table.title != section.title:
                parts.append(f"### {table.title}\n")
            parts.append(f"{table.caption}\n\n{markdown_table(table)}")
        for figure in section.figures:
            parts.append(
                f"![{figure.title}]({figure_dir}/{figure.name}.png)\n\n"
                f"_{figure.caption}_ ([SVG]({figure_dir}/{figure.name}.svg))\n"
            )
    return "\n".join(parts)


# -- html -----------------------------------------------------------------------


def html_table(table: Table) -> str:
    if table.frame.empty:
        return "<p><em>Not measured in the selected runs.</em></p>"
    cells = formatted(table)
    numeric = {c for c in table.frame.columns if pd.api.types.is_numeric_dtype(table.frame[c])}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cells.columns)
    opening = {c: "<td>" if c in numeric else '<td class="text">' for c in cells.columns}
    body = "".join(
        "<tr>"
        + "".join(
            f"{opening[c]}{html.escape(v)}</td>" for c, v in zip(cells.columns, row, strict=True)
        )
        + "</tr>"
        for row in cells.to_numpy()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_figure(figure: RenderedFigure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    title, caption = html.escape(figure.result.title), html.escape(figure.result.caption)
    return (
        f'<figure><img alt="{title}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def html_text(text: str) -> str:
    """A paragraph, or a list where every line is a markdown bullet."""
    lines = text.splitlines()
    if all(line.startswith("- ") for line in lines):
        return "<ul>" + "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines) + "</ul>"
    return f"<p>{html.escape(text)}</p>"


def html_page(title: str, sections: Iterable[Section], figures: dict[str, RenderedFigure]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            body.append(html_text(section.text))
        for table in section.tables:
            if table.title != section.title:
                body.append(f"<h3>{html.escape(table.title)}</h3>")
            body.append(f'<p class="caption">{html.escape(table.caption)}</p>')
            body.append(html_table(table))
        body.extend(html_figure(figures[figure.name]) for figure in section.figures)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


# -- the whole report -----------------------------------------------------------


def write_report(
    out: Path,
    title: str,
    sections: Sequence[Section],
    formats: Sequence[str],
    points: pd.DataFrame | None = None,
    stem: str = "report",
) -> list[Path]:
    """Everything into ``out``; returns the paths written."""
    written: list[Path] = []

    def save(path: Path, data: bytes) -> None:
        write_atomic(path, data)
        written.append(path)

    figures: dict[str, RenderedFigure] = {}
    for section in sections:
        for result in section.figures:
            figures[result.name] = render_figure(result)
            save(out / "figures" / f"{result.name}.png", figures[result.name].png)
            save(out / "figures" / f"{result.name}.svg", figures[result.name].svg)
        for table in section.tables:
            save(out / "tables" / f"{table.name}.csv", table.frame.to_csv(index=False).encode())
    if points is not None:
        save(out / "points.csv", points.to_csv(index=False).encode())
    if "md" in formats:
        save(out / f"{stem}.md", markdown(title, sections, "figures").encode())
    if "html" in formats:
        save(out / f"{stem}.html", html_page(title, sections, figures).encode())
    remove_stale(out, stem, written)
    return written


def manifest_path(out: Path, stem: str) -> Path:
    return out / f".{stem}.written"


def listed(manifest: Path) -> set[str]:
    return set(manifest.read_text().splitlines()) if manifest.is_file() else set()


def remove_stale(out: Path, stem: str, written: Sequence[Path]) -> None:
    """Delete what this kind of report wrote last time and not this time (a
    figure of a workload no longer measured would otherwise sit beside the new
    ones), then remember what it wrote. Only files named in its own manifest
    go, and none that another report's manifest still names: never a user's."""
    now = {path.relative_to(out).as_posix() for path in written}
    manifest = manifest_path(out, stem)
    others = set().union(*(listed(m) for m in out.glob(".*.written") if m != manifest))
    for stale in listed(manifest) - now - others:
        (out / stale).unlink(missing_ok=True)
    write_atomic(manifest, "\n".join(sorted(now)).encode())

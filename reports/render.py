"""Writes a report: report.md, a self-contained report.html (figures inlined
as base64 PNG), the figures as PNG and SVG, every table as CSV and the tidy
table of all points as points.csv.

The whole folder is written beside the old one and then swapped into place,
so a reader never sees half a report or old and new files mixed, and a write
error (a read-only folder, a full disk) changes nothing.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import html
import io
import math
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import pandas as pd
from markupsafe import Markup
from pandas.io.formats.style import Styler

from . import templates
from .load import shown_name
from .spread import CONTENDED_MARK, IQR
from .tables import Table
from .units import human, interval

if TYPE_CHECKING:  # figures import matplotlib: python -m suite.slopes needs neither
    from .figures import FigureResult

FORMATS = ("md", "html")
MARKDOWN_ENV = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
HTML_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass
class Section:
    """A titled part of a page. ``blocks`` (text, tables and figures) are
    shown in their order; without them, the text, then the tables, then the
    figures given."""

    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[FigureResult] = field(default_factory=list)
    blocks: list[str | Table | FigureResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = [*([self.text] if self.text else []), *self.tables, *self.figures]
        self.text = "\n\n".join(b for b in self.blocks if isinstance(b, str))
        self.tables = [b for b in self.blocks if isinstance(b, Table)]
        self.figures = [b for b in self.blocks if not isinstance(b, str | Table)]


@dataclass(frozen=True)
class RenderedFigure:
    result: FigureResult
    png: bytes
    svg: bytes


# -- writing files --------------------------------------------------------------


class WriteError(Exception):
    """The report could not be written; the output folder was left as it was."""


def current_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def write_file(path: Path, data: bytes) -> None:
    """One new file (in the staging folder: nothing reads it yet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def carry(source: Path, target: Path) -> None:
    """One thing of the old folder into the new one, as it is: a folder is made
    (its mode is set by keep_modes, once its contents are in), anything else (a
    file, a link, never followed, a FIFO) is hard-linked, or copied where the
    file system has no hard links."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        target.mkdir(exist_ok=True)
        return
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def manifest_name(stem: str) -> str:
    return f".{stem}.written"


def listed(manifest: Path) -> set[str]:
    return set(manifest.read_text().splitlines()) if manifest.is_file() else set()


def unreadable(error: OSError) -> None:
    """os.walk's onerror: a folder that cannot be listed stops the write (the
    old folder is left as it was) instead of being carried over empty."""
    raise error


def everything_in(out: Path) -> list[str]:
    """Every path under ``out``, relative, parents before children: files,
    folders (empty ones too), links (to folders too, never followed), FIFOs."""
    found = []
    for folder, folders, names in os.walk(out, onerror=unreadable):
        base = Path(folder).relative_to(out)
        found += [(base / name).as_posix() for name in sorted(folders + names)]
    return found


def kept_from(out: Path, stem: str) -> list[str]:
    """What of the old folder the new one keeps: everything but what this kind
    of report wrote last time (a figure of a workload no longer measured must
    not sit beside the new ones), unless another report's manifest still names
    it, and but the folders that only held that. A user's own things are always
    kept, whatever they are."""
    if not out.is_dir():
        return []
    manifest = out / manifest_name(stem)
    others = set().union(*(listed(m) for m in out.glob(".*.written") if m != manifest))
    mine = listed(manifest) - others
    held_mine = {parent.as_posix() for f in mine for parent in Path(f).parents}
    return [
        f for f in everything_in(out) if f not in mine and f not in held_mine and f != manifest.name
    ]


def keep_modes(staging: Path, out: Path) -> None:
    """Each staged folder gets the mode (and times) it had in the old folder, a
    new one the umask's (mkdtemp made the staging folder the owner's only);
    deepest first, so that a read-only folder is filled before it is closed."""
    default = 0o777 & ~current_umask()
    folders = [staging, *(p for p in staging.rglob("*") if p.is_dir() and not p.is_symlink())]
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        old = out / folder.relative_to(staging)
        if old.is_dir() and not old.is_symlink():
            shutil.copystat(old, folder, follow_symlinks=False)
        else:
            os.chmod(folder, default)


def remove_tree(path: Path) -> None:
    """``path`` and all in it, read-only folders included (rmtree alone leaves a
    folder it cannot write into behind)."""
    for folder, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(folder, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def publish(out: Path, stem: str, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` (relative path -> bytes) as the new ``out``: all of
    them, with what the old folder keeps, into a staging folder beside it,
    then swapped into place. A failure on the way (a read-only folder, a full
    disk) leaves the old folder as it was, never old and new files mixed."""
    out = out.resolve() if out.is_symlink() else out.absolute()
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise WriteError(f"--out {out} holds the working folder; give a folder of its own")
    parent = out.parent
    staging = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if out.exists() and not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "the folder is not writable", str(out))
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".new"))
        for relative, data in files.items():
            write_file(staging / relative, data)
        write_file(staging / manifest_name(stem), "\n".join(sorted(files)).encode())
        for relative in kept_from(out, stem):
            if relative not in files:
                carry(out / relative, staging / relative)
        keep_modes(staging, out)
        swap(staging, out)
        staging = None
    except OSError as error:
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename and error.filename != str(out) else ""
        raise WriteError(f"cannot write the report to {out}: {reason}{where}") from error
    finally:
        if staging is not None:
            remove_tree(staging)
    return [out / relative for relative in files]


def swap(staging: Path, out: Path) -> None:
    """``staging`` becomes ``out``; the old ``out`` is removed once replaced."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    os.rmdir(old)  # a free name beside out, for the old folder
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old, out)
        raise
    remove_tree(old)


def render_figure(result: FigureResult) -> RenderedFigure:
    images = {}
    for kind in ("png", "svg"):
        buffer = io.BytesIO()
        result.figure.savefig(buffer, format=kind, dpi=110, bbox_inches="tight")
        images[kind] = buffer.getvalue()
    return RenderedFigure(result, images["png"], images["svg"])


def close_figures(sections: Iterable[Section]) -> None:
    """Every matplotlib figure of the sections, rendered or not (pyplot keeps
    each open figure alive until it is closed)."""
    import matplotlib.pyplot as plt

    for section in sections:
        for result in section.figures:
            plt.close(result.figure)


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


def interval_cell(column: str, value: object, low: object, high: object, kind: object) -> str:
    """What follows a value in its cell: '[low, high]' (a 95% CI), '(IQR
    low–high)' for a run without rounds, nothing where there is no spread
    (or the ends are one: an exact figure). A value that is text (a verdict)
    gets its ends to two decimals."""
    numbers = [v if isinstance(v, int | float) and not isinstance(v, bool) else math.nan
               for v in (value, low, high)]  # fmt: skip
    if isinstance(value, str):
        numbers[0] = 0.0
        column = "_x"
    text = interval(column, *numbers)
    if not text or numbers[1] == numbers[2]:  # none, or exact (counted, a perfect fit)
        return ""
    if kind == IQR:
        return " (IQR " + text.strip("[]").replace(", ", "–") + ")"
    return " " + text


def formatted(table: Table) -> pd.DataFrame:
    """Every cell in units; a value with an interval or a mark gets them in
    its cell, and the columns that held them are left out (the CSV keeps them)."""
    percent = set(table.percent)
    frame = table.frame
    cells = {
        column: [format_value(column, v, column in percent) for v in frame[column]]
        for column in frame.columns
    }
    for column, (low, high, kind) in table.intervals.items():
        if column not in frame.columns or low not in frame.columns or high not in frame.columns:
            continue
        kinds = frame[kind] if kind in frame.columns else [None] * len(frame)
        cells[column] = [
            cell + interval_cell(column, v, a, b, k)
            for cell, v, a, b, k in zip(
                cells[column], frame[column], frame[low], frame[high], kinds, strict=True
            )
        ]
    for column, flag in table.marks.items():
        if column in frame.columns and flag in frame.columns:
            cells[column] = [
                f"{cell} {CONTENDED_MARK}" if marked is True or marked == 1 else cell
                for cell, marked in zip(cells[column], frame[flag], strict=True)
            ]
    hidden = table.helper_columns
    shown = [c for c in frame.columns if c not in hidden]
    return pd.DataFrame({c: cells[c] for c in shown}, index=frame.index, columns=shown)


# -- blocks of a page ------------------------------------------------------------


def anchor(text: str) -> str:
    """A section's id in both pages: lower case, words joined by hyphens."""
    words = re.findall(r"[0-9a-zA-Z]+", text.lower())
    return "-".join(words) or "section"


def markdown_safe(text: str) -> str:
    """Text from the data (a mixer, task or machine name) as markdown shows it
    literally: no raw HTML (a viewer would run ``<script>`` or ``onerror=``) and
    no link a name could forge (``[x](javascript:...)``)."""
    return html.escape(str(text), quote=False).replace("](", "]\\(")


def escape_cell(text: str) -> str:
    """A markdown table cell: literal (markdown_safe), pipes escaped, on one line."""
    return markdown_safe(text).replace("|", "\\|").replace("\n", " ")


def numeric_columns(table: Table) -> set[str]:
    frame = table.frame
    hidden = table.helper_columns
    return {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in hidden}


#: a table of at most TRANSPOSE_ROWS rows and more than TRANSPOSE_OVER columns
#: is shown as one row per field, one column per row of the table
TRANSPOSE_ROWS, TRANSPOSE_OVER = 3, 10


def row_names(cells: pd.DataFrame) -> list[str]:
    """A heading per row: its first cell, with the next cells until they tell
    the rows apart."""
    names = [""] * len(cells)
    for column in cells.columns:
        names = [f"{name} {cell}".strip() for name, cell in zip(names, cells[column], strict=True)]
        if len(set(names)) == len(names):
            return names
    return [f"row {i + 1}" for i in range(len(cells))]


def shown(table: Table) -> Table:
    """The table as the pages show it: a few rows of many columns read better
    turned on their side, a field per row (the CSV keeps the table as it is)."""
    cells = formatted(table)
    if len(cells) > TRANSPOSE_ROWS or len(cells.columns) <= TRANSPOSE_OVER:
        return table
    fields = table.headers(cells.columns)
    if len(cells) == 1:
        frame = pd.DataFrame({"field": fields, "value": list(cells.iloc[0])})
    else:
        frame = pd.DataFrame(
            {"field": fields}
            | {
                name: list(row)
                for name, (_, row) in zip(row_names(cells), cells.iterrows(), strict=True)
            }
        )
    return Table(table.name, table.title, table.caption, frame, empty=table.empty)


def markdown_table(table: Table) -> str:
    """The table by ``DataFrame.to_markdown`` (tabulate), values in units."""
    if table.frame.empty:
        return f"_{table.empty}_\n"
    table = shown(table)
    cells = formatted(table).map(escape_cell)
    numeric = numeric_columns(table)
    align = tuple("right" if c in numeric else "left" for c in cells.columns)
    cells.columns = [escape_cell(c) for c in table.headers(cells.columns)]
    return cells.to_markdown(index=False, disable_numparse=True, colalign=align) + "\n"


def html_table(table: Table) -> str:
    """The table by ``Styler.to_html``: text columns left-aligned and wrapping."""
    if table.frame.empty:
        return f"<p><em>{html.escape(table.empty)}</em></p>"
    table = shown(table)
    cells = formatted(table)
    numeric = numeric_columns(table)
    folded = set(table.intervals) | set(table.marks)
    for column in cells.columns:
        if column in numeric or column in folded:
            cells[column] = cells[column].map(keep_together)
    classes = pd.DataFrame(
        {c: ["num" if c in numeric else "text"] * len(cells) for c in cells.columns},
        index=cells.index,
    )
    # Styler escapes the cells, not the headings, which hold data too (run labels of a
    # transposed table, task names)
    cells.columns = classes.columns = [html.escape(c) for c in table.headers(cells.columns)]
    styler = Styler(cells, uuid=anchor(table.name), cell_ids=False)
    styler = styler.hide(axis="index").format(escape="html").set_td_classes(classes)
    page = styler.set_table_attributes('class="data"').to_html(doctype_html=False)
    kinds = ["num" if c in numeric else "text" for c in cells.columns]

    def heading(match: re.Match) -> str:
        """A heading aligned as its column, its long name breakable after underscores."""
        opening, text = match.group(1), match.group(2).replace("_", "_<wbr>")
        column = re.search(r"\bcol(\d+)\b", opening)
        if column and int(column.group(1)) < len(kinds):
            opening = opening.replace('class="', f'class="{kinds[int(column.group(1))]} ', 1)
        return opening + text + match.group(3)

    return HEADER.sub(heading, page)


#: a column heading: its opening tag, its text, its end
HEADER = re.compile(r"(<th [^>]*>)([^<]*)(</th>)")
INTERVAL_PART = re.compile(r"(\[[^\]]*\]|\(IQR [^)]*\))")


def keep_together(cell: str) -> str:
    """A value and its interval may wrap only between each other: '1.95 ms'
    and '[1.89, 2.53]' each stay on one line."""
    parts = [part.strip() for part in INTERVAL_PART.split(cell) if part.strip()]
    return " ".join(part.replace(" ", "\u00a0") for part in parts)


def text_block(text: str) -> dict:
    """A paragraph, or a list where every line is a markdown bullet (text the
    template escapes: markdown_safe for report.md, autoescape for report.html)."""
    lines = text.splitlines()
    items = [line[2:] for line in lines] if all(ln.startswith("- ") for ln in lines) else []
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return {"kind": "text", "text": text, "bullets": items, "paragraphs": paragraphs}


def table_block(table: Table, section: Section, as_html: bool) -> dict:
    block = {
        "kind": "table",
        "heading": table.title if table.title != section.title else "",
        "anchor": f"table-{anchor(table.name)}",
        "caption": table.caption,
        "csv": f"tables/{table.name}.csv",
    }
    block["html" if as_html else "markdown"] = (
        html_table(table) if as_html else markdown_table(table)
    )
    return block


def figure_block(figure: FigureResult, rendered: RenderedFigure | None) -> dict:
    return {
        "kind": "figure",
        "title": figure.title,
        "caption": figure.caption,
        "anchor": f"figure-{anchor(figure.name)}",
        "png": f"figures/{figure.name}.png",
        "svg": f"figures/{figure.name}.svg",
        "png_base64": base64.b64encode(rendered.png).decode("ascii") if rendered else "",
    }


#: the text fields of a block the pages show (a table's own cells are escaped apart)
SHOWN_TEXT = ("text", "bullets", "heading", "caption", "title")


def literal_markdown(block: dict) -> dict:
    """A block whose text is shown literally in markdown (markdown_safe): every
    string in it may hold a name from the data."""
    for key in SHOWN_TEXT:
        value = block.get(key)
        if isinstance(value, str):
            block[key] = markdown_safe(value)
        elif isinstance(value, list):
            block[key] = [markdown_safe(item) for item in value]
    return block


def page_sections(
    sections: Iterable[Section], as_html: bool, figures: dict[str, RenderedFigure]
) -> list[dict]:
    """The sections as the templates read them; for markdown (no autoescape) every
    text is made literal here."""
    pages = []
    for section in sections:
        blocks = []
        for block in section.blocks:
            if isinstance(block, str):
                blocks.append(text_block(block))
            elif isinstance(block, Table):
                blocks.append(table_block(block, section, as_html))
            else:
                blocks.append(figure_block(block, figures.get(block.name)))
        page = {"title": section.title, "anchor": anchor(section.title), "blocks": blocks}
        if not as_html:
            page["blocks"] = [literal_markdown(block) for block in blocks]
            page["title"] = markdown_safe(section.title)
        pages.append(page)
    return pages


def markdown(title: str, sections: Iterable[Section]) -> str:
    template = MARKDOWN_ENV.from_string(templates.MARKDOWN)
    pages = page_sections(sections, False, {})
    text = template.render(title=markdown_safe(title), sections=pages)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def html_page(title: str, sections: Iterable[Section], figures: dict[str, RenderedFigure]) -> str:
    blocks = page_sections(sections, True, figures)
    for section in blocks:
        for block in section["blocks"]:
            if block["kind"] == "table":
                block["html"] = Markup(block["html"])  # Styler escaped the cells
    template = HTML_ENV.from_string(templates.HTML)
    return template.render(title=title, sections=blocks, style=Markup(templates.HTML_STYLE))


# -- the whole report -----------------------------------------------------------


def utf8(text: str) -> bytes:
    """A page or table as UTF-8, names that are not (a file name's bytes) escaped."""
    return shown_name(text).encode()


def report_files(
    title: str,
    sections: Sequence[Section],
    formats: Sequence[str],
    points: pd.DataFrame | None,
    stem: str,
) -> dict[str, bytes]:
    """Every file of a report by its path in the output folder, in memory."""
    try:
        figures = {f.name: render_figure(f) for section in sections for f in section.figures}
    finally:
        close_figures(sections)
    files: dict[str, bytes] = {}
    for name, rendered in figures.items():
        files[f"figures/{name}.png"] = rendered.png
        files[f"figures/{name}.svg"] = rendered.svg
    for section in sections:
        for table in section.tables:
            files[f"tables/{table.name}.csv"] = utf8(table.frame.to_csv(index=False))
    if points is not None:
        files["points.csv"] = utf8(points.to_csv(index=False))
    if "md" in formats:
        files[f"{stem}.md"] = utf8(markdown(title, sections))
    if "html" in formats:
        files[f"{stem}.html"] = utf8(html_page(title, sections, figures))
    return files


def write_report(
    out: Path,
    title: str,
    sections: Sequence[Section],
    formats: Sequence[str],
    points: pd.DataFrame | None = None,
    stem: str = "report",
) -> list[Path]:
    """Everything into ``out`` at once (see publish); returns the paths written."""
    return publish(out, stem, report_files(title, sections, formats, points, stem))

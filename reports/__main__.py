"""``python -m reports``: a report from autosaved runs; ``python -m reports
compare A B``: two runs side by side, regressions flagged.

Exit status: 0 done; 1 ``--fail-on-regression`` and a regression was found;
2 nothing to report (no runs, a --run that matches nothing, bad options);
3 the report could not be written (--out read-only, disk full: --out is left
as it was); 4 ``--fail-on-regression`` and no point of A matched one of B, so
nothing could be checked.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .compare import is_comparison, matched
from .load import (
    ReportError,
    RunChoiceWarning,
    RunFile,
    list_run_files,
    load_points,
    newest_readable,
    no_runs_message,
    one_run,
    resolve_run,
    select_run_files,
)
from .render import FORMATS, Section, WriteError, write_report
from .report import compare_section, report_sections
from .spread import with_spread

EXIT_REGRESSION, EXIT_NOTHING, EXIT_WRITE, EXIT_UNCHECKED = 1, 2, 3, 4
#: stems of the comparison's table and figure: the full report's and the
#: compare command's share an --out and must not overwrite each other
REPORT_COMPARE, COMMAND_COMPARE = "report_compare", "compare"

DESCRIPTION = """\
Turn pytest-benchmark autosaves into report.md, a self-contained report.html,
figures (PNG and SVG), CSV tables and points.csv.

  python -m reports                          the newest run in the storage
  python -m reports --run 0003 --run 0005    several runs in one report
  python -m reports --run 0003 0005 --compare  ... and their comparison
  python -m reports compare 0003 0005        only the comparison: ratios per
                                             point, regressions flagged
"""


def formats(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(chosen) - set(FORMATS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"--format takes a comma-separated list of {', '.join(FORMATS)}, got {text!r}"
        )
    return chosen


def fraction(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value < 10:
        raise argparse.ArgumentTypeError(f"--threshold must be like 0.1 or 10%, got {text!r}")
    return value


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        type=Path,
        default=Path(".benchmarks"),
        help="pytest-benchmark storage folder (default: .benchmarks)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports/out"),
        help="folder the report is written to, staged beside it and swapped in whole "
        "(default: reports/out)",
    )
    parser.add_argument(
        "--format",
        type=formats,
        default=list(FORMATS),
        dest="formats",
        help="md, html or md,html (default)",
    )
    parser.add_argument(
        "--threshold",
        type=fraction,
        default=0.1,
        help="a change beyond this is flagged in comparisons: 0.1 or 10%% (default 10%%)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit with status 1 when a comparison flags a regression, 4 when no point "
        "matched so that nothing was checked (for CI)",
    )


def report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(parser)
    parser.add_argument(
        "--run",
        action="extend",
        nargs="+",
        default=[],
        help="latest (default: the newest readable, complete autosave of any machine folder, "
        "by its save time; a newer unreadable or interrupted one is named in the summary), "
        "all, an id like 0003 or <machine-folder>/0003, or a path to an autosave or a folder "
        "of them; repeat for several runs",
    )
    parser.add_argument(
        "--compare", action="store_true", help="add a comparison of the two runs given"
    )
    parser.add_argument(
        "--fit",
        choices=("half", "all"),
        default="half",
        help="fit scaling slopes over the longer half of the swept values (default) or all",
    )
    return parser


def compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reports compare",
        description="Ratios per point between run A and run B (B is the new one); "
        "without runs, the two newest runs in the storage.",
    )
    parser.add_argument("runs", nargs="*", metavar="RUN", help="A and B, as for --run")
    add_common_options(parser)
    return parser


@dataclass
class Reported:
    """The warnings of reading the runs: all of them for the Notes, and
    those about which runs were chosen for the summary as well."""

    messages: list[str] = field(default_factory=list)
    run_notes: list[str] = field(default_factory=list)


@contextmanager
def reported_warnings() -> Iterator[Reported]:
    """Print warnings as they come, one line each, and keep them for the report."""
    reported = Reported()

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        reported.messages.append(str(message))
        if issubclass(category, RunChoiceWarning):
            reported.run_notes.append(str(message))
        print(f"warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield reported


def run_labels(points: pd.DataFrame, files: Sequence[RunFile]) -> list[str]:
    """The runs' labels in the order they were asked for (the shards of one
    group are one run)."""
    by_path = points.drop_duplicates("run_path").set_index("run_path")["run"]
    labels = [by_path[str(f.path)] for f in files if str(f.path) in by_path.index]
    return list(dict.fromkeys(labels))


def two_runs(points: pd.DataFrame, files: Sequence[RunFile]) -> tuple[str, str]:
    labels = run_labels(points, files)
    if len(labels) != 2:
        raise ReportError(f"a comparison needs exactly two readable runs, got {len(labels)}")
    return labels[0], labels[1]


def finish(
    args: argparse.Namespace,
    title: str,
    sections: list[Section],
    points: pd.DataFrame | None,
    stem: str,
) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise ReportError(f"--out {args.out} is a file; give a folder for the report")
    written = write_report(args.out, title, sections, args.formats, points, stem=stem)
    for path in written:
        if path.suffix in (".md", ".html"):
            print(f"wrote {path}")
    print(f"wrote {len(written)} files under {args.out}")
    if not args.fail_on_regression:
        return 0
    comparisons = [t for section in sections for t in section.tables if is_comparison(t)]
    if not any(matched(t.frame).any() for t in comparisons):
        print(
            "error: --fail-on-regression: no point of A matched one of B (they differ in "
            "workload, mixer, sweep, length or model size), so nothing was checked",
            file=sys.stderr,
        )
        return EXIT_UNCHECKED
    regressions = sum(int(t.frame["regression"].sum()) for t in comparisons)
    if regressions:
        print(f"--fail-on-regression: {regressions} regressions", file=sys.stderr)
        return EXIT_REGRESSION
    return 0


def report(args: argparse.Namespace) -> int:
    if args.fail_on_regression and not args.compare:
        raise ReportError("--fail-on-regression checks a comparison: add --compare and two runs")
    with reported_warnings() as reported:
        files = select_run_files(args.storage, args.run)
        # each time's interval once, for every part of the report and for points.csv
        points = with_spread(load_points(files))
    sections = report_sections(points, args.fit, reported.messages, reported.run_notes)
    if args.compare:
        run_a, run_b = two_runs(points, files)
        section = compare_section(points, run_a, run_b, args.threshold, REPORT_COMPARE)
        print(section.text)
        sections.insert(1, section)
    runs = ", ".join(sorted(points["run"].unique()))
    return finish(args, f"mixbench report: {runs}", sections, points, "report")


def compare_files(args: argparse.Namespace) -> list[RunFile]:
    """Runs A and B as given (a shard stands for its whole group), else the two
    newest readable, complete runs."""
    available = list_run_files(args.storage)
    if len(args.runs) not in (0, 2):
        raise ReportError(f"compare takes two runs, A and B, or none; got {len(args.runs)}")
    if not args.runs:
        files = newest_readable(available, 2)
        if len(files) < 2:
            found = f"found {len(files)} readable" if available else "found none"
            raise ReportError(f"{no_runs_message(args.storage)} (compare needs two; {found})")
        return files
    return [
        found
        for selector in args.runs
        for found in one_run(selector, resolve_run(selector, available, args.storage), available)
    ]


def compare(args: argparse.Namespace) -> int:
    with reported_warnings() as reported:
        files = compare_files(args)
        points = load_points(files)
    run_a, run_b = two_runs(points, files)
    section = compare_section(points, run_a, run_b, args.threshold, COMMAND_COMPARE)
    print(section.text)
    if reported.run_notes:
        section.blocks.insert(0, "\n".join(f"- {note}" for note in reported.run_notes))
    # No points.csv: that is the full report's, and a comparison must not replace it.
    return finish(args, f"mixbench comparison: {run_a} → {run_b}", [section], None, "compare")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    is_compare = bool(argv) and argv[0] == "compare"
    args = compare_parser().parse_args(argv[1:]) if is_compare else report_parser().parse_args(argv)
    try:
        return compare(args) if is_compare else report(args)
    except WriteError as error:
        print(f"error: {error}; {args.out} was left as it was", file=sys.stderr)
        return EXIT_WRITE
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOTHING


if __name__ == "__main__":
    sys.exit(main())

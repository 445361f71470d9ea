"""Scaling exponents of a saved run: the slope of log(median time) and of
log(peak memory) over log(swept value) per mixer and workload (~1: linear,
~2: quadratic, ~0: flat), with the fit's R², over the swept values at or
above ``--min`` (short points are overhead-bound).

    python -m suite.slopes .benchmarks/*/0001_*.json --min-len 1024

A thin command over the report's reader and fit (reports.load, reports.fits
through reports.tables.scaling_table): the numbers are those of the report's
scaling table, printed by the same markdown renderer. Torch-free.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from reports.load import ReportError, load_points, run_file
from reports.render import markdown_table
from reports.tables import scaling_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a JSON file saved by --benchmark-autosave")
    parser.add_argument(
        "--min",
        "--min-len",
        dest="min_value",
        type=float,
        default=0,
        help="fit only swept values at or above this (the length, for a length sweep)",
    )
    parser.add_argument(
        "--fit",
        choices=("all", "half"),
        default="all",
        help="fit over all the values kept (default) or the longer half, as the report does",
    )
    args = parser.parse_args(argv)
    if not args.run.is_file():
        print(f"error: {args.run} is not a file; give one autosaved JSON", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            points = load_points([run_file(args.run)])
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    kept = points[points["axis_value"].isna() | (points["axis_value"] >= args.min_value)]
    table = scaling_table(kept, args.fit)
    table = replace(table, frame=table.frame.drop(columns="run"))  # one run: no column
    print(markdown_table(table), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

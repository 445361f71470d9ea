"""``python -m models list``: every registered variant, its modes, its knobs
with their defaults, whether it runs here (or why not) and its parameter count
at a default width, built with its knobs' defaults."""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from .arguments import checked
from .backbone import count_params
from .registry import PluginError, build_mixer, described_knobs, list_mixers

DEFAULT_D_MODEL = 256
#: the listing builds every mixer to count its parameters: a width past this
#: would take gigabytes per mixer
MAX_D_MODEL = 4096
WIDTH_RULE = f"must be from 1 to {MAX_D_MODEL} (the listing builds every mixer at it)"


def width_problem(d_model: int) -> str | None:
    """Why some registered variant cannot be built at ``d_model`` with its knobs'
    defaults (e.g. heads that do not divide it), with a width that works; or None."""
    specs = list_mixers()

    def problems(width: int) -> list[str]:
        found = []
        for spec in specs:
            problem = spec.cls.config_problem(width)
            if problem is not None:
                found.append(f"{spec.name}: {problem}")
        return found

    found = problems(d_model)
    if not found:
        return None
    fits = next(
        (
            w
            for delta in range(1, 1025)
            for w in (d_model - delta, d_model + delta)
            if w > 0 and not problems(w)
        ),
        None,
    )
    hint = f"; try --d-model {fits}" if fits else ""
    return f"--d-model {d_model} does not fit {found[0]}{hint}"


def list_table(d_model: int) -> pd.DataFrame:
    rows = []
    for spec in list_mixers():
        reason = spec.unavailable_reason()
        if reason is None:
            params = count_params(build_mixer(spec.name, d_model))
        else:
            # weights do not need the backend: count them on the CPU all the same
            params = count_params(spec.cls(d_model=d_model))
        rows.append(
            {
                "name": spec.name + (" (reference)" if spec.reference else ""),
                "family": spec.family,
                "modes": ", ".join(spec.cls.modes),
                "knobs": described_knobs(spec.cls.knobs()),
                "available": "yes" if reason is None else f"unavailable: {reason}",
                f"params@d{d_model}": params,
            }
        )
    return pd.DataFrame(rows)


def list_command(d_model: int) -> str:
    table = list_table(d_model)
    # text columns read better flush left (to_string right-aligns every value)
    left = {
        column: f"{{:<{table[column].str.len().max()}}}".format
        for column in table.columns
        if pd.api.types.is_string_dtype(table[column])
    }
    return table.to_string(index=False, justify="left", formatters=left)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models")
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="list every registered mixer variant")
    lst.add_argument(
        "--d-model",
        type=checked(int, lambda v: 1 <= v <= MAX_D_MODEL, "a whole number", WIDTH_RULE),
        default=DEFAULT_D_MODEL,
    )
    args = parser.parse_args(argv)
    if args.command == "list":
        try:
            problem = width_problem(args.d_model)
        except PluginError as error:  # a plug-in that cannot be loaded or registered
            parser.error(str(error))
        if problem is not None:
            lst.error(problem)  # exits with status 2
        try:
            print(list_command(args.d_model))
        except BrokenPipeError:  # piped into head: the reader has what it wanted
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - flushed at exit, not a traceback
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

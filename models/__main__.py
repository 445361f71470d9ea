"""``python -m models list``: every registered variant, its modes, whether it
runs here (or why not) and its parameter count at a default size."""

from __future__ import annotations

import argparse

from .backbone import count_params
from .registry import build_mixer, list_mixers

DEFAULT_D_MODEL = 256
DEFAULT_CONFIG = {"retnet": {"n_heads": 4}, "attention": {"n_heads": 4}}


def list_command(d_model: int) -> str:
    rows = [("name", "family", "modes", "available", f"params@d{d_model}")]
    for spec in list_mixers():
        reason = spec.unavailable_reason()
        config = DEFAULT_CONFIG.get(spec.family, {})
        if reason is None:
            params = str(count_params(build_mixer(spec.name, d_model, **config)))
        else:
            # weights do not need the backend: count them on the CPU all the same
            params = str(count_params(spec.cls(d_model=d_model, **config)))
        available = "yes" if reason is None else f"unavailable: {reason}"
        ref = " (reference)" if spec.reference else ""
        rows.append((spec.name + ref, spec.family, ", ".join(spec.cls.modes), available, params))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m models")
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="list every registered mixer variant")
    lst.add_argument("--d-model", type=int, default=DEFAULT_D_MODEL)
    args = parser.parse_args(argv)
    if args.command == "list":
        print(list_command(args.d_model))


if __name__ == "__main__":
    main()

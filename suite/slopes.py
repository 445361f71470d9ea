"""Scaling exponents of a saved run: the slope of log(median time) over
log(L) per mixer and workload (~1: linear, ~2: quadratic, ~0: flat), over
the lengths at or above ``--min-len`` (short points are overhead-bound).

    python -m suite.slopes .benchmarks/*/0001_*.json --min-len 1024
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from .measure import log_log_slope


def slopes(run: dict, min_len: int) -> dict[tuple[str, str], tuple[float, list[int]]]:
    """(mixer, workload) -> (slope, lengths used), where two or more lengths ran."""
    medians: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for bench in run["benchmarks"]:
        info = bench["extra_info"]
        if info.get("status") == "ok" and info["seq_len"] >= min_len:
            medians[info["mixer"], info["workload"]][info["seq_len"]] = bench["stats"]["median"]
    result = {}
    for key, by_len in sorted(medians.items()):
        lengths = sorted(by_len)
        if len(lengths) >= 2:
            result[key] = (log_log_slope(lengths, [by_len[n] for n in lengths]), lengths)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a JSON file saved by --benchmark-autosave")
    parser.add_argument("--min-len", type=int, default=0)
    args = parser.parse_args()
    run = json.loads(args.run.read_text())
    print("| mixer | workload | slope of log t / log L | lengths |")
    print("|---|---|---|---|")
    for (mixer, workload), (slope, lengths) in slopes(run, args.min_len).items():
        print(f"| {mixer} | {workload} | {slope:.2f} | {lengths[0]}–{lengths[-1]} |")


if __name__ == "__main__":
    main()

"""The shards a run was merged from (``pytest suite/ --shard K/N`` on N
machines): one row per autosave, each with its own machine, so that a
reader sees where every share of the points was measured. The merging is
the reader's (load.py); missing shards, points saved twice and shards on
different hardware are warnings, named in the summary."""

from __future__ import annotations

import pandas as pd

from .tables import Table

COLUMNS = [
    "run",
    "shard",
    "file",
    "date",
    "partial",
    "node",
    "cpu",
    "gpu",
    "torch",
    "cuda",
    "threads",
    "matmul_peak_flops_per_s",
    "points_ok",
    "points_not_ok",
]


def shards_table(points: pd.DataFrame) -> Table | None:
    """None where no run of the report was sharded."""
    if "shard" not in points or points["shard"].isna().all():
        return None
    sharded = points[points["shard"].notna()]
    rows = []
    for (run, shard, ref), group in sharded.groupby(["run", "shard", "run_ref"], sort=True):
        first = group.iloc[0]
        rows.append(
            {
                "run": run,
                "shard": shard,
                "file": ref,
                "date": first["run_datetime"],
                "partial": "yes, interrupted" if first["run_partial"] else "no",
                "node": first["machine_node"],
                "cpu": first["machine"],
                "gpu": first["machine_gpu"],
                "torch": first["machine_torch"],
                "cuda": first["machine_cuda"],
                "threads": first["machine_threads"],
                "matmul_peak_flops_per_s": group["machine_matmul_peak_flops_per_s"].max(),
                "points_ok": int(group["ok"].sum()),
                "points_not_ok": int((~group["ok"]).sum()),
            }
        )
    caption = (
        "The autosaves each sharded run (--shard K/N) was merged from, one row per autosave "
        "with the machine it ran on. Every point appears once; one saved by two autosaves (a "
        "shard run again) is kept from the newest, and the summary names missing shards and "
        "shards that ran on different hardware."
    )
    return Table("shards", "Shards", caption, pd.DataFrame(rows, columns=COLUMNS))

"""The accuracy points of a report, one row per (run, task, mixer), with
what every table, figure and claim of the section reads: the interval over
the point's seeds, 'at chance', the number of MQAR pairs and the mixers it
cannot be told from (intervals.py holds the statistics).

Each accuracy point (workload ``accuracy``, one per task and mixer; see
suite/test_accuracy.py) records its seeds' test accuracies at the learning
rate chosen on validation. Tasks whose name starts with ``schema.MQAR_PREFIX``
are the MQAR family (``mqar``, ``mqar-L512-kv64``): the number of pairs comes
from ``task_config``, else from the name (schema.parse_mqar_name).
"""

from __future__ import annotations

import math

import pandas as pd

from schema import LRA_PREFIX, MQAR_PREFIX, REACHED_STATUSES, Status, Workload, parse_mqar_name

from .intervals import Interval, distinguishable, interval

AT_CHANCE = "at chance"
FRAME_COLUMNS = (
    "seed_values", "seeds", "acc_mean", "ci95_half", "ci95_low", "ci95_high", "reached",
    "at_chance",
)  # fmt: skip


def seed_values(row: pd.Series) -> list[float]:
    """The test accuracies of the seeds that reached one (older runs record
    only the mean: one value, no interval)."""
    seeds = row.get("seed_accuracies")
    if isinstance(seeds, list) and seeds:
        return [
            float(s["accuracy"])
            for s in seeds
            if isinstance(s, dict)
            and s.get("status", Status.OK) in REACHED_STATUSES
            and isinstance(s.get("accuracy"), int | float)
        ]
    accuracy = row.get("accuracy")
    return [float(accuracy)] if accuracy is not None and pd.notna(accuracy) else []


def is_mqar(task: object) -> bool:
    return isinstance(task, str) and task.startswith(MQAR_PREFIX)


def kv_pairs(row: pd.Series) -> float:
    """An MQAR point's number of key-value pairs: task_config's, else the name's."""
    if not is_mqar(row.get("task")):
        return math.nan
    config = row.get("task_config")
    if isinstance(config, dict) and isinstance(config.get("num_kv_pairs"), int | float):
        return float(config["num_kv_pairs"])
    parsed = parse_mqar_name(row["task"])
    return float(parsed[1]) if parsed else math.nan


def is_reached(row: pd.Series) -> bool:
    return row["status"] in REACHED_STATUSES and pd.notna(row["accuracy"])


def accuracy_frame(points: pd.DataFrame) -> pd.DataFrame:
    """The accuracy points that were attempted, one row per (run, task,
    mixer), with the interval over their seeds, 'at chance', the number of
    MQAR pairs and the mixers each cannot be told from."""
    acc = points[points["workload"] == Workload.ACCURACY].copy()
    if acc.empty:
        return acc.assign(**dict.fromkeys(FRAME_COLUMNS), kv_pairs=None, not_distinguishable="")
    never_tried = acc.groupby(["run", "mixer"])["status"].transform(
        lambda statuses: (statuses == Status.UNAVAILABLE).all()
    )
    acc = acc[~never_tried.astype(bool)]  # a backend not available here: the summary says so
    acc = acc.drop_duplicates(["run", "task", "mixer"], keep="last")
    acc["seed_values"] = [seed_values(row) for _, row in acc.iterrows()]
    intervals = [interval(values) for values in acc["seed_values"]]
    acc["reached"] = [is_reached(row) for _, row in acc.iterrows()]
    acc["seeds"] = [i.n for i in intervals]
    reached = acc["reached"].tolist()
    acc["acc_mean"] = [i.mean if r else math.nan for i, r in zip(intervals, reached, strict=True)]
    acc["ci95_half"] = [i.half if r else math.nan for i, r in zip(intervals, reached, strict=True)]
    acc["ci95_low"] = acc["acc_mean"] - acc["ci95_half"]
    acc["ci95_high"] = acc["acc_mean"] + acc["ci95_half"]
    acc["at_chance"] = [at_chance(row) for _, row in acc.iterrows()]
    acc["kv_pairs"] = [kv_pairs(row) for _, row in acc.iterrows()]
    acc["not_distinguishable"] = not_distinguishable(acc)
    return acc


def interval_of(row: pd.Series) -> Interval:
    return Interval(row["acc_mean"], int(row["seeds"]), row["ci95_half"])


def at_chance(row: pd.Series) -> bool:
    """The interval includes the chance level; with one seed, at or below it."""
    chance = row.get("chance_accuracy")
    if not row["reached"] or chance is None or pd.isna(chance):
        return False
    span = interval_of(row)
    return span.includes(chance) if span.known else span.mean <= chance


def indistinct_pairs(group: pd.DataFrame) -> list[tuple[str, str]]:
    """The mixers of one task (one run) that Welch's test does not tell
    apart (intervals.distinguishable); a point with one seed is never compared."""
    rows = sorted((r["mixer"], r["seed_values"]) for _, r in group.iterrows() if r["reached"])
    return [
        (a, b)
        for k, (a, first) in enumerate(rows)
        for b, second in rows[k + 1 :]
        if distinguishable(first, second) is False
    ]


def not_distinguishable(acc: pd.DataFrame) -> pd.Series:
    """Per row, the mixers it cannot be told from on its task ('' if none)."""
    named = pd.Series("", index=acc.index, dtype=object)
    for _, group in acc.groupby(["run", "task"], sort=False):
        pairs = indistinct_pairs(group)
        for index, row in group.iterrows():
            others = sorted(
                {b if a == row["mixer"] else a for a, b in pairs if row["mixer"] in (a, b)}
            )
            named[index] = ", ".join(others)
    return named


def task_columns(acc: pd.DataFrame, lra: bool) -> list[str]:
    """The tasks some mixer reached, MQAR's sorted by length and pairs."""
    tasks = acc.loc[acc["reached"], "task"].dropna().unique()
    tasks = [t for t in tasks if str(t).startswith(LRA_PREFIX) == lra]
    first = acc.drop_duplicates("task").set_index("task")

    def key(task: str) -> tuple:
        row = first.loc[task]
        mqar = is_mqar(task)
        length = row["seq_len"] if mqar and pd.notna(row["seq_len"]) else 0
        pairs = row["kv_pairs"] if mqar and pd.notna(row["kv_pairs"]) else 0
        return (not mqar, length, pairs, task)

    return sorted(tasks, key=key)


def tried(acc: pd.DataFrame) -> pd.DataFrame:
    """The points that started training: a skipped one (its data not on disk)
    is listed once, with its reason, under 'Points that did not run'."""
    return acc[acc["status"] != Status.SKIPPED]


def mqar_points(points: pd.DataFrame) -> pd.DataFrame:
    """The MQAR points that reached an accuracy and know their number of pairs."""
    acc = accuracy_frame(points[points["task"].map(is_mqar)])
    return acc[acc["reached"] & acc["kv_pairs"].notna()]

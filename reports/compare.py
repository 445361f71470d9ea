"""Two runs side by side (two machines, or two commits): a ratio per point,
with regressions beyond a threshold flagged.

Points are matched on what was measured (workload, mixer, task, length and
model size), not on the test's name, so runs from different commits still
line up; device and dtype may differ, which is how two machines are compared.
The metrics compared are the schema's shown in compare (schema.METRICS): the
time as a speed-up with its interval, each other as B / A, flagged where it
got worse (by its direction) beyond the threshold.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from schema import FRACTION, NOT_RUN_STATUSES, Metric, Place, Status, metrics_at

from .spread import (
    CONTENDED_MARK,
    NO_RATIO,
    QUARTILES,
    Ratio,
    contention_of,
    point_rounds,
    unpaired_ratio,
    with_spread,
)
from .tables import Table, listed

MATCH_KEYS = ["workload", "mixer", "task", "sweep", "seq_len", "batch", "d_model", "n_layers"]
#: the time every speed-up is of
TIME = "time_s"


def counted_metrics() -> list[Metric]:
    """The metrics compared besides the time: each as B / A."""
    return [m for m in metrics_at(Place.COMPARE) if m.field != TIME]


def change_column(metric: Metric) -> str:
    """memory_change_x: ``metric`` of B over A."""
    return f"{metric.short}_change_x"


def per_point(points: pd.DataFrame) -> pd.DataFrame:
    """One row per matched point of one run: medians of repeats (and of
    their time's interval), the first status, every round pooled."""
    rounds = [list(point_rounds(row)) for row in points.to_dict("records")]
    points = with_spread(points).assign(rounds=rounds)
    grouped = points.groupby(MATCH_KEYS, dropna=False, sort=False)
    fields = [TIME, *(m.field for m in counted_metrics())]
    summary = grouped[[*fields, "time_low_s", "time_high_s"]].median()
    summary["time_spread"] = grouped["time_spread"].first()
    summary["status"] = grouped["status"].first()
    summary["device"] = grouped["device"].first()
    summary["rounds"] = grouped["rounds"].agg(lambda lists: [t for times in lists for t in times])
    summary["contended"] = grouped.apply(lambda rows: bool(contention_of(rows).any()))
    return summary.reset_index()


def speedups(merged: pd.DataFrame) -> pd.DataFrame:
    """time A / time B with a 95% interval: an unpaired bootstrap of the two
    points' rounds (the runs are timed apart), else their quartiles' bounds."""
    found = []
    for _, row in merged.iterrows():
        a, b = (
            np.asarray(row[f"rounds_{side}"] if isinstance(row[f"rounds_{side}"], list) else [])
            for side in ("a", "b")
        )
        ratio = unpaired_ratio(a, b) if len(a) >= 2 and len(b) >= 2 else NO_RATIO
        if not ratio.has_interval and row["time_s_a"] > 0 and row["time_s_b"] > 0:
            ratio = Ratio(row["time_s_a"] / row["time_s_b"])
            ends = [
                row["time_low_s_a"],
                row["time_high_s_a"],
                row["time_low_s_b"],
                row["time_high_s_b"],
            ]
            if all(pd.notna(v) and v > 0 for v in ends):
                ratio = Ratio(ratio.value, ends[0] / ends[3], ends[1] / ends[2], QUARTILES)
        found.append((ratio.value, ratio.low, ratio.high))
    return pd.DataFrame(found, columns=["value", "low", "high"], index=merged.index)


def relative_change(before: float, after: float) -> float:
    return after / before - 1 if before and not math.isnan(before) else math.nan


def flag_point(row: pd.Series, threshold: float) -> tuple[str, bool]:
    """What changed from A to B, and whether it is a regression."""
    status_a, status_b = row["status_a"], row["status_b"]
    if pd.isna(status_b):
        return "only in A", False
    if pd.isna(status_a):
        return "only in B", False
    for side, status in (("A", status_a), ("B", status_b)):
        if status in NOT_RUN_STATUSES:  # nothing ran to compare with
            return f"not run in {side} ({status})", False
    if status_a == "ok" and status_b != "ok":
        return f"regression: now {status_b}", True
    if status_a != "ok" and status_b == "ok":
        return f"fixed: was {status_a}", False
    if status_a != "ok":
        return f"still {status_b}", False
    problems, gains, unsure = [], [], []
    slower = relative_change(row["time_a_s"], row["time_b_s"])
    speedup_cut = 1 / (1 + threshold)
    if slower > threshold:
        found = problems if _interval_below(row, speedup_cut) else unsure
        found.append(f"{100 * slower:.0f}% slower")
    elif slower < -threshold / (1 + threshold):
        found = gains if _interval_above(row, 1 + threshold) else unsure
        found.append(f"{100 * (row['time_a_s'] / row['time_b_s'] - 1):.0f}% faster")
    for metric in counted_metrics():
        change = relative_change(row[metric.column("a")], row[metric.column("b")])
        worse = -metric.better * change  # above 0: B is worse at it
        found = problems if worse > threshold else gains if worse < -threshold else None
        if found is not None:
            found.append(f"{metric.short} {100 * change:+.0f}%")
    if problems:
        return "regression: " + ", ".join(problems + unsure_text(unsure, row)), True
    if unsure:
        return ", ".join(gains + unsure_text(unsure, row)), False
    return (", ".join(gains) if gains else "within threshold"), False


def _interval_below(row: pd.Series, cut: float) -> bool:
    """The speed-up's whole interval lies below ``cut`` (a point without an
    interval is judged on its value, as before intervals were recorded)."""
    high = row.get("speedup_high_x", math.nan)
    return bool(pd.isna(high) or high < cut)


def _interval_above(row: pd.Series, cut: float) -> bool:
    low = row.get("speedup_low_x", math.nan)
    return bool(pd.isna(low) or low > cut)


def unsure_text(changes: list[str], row: pd.Series) -> list[str]:
    """A time change whose speed-up interval reaches the threshold: the noise
    could undo it, so it is named but never flagged."""
    interval = f"{row['speedup_low_x']:.2f}–{row['speedup_high_x']:.2f}×"
    return [f"{change} (inconclusive: speed-up CI {interval})" for change in changes]


COMPARE_FLAG = "regression"


def compare_runs(
    points: pd.DataFrame, run_a: str, run_b: str, threshold: float, name: str = "compare"
) -> Table:
    a = per_point(points[points["run"] == run_a])
    b = per_point(points[points["run"] == run_b])
    merged = a.merge(b, on=MATCH_KEYS, how="outer", suffixes=("_a", "_b"))
    identity = ["workload", "mixer", "task", "sweep", "seq_len", "batch", "d_model"]
    frame = merged[[*identity, "device_a", "device_b"]].copy()
    frame["status_a"], frame["status_b"] = merged["status_a"], merged["status_b"]
    frame["time_a_s"], frame["time_b_s"] = merged["time_s_a"], merged["time_s_b"]
    for side in ("a", "b"):
        frame[f"time_{side}_low_s"] = merged[f"time_low_s_{side}"]
        frame[f"time_{side}_high_s"] = merged[f"time_high_s_{side}"]
        frame[f"time_{side}_spread"] = merged[f"time_spread_{side}"]
    frame["contended"] = merged["contended_a"].fillna(False).astype(bool) | merged[
        "contended_b"
    ].fillna(False).astype(bool)
    if merged.empty:
        frame["speedup_x"] = pd.Series(dtype=float)
        frame["speedup_low_x"] = frame["speedup_high_x"] = pd.Series(dtype=float)
    else:
        ratios = speedups(merged)
        frame["speedup_x"] = merged["time_s_a"] / merged["time_s_b"]
        frame["speedup_low_x"], frame["speedup_high_x"] = ratios["low"], ratios["high"]
    for metric in counted_metrics():
        a, b = merged[f"{metric.field}_a"], merged[f"{metric.field}_b"]
        frame[metric.column("a")], frame[metric.column("b")] = a, b
        frame[change_column(metric)] = b / a
    flags = [flag_point(row, threshold) for _, row in frame.iterrows()]
    frame["change"] = [text for text, _ in flags]
    frame[COMPARE_FLAG] = [bad for _, bad in flags]
    frame = frame.sort_values(
        ["regression", "workload", "mixer", "task", "sweep", "seq_len", "batch", "d_model"],
        ascending=[False, *[True] * 7],
        kind="stable",
    ).reset_index(drop=True)
    counted = counted_metrics()
    changes = "".join(f"{change_column(m)} = {m.label.lower()} B / A; " for m in counted)
    caption = (
        f"A = {run_a}, B = {run_b}. speedup_x = time A / time B (above 1: B is faster); "
        f"{changes}Regressions: B slower, or worse at {listed(counted) or 'nothing else'} "
        f"by more than {100 * threshold:g}%, or a point that ran in A and broke "
        "in B; a time change is a regression only when the speed-up's whole 95% CI is beyond "
        "the threshold, else it is named inconclusive and not flagged. Points are matched on "
        "workload, mixer, task, sweep, length, batch and model size. "
        "In brackets: a time's 95% CI over its rounds ('(IQR …)': q1–q3 for runs without "
        "rounds), and the speed-up's, from an unpaired bootstrap of the two points' rounds "
        f"(else their quartiles); {CONTENDED_MARK}: timed under contention in A or B."
    )
    intervals = {
        "time_a_s": ("time_a_low_s", "time_a_high_s", "time_a_spread"),
        "time_b_s": ("time_b_low_s", "time_b_high_s", "time_b_spread"),
        "speedup_x": ("speedup_low_x", "speedup_high_x", None),
    }
    return Table(
        name, f"{run_a} → {run_b}", caption, frame,
        percent=tuple(m.column(side) for m in counted if m.unit == FRACTION for side in "ab"),
        intervals=intervals, marks={"speedup_x": "contended"},
    )  # fmt: skip


def ran(status: pd.Series) -> pd.Series:
    """The point ran in that run: it is there, neither skipped nor unavailable."""
    return status.notna() & ~status.isin([str(s) for s in NOT_RUN_STATUSES])


def matched(frame: pd.DataFrame) -> pd.Series:
    """Points a comparison checks: they ran in both runs and were measured in
    one of them at least (a point skipped in both, or failed in both, matches
    in name only)."""
    measured = (frame["status_a"] == Status.OK) | (frame["status_b"] == Status.OK)
    return ran(frame["status_a"]) & ran(frame["status_b"]) & measured


def is_comparison(table: Table) -> bool:
    return {"status_a", "status_b", COMPARE_FLAG} <= set(table.frame.columns)


def summary_line(table: Table) -> str:
    frame = table.frame
    both = matched(frame)
    regressions = int(frame[COMPARE_FLAG].sum())
    speedups = frame.loc[both, "speedup_x"].dropna()
    typical = f"; median speed-up {speedups.median():.2f}×" if not speedups.empty else ""
    if not both.any():
        return (
            f"{table.title}: no point matched that ran in both runs and was measured in one; "
            "the runs differ in workload, mixer, sweep, length or model size (batch, d_model, "
            "n_layers), or what matches was skipped, unavailable or broken in both."
        )
    return (
        f"{table.title}: {int(both.sum())} points compared, {regressions} regression"
        f"{'' if regressions == 1 else 's'}{typical}; "
        f"{int((~both).sum())} points not compared (in one run only, not run in one, "
        "or measured in neither)."
    )

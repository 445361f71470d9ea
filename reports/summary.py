"""What the report opens with: per run and workload, who was fastest and who
used least memory at the longest swept value every mixer ran, decode latency
and state size against attention, the claims' verdicts in a few lines, which
backends were not available here (once, with why), and the runs that were
interrupted or passed over."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from schema import SPEED_WORKLOADS, Status, Workload

from . import axes
from .claims import VERDICTS
from .tables import Table, attention_baseline, baseline_among

MEASURES = ["time_s", "peak_mem_bytes", "state_bytes", "latency_per_token_s"]


def common_value(ok: pd.DataFrame) -> float:
    """The longest swept value at which every mixer that ran, ran (NaN: none)."""
    values = [set(group["axis_value"]) for _, group in ok.groupby("mixer")]
    common = set.intersection(*values) if values else set()
    return max(common) if common else math.nan


def ratio(value: float, baseline: float) -> float:
    if pd.isna(value) or pd.isna(baseline) or not baseline:
        return math.nan
    return value / baseline


def best(here: pd.DataFrame, column: str, baseline: str | None) -> tuple[str | None, float, float]:
    """The mixer with the lowest ``column`` here, its value and its ratio to the baseline's."""
    values = here[column].dropna()
    values = values[values > 0]
    if values.empty:
        return None, math.nan, math.nan
    winner = str(values.idxmin())
    theirs = here[column].get(baseline, math.nan) if baseline else math.nan
    return winner, float(values[winner]), ratio(values[winner], theirs)


def at_longest(points: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame, float, str | None]]:
    """Per (run, sweep, workload) of the speed points: the medians per mixer
    at the longest value all of them ran, that value and the baseline."""
    speed = points[points["workload"].isin(SPEED_WORKLOADS) & points["sweep"].notna()]
    found = []
    for key, group in speed.groupby(["run", "sweep", "workload"], sort=True):
        ok = group[group["ok"] & group["axis_value"].notna()]
        if ok.empty:
            continue
        value = common_value(ok)
        here = ok[ok["axis_value"] == value].groupby("mixer")[MEASURES].median()
        found.append((key, here, value, attention_baseline(group)))
    return found


def headline_table(points: pd.DataFrame) -> Table:
    rows = []
    for (run, sweep, workload), here, value, baseline in at_longest(points):
        row = {
            "run": run,
            "workload": workload,
            "at": axes.at(sweep, value) if not math.isnan(value) else "no value all ran",
            "mixers": len(here),
        }
        for column, name in (("time_s", "fastest"), ("peak_mem_bytes", "least_memory")):
            winner, amount, vs = best(here, column, baseline)
            row[name] = winner
            row[f"{name}_{'time_s' if column == 'time_s' else 'bytes'}"] = amount
            row[f"{name}_vs_attention_x"] = vs
        row["baseline"] = baseline or "none ran"
        rows.append(row)
    columns = [
        "run", "workload", "at", "mixers", "fastest", "fastest_time_s",
        "fastest_vs_attention_x", "least_memory", "least_memory_bytes",
        "least_memory_vs_attention_x", "baseline",
    ]  # fmt: skip
    caption = (
        "Per run and workload, at the longest swept value every mixer that ran there ran: the "
        "fastest mixer (median time per call; decode: per token) and the one with the least "
        "peak memory, each as a ratio to the attention baseline (below 1: cheaper)."
    )
    frame = pd.DataFrame(rows, columns=columns)
    return Table("summary", "At the longest common value", caption, frame)


def decode_table(points: pd.DataFrame) -> Table:
    rows = []
    for (run, sweep, workload), here, value, baseline in at_longest(points):
        if workload != Workload.DECODE or math.isnan(value):
            continue
        base = here.loc[baseline] if baseline in here.index else None
        for mixer, measured in here.iterrows():
            rows.append(
                {
                    "run": run,
                    "at": axes.at(sweep, value),
                    "mixer": mixer,
                    "latency_per_token_s": measured["latency_per_token_s"],
                    "latency_vs_attention_x": ratio(
                        measured["latency_per_token_s"],
                        base["latency_per_token_s"] if base is not None else math.nan,
                    ),
                    "state_bytes": measured["state_bytes"],
                    "state_vs_attention_x": ratio(
                        measured["state_bytes"],
                        base["state_bytes"] if base is not None else math.nan,
                    ),
                }
            )
    columns = [
        "run", "at", "mixer", "latency_per_token_s", "latency_vs_attention_x",
        "state_bytes", "state_vs_attention_x",
    ]  # fmt: skip
    caption = (
        "Decoding at the longest context every mixer ran: latency per token and the size of "
        "the decoding state (KV cache for attention), as ratios to the attention baseline."
    )
    return Table("summary_decode", "Decoding", caption, pd.DataFrame(rows, columns=columns))


#: Student's t at 0.975 for 1..30 degrees of freedom (no scipy in a report's install)
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
    2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
    2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_975(df: int) -> float:
    return T_975[df - 1] if df <= len(T_975) else 1.96 + 2.4 / df


def paired_ratio(mine: Sequence[float], theirs: Sequence[float]) -> tuple[float, float, float]:
    """The geometric mean of pass-by-pass ratios and its 95% interval (t on
    the log ratios): passes are paired, so a slow phase of the machine that
    hit both mixers cancels out."""
    pairs = [(a, b) for a, b in zip(mine, theirs, strict=False) if a and b and a > 0 and b > 0]
    if not pairs:
        return math.nan, math.nan, math.nan
    logs = [math.log(a / b) for a, b in pairs]
    mean = sum(logs) / len(logs)
    if len(logs) < 2:
        return math.exp(mean), math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
    half = t_975(len(logs) - 1) * sd / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def interleaved_table(points: pd.DataFrame) -> Table:
    """The suite's interleaved passes: each mixer's time over attention's,
    pass by pass, at the value where they all ran."""
    if "interleaved_s" not in points.columns:
        chosen = points.iloc[0:0]
    else:
        chosen = points[(points["workload"] == Workload.INTERLEAVED) & points["ok"]]
    rows = []
    for _, point in chosen.iterrows():
        passes = point["interleaved_s"]
        if not isinstance(passes, dict):
            continue
        baseline = baseline_among(passes)
        where = axes.at(point["sweep"], point["axis_value"]) if point["sweep"] in axes.AXES else ""
        for mixer, times in sorted(passes.items()):
            times = [t for t in times if isinstance(t, int | float)]
            ratio_x, low_x, high_x = (
                paired_ratio(times, passes[baseline]) if baseline else (math.nan,) * 3
            )
            rows.append(
                {
                    "run": point["run"],
                    "workload": point.get("of_workload"),
                    "at": where,
                    "mixer": mixer,
                    "passes": len(times),
                    "median_time_s": float(pd.Series(times).median()) if times else math.nan,
                    "vs_attention_x": ratio_x,
                    "ci_low_x": low_x,
                    "ci_high_x": high_x,
                }
            )
    columns = [
        "run", "workload", "at", "mixer", "passes", "median_time_s", "vs_attention_x",
        "ci_low_x", "ci_high_x",
    ]  # fmt: skip
    caption = (
        "The mixers timed side by side in alternating passes at the largest value where they "
        "all ran: time over the attention baseline's, the geometric mean of the pass-by-pass "
        "ratios with its 95% interval. An interval that straddles 1.00× does not tell them apart."
    )
    frame = pd.DataFrame(rows, columns=columns)
    return Table("interleaved", "Side by side, interleaved", caption, frame)


def claims_lines(claims: Table) -> list[str]:
    """One line per verdict: which claims, about which mixers."""
    frame = claims.frame
    if frame.empty:
        return ["- No claim of a family in these runs could be checked."]
    counts = frame["verdict"].value_counts()
    lines = [
        "- Claims: "
        + ", ".join(f"{counts.get(verdict, 0)} {verdict}" for verdict in VERDICTS)
        + " (rows of the Claims table)."
    ]
    for verdict in VERDICTS:
        chosen = frame[frame["verdict"] == verdict]
        if chosen.empty:
            continue
        parts = [
            f"{claim} ({', '.join(sorted(set(group['mixer'])))})"
            for claim, group in chosen.groupby("claim", sort=False)
        ]
        lines.append(f"- {verdict.capitalize()}: " + "; ".join(parts) + ".")
    return lines


def unavailable_line(points: pd.DataFrame) -> str:
    """The backends that could not run on this machine, once each with why."""
    missing = points[points["status"] == Status.UNAVAILABLE]
    if missing.empty:
        return ""
    reasons = missing.groupby(missing["reason"].fillna("no reason recorded"), sort=True)
    parts = [
        f"{', '.join(sorted(set(group['mixer'].dropna())))} ({reason})" for reason, group in reasons
    ]
    return "- Not available here, so in no table or figure: " + "; ".join(parts) + "."


def partial_lines(points: pd.DataFrame) -> list[str]:
    partial = sorted(points.loc[points["run_partial"].astype(bool), "run"].unique())
    return [
        f"- {run} was interrupted before its end: its tables and figures lack the points it "
        "did not reach, and its claims may be inconclusive for that."
        for run in partial
    ]


def contention_line(points: pd.DataFrame) -> str:
    """Points the suite timed while the machine was busy, once per run."""
    if "contended" not in points.columns:
        return ""
    busy = points[points["contended"].fillna(False).astype(bool)]
    if busy.empty:
        return ""
    parts = [
        f"{run}: {len(group)} ({', '.join(sorted(set(group['mixer'].dropna())))})"
        for run, group in busy.groupby("run", sort=True)
    ]
    return (
        "- Timed while the machine was busy (the suite's contention probe above its threshold; "
        "read those times with care, column 'contended' of points.csv): " + "; ".join(parts) + "."
    )


def summary_blocks(
    points: pd.DataFrame, claims: Table, run_notes: Sequence[str]
) -> list[str | Table]:
    lines = [f"- {note[0].upper()}{note[1:]}." for note in run_notes]
    lines += partial_lines(points)
    lines += [line for line in (unavailable_line(points), contention_line(points)) if line]
    blocks: list[str | Table] = []
    if lines:
        blocks.append("\n".join(lines))
    headline = headline_table(points)
    if not headline.frame.empty:
        blocks.append(headline)
    for table in (decode_table(points), interleaved_table(points)):
        if not table.frame.empty:
            blocks.append(table)
    blocks.append("\n".join(claims_lines(claims)))
    return blocks

"""Tables an architecture decision is made from, as numeric DataFrames.

Values keep their units (in the column names: ``_bytes``, ``_s``, ``_per_s``,
``_x`` for a ratio); render.py formats them. Every table keeps the points that
did not run, with their status, rather than dropping them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schema import DEFAULT_AXIS, LRA_PREFIX, NOT_RUN_STATUSES, SPEED_WORKLOADS, Status, Workload

from . import axes
from .fits import FitRange, fit_caption, fit_series

BASELINE_PREFERENCE = ("attention/sdpa", "attention/math")


@dataclass(frozen=True)
class Table:
    name: str  # file stem of the CSV
    title: str
    caption: str
    frame: pd.DataFrame
    #: fractions shown as percent
    percent: tuple[str, ...] = ()
    #: what an empty table means
    empty: str = "Not measured in the selected runs."


# -- baselines ------------------------------------------------------------------


def attention_baseline(points: pd.DataFrame) -> str | None:
    """attention/sdpa, else attention/math, else any attention variant that ran."""
    return baseline_among(points.loc[points["ok"], "mixer"].dropna())


def baseline_among(mixers: Iterable[str]) -> str | None:
    """The attention variant ratios are taken to, among ``mixers``."""
    ran = set(mixers)
    attention = sorted(m for m in ran if str(m).startswith("attention/"))
    preferred = [m for m in BASELINE_PREFERENCE if m in ran]
    return (preferred or attention or [None])[0]


def ratio_to_baseline(frame: pd.DataFrame, baseline: str | None, column: str) -> pd.Series:
    """Each row's value over the baseline's at the same run, sweep and swept value."""
    if baseline is None:
        return pd.Series(math.nan, index=frame.index)
    keys = ["run", "sweep", "axis_value"]
    base = frame[(frame["mixer"] == baseline) & frame["ok"]].groupby(keys)[column]
    reference = base.median()
    index = pd.MultiIndex.from_frame(frame[keys])
    return pd.Series(frame[column].to_numpy() / reference.reindex(index).to_numpy(), frame.index)


def baselines_caption(baselines: dict[str, str | None], axis: str) -> str:
    if not baselines:
        return ""
    parts = [f"{run}: {name or 'no attention variant ran'}" for run, name in baselines.items()]
    return (
        f"Ratios are to the attention baseline at the same {axes.words(axis)} ("
        + "; ".join(parts)
        + ")."
    )


def held_caption(points: pd.DataFrame, axis: str) -> str:
    held = axes.fixed_text(points, axis)
    return f" Held fixed: {held}." if held else ""


def ran_or_broke(points: pd.DataFrame) -> pd.DataFrame:
    """Points that were attempted: the backends that are not available here
    (or were skipped) get one line in the summary, not a row in every table."""
    return points[~points["status"].isin(NOT_RUN_STATUSES)]


# -- the tables -----------------------------------------------------------------


def mean_of_all(scores: list[float]) -> float:
    """The LRA convention: an average only over a full row, else N/A."""
    return float(np.mean(scores)) if scores and not any(map(math.isnan, scores)) else math.nan


def accuracy_table(points: pd.DataFrame) -> Table:
    acc = points[points["workload"] == Workload.ACCURACY].copy()
    never_tried = acc.groupby(["run", "mixer"])["status"].transform(
        lambda statuses: (statuses == Status.UNAVAILABLE).all()
    )
    acc = acc[~never_tried.astype(bool)]  # a backend not available here: the summary says so
    # a run stopped by its time budget still measured the accuracy it reached
    acc["reached"] = acc["ok"] | ((acc["status"] == "timeout") & acc["accuracy"].notna())
    tasks = sorted(acc.loc[acc["reached"], "task"].dropna().unique())
    never_ran = sorted(set(acc["task"].dropna()) - set(tasks))
    # The release's LRA tasks get an average of their own, as in the LRA paper.
    lra = [t for t in tasks if str(t).startswith(LRA_PREFIX)]
    averages = ["average", "lra_average"] if lra else ["average"]
    rows = []
    for (run, mixer), group in acc.groupby(["run", "mixer"], sort=True):
        by_task = group[group["reached"]].groupby("task")["accuracy"].max()
        row = {"run": run, "mixer": mixer}
        row.update({task: by_task.get(task, math.nan) for task in tasks})
        row["average"] = mean_of_all([row[task] for task in tasks])
        if lra:
            row["lra_average"] = mean_of_all([row[task] for task in lra])
        row["tasks_run"] = f"{by_task.reindex(tasks).notna().sum()}/{len(tasks)}"
        broke = group[~group["ok"] & group["task"].isin(tasks)]
        row["not_ok"] = "; ".join(
            f"{t}: {s}" for t, s in zip(broke["task"], broke["status"], strict=True)
        )
        rows.append(row)
    columns = ["run", "mixer", *tasks, *averages, "tasks_run", "not_ok"]
    caption = (
        "Test accuracy (percent) per task, LRA style. A run stopped by its time budget shows "
        "the accuracy it reached and 'timeout' in the last column; N/A: not run or broke. An "
        "average is over every task of the table (lra_average: the LRA release's tasks), N/A "
        "unless all of them have a figure."
    )
    if never_ran:
        caption += (
            f" Not run for any mixer (see 'Points that did not run'): {', '.join(never_ran)}."
        )
    frame = pd.DataFrame(rows, columns=columns)
    return Table("accuracy", "Accuracy per task", caption, frame, percent=(*tasks, *averages))


def inference_cost_table(points: pd.DataFrame, axis: str = DEFAULT_AXIS) -> Table:
    decode = ran_or_broke(axes.on_axis(points[points["workload"] == Workload.DECODE], axis))
    column = axes.key(axis)
    baselines = {run: attention_baseline(group) for run, group in decode.groupby("run")}
    parts = []
    for run, group in decode.groupby("run"):
        baseline = baselines[run]
        part = group[["run", column, "mixer", "status"]].copy()
        for measure, ratio in (
            ("peak_mem_bytes", "memory_vs_attention_x"),
            ("state_bytes", "state_vs_attention_x"),
            ("tokens_per_s", "tokens_per_s_vs_attention_x"),
            ("latency_per_token_s", "latency_vs_attention_x"),
        ):
            part[measure] = group[measure]
            part[ratio] = ratio_to_baseline(group, baseline, measure)
        parts.append(part)
    frame = concat_sorted(parts, ["run", column, "mixer"])
    what = "a context of seq_len tokens" if column == "seq_len" else f"each {column}"
    caption = (
        f"Decoding one token at a time after {what}: peak memory, state/KV-cache bytes, "
        "throughput and latency per token. "
        + baselines_caption(baselines, axis)
        + held_caption(decode, axis)
    )
    title = f"Inference cost by {'context length' if column == 'seq_len' else axes.words(axis)}"
    return Table(axes.suffixed("inference_cost", axis), title, caption, frame)


def training_values(group: pd.DataFrame, baseline: str | None) -> list[float]:
    """The longest swept value where the baseline ran (every ratio defined)
    and the longest value anything ran, where these differ."""
    ran = group[group["ok"]]
    if ran.empty:
        return []
    longest = float(ran["axis_value"].max())
    base = ran[ran["mixer"] == baseline]["axis_value"]
    return sorted({float(base.max()), longest}) if not base.empty else [longest]


def training_cost_table(points: pd.DataFrame, axis: str = DEFAULT_AXIS) -> Table:
    train = ran_or_broke(axes.on_axis(points[points["workload"] == Workload.TRAIN_STEP], axis))
    column = axes.key(axis)
    baselines = {run: attention_baseline(group) for run, group in train.groupby("run")}
    parts = []
    for run, group in train.groupby("run"):
        at = group[group["axis_value"].isin(training_values(group, baselines[run]))]
        part = at[["run", column, "mixer", "status", "time_s"]].copy()
        for measure, ratio in (
            ("peak_mem_bytes", "memory_vs_attention_x"),
            ("tokens_per_s", "tokens_per_s_vs_attention_x"),
        ):
            part[measure] = at[measure]
            part[ratio] = ratio_to_baseline(at, baselines[run], measure)
        parts.append(part)
    frame = concat_sorted(parts, ["run", column, "mixer"])
    words = axes.words(axis)
    caption = (
        f"One training step (forward and backward) at the largest {words} where the attention "
        f"baseline ran, and at the largest {words} any mixer ran where that is larger. "
        + baselines_caption(baselines, axis)
        + held_caption(train, axis)
    )
    title = "Training cost at the " + (
        "longest lengths" if column == "seq_len" else f"largest {words}"
    )
    return Table(axes.suffixed("training_cost", axis), title, caption, frame)


SCALING_COLUMNS = [
    "run",
    "workload",
    "mixer",
    "time_slope",
    "time_r2",
    "memory_slope",
    "memory_r2",
    "fit_lengths",
]


def scaling_table(points: pd.DataFrame, fit: FitRange, axis: str = DEFAULT_AXIS) -> Table:
    speed = axes.on_axis(points[points["workload"].isin(SPEED_WORKLOADS)], axis)
    rows = []
    for (run, workload, mixer), group in speed.groupby(["run", "workload", "mixer"]):
        time_fit = fit_series(group, "time_s", fit)
        memory_fit = fit_series(group, "peak_mem_bytes", fit)
        rows.append(
            {
                "run": run,
                "workload": workload,
                "mixer": mixer,
                "time_slope": time_fit.slope,
                "time_r2": time_fit.r2,
                "memory_slope": memory_fit.slope,
                "memory_r2": memory_fit.r2,
                "fit_lengths": time_fit.span or memory_fit.span,
            }
        )
    columns = [*SCALING_COLUMNS]
    if axis != DEFAULT_AXIS:
        columns[-1] = f"fit_{axes.key(axis)}"
        rows = [{**r, columns[-1]: r.pop("fit_lengths")} for r in rows]
    frame = pd.DataFrame(rows, columns=columns)
    x = axes.key(axis)
    caption = (
        f"Exponent k of time ∝ {x}^k and of peak memory ∝ {x}^k (slope in log–log) along "
        f"the {axes.label(axis)}, {fit_caption(fit)}, with the fit's R². 1 is linear, 2 "
        "quadratic; N/A: fewer than two successful values or nothing measured. Decode time is "
        "per token." + held_caption(speed, axis)
    )
    title = "Scaling exponents" + ("" if axis == DEFAULT_AXIS else f" along {axes.words(axis)}")
    return Table(axes.suffixed("scaling", axis), title, caption, frame)


def concat_sorted(parts: list[pd.DataFrame], by: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts).sort_values(by, kind="stable").reset_index(drop=True)

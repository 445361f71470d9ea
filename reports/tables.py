"""Tables an architecture decision is made from, as numeric DataFrames.

Values keep their units (in the column names: ``_bytes``, ``_s``, ``_per_s``,
``_x`` for a ratio); render.py formats them. Every table keeps the points that
did not run, with their status, rather than dropping them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schema import LRA_PREFIX, SPEED_WORKLOADS

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


# -- baselines ------------------------------------------------------------------


def attention_baseline(points: pd.DataFrame) -> str | None:
    """attention/sdpa, else attention/math, else any attention variant that ran."""
    ran = set(points.loc[points["ok"], "mixer"].dropna())
    attention = sorted(m for m in ran if str(m).startswith("attention/"))
    preferred = [m for m in BASELINE_PREFERENCE if m in ran]
    return (preferred or attention or [None])[0]


def ratio_to_baseline(frame: pd.DataFrame, baseline: str | None, column: str) -> pd.Series:
    """Each row's value over the baseline's at the same run and length."""
    if baseline is None:
        return pd.Series(math.nan, index=frame.index)
    base = frame[(frame["mixer"] == baseline) & frame["ok"]].groupby(["run", "seq_len"])[column]
    reference = base.median()
    keys = pd.MultiIndex.from_frame(frame[["run", "seq_len"]])
    return pd.Series(frame[column].to_numpy() / reference.reindex(keys).to_numpy(), frame.index)


def baselines_caption(baselines: dict[str, str | None]) -> str:
    if not baselines:
        return ""
    parts = [f"{run}: {name or 'no attention variant ran'}" for run, name in baselines.items()]
    return "Ratios are to the attention baseline at the same length (" + "; ".join(parts) + ")."


# -- the tables -----------------------------------------------------------------


def mean_of_all(scores: list[float]) -> float:
    """The LRA convention: an average only over a full row, else N/A."""
    return float(np.mean(scores)) if scores and not any(map(math.isnan, scores)) else math.nan


def accuracy_table(points: pd.DataFrame) -> Table:
    acc = points[points["workload"] == "accuracy"].copy()
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


def inference_cost_table(points: pd.DataFrame) -> Table:
    decode = points[points["workload"] == "decode"]
    baselines = {run: attention_baseline(group) for run, group in decode.groupby("run")}
    parts = []
    for run, group in decode.groupby("run"):
        baseline = baselines[run]
        part = group[["run", "seq_len", "mixer", "status"]].copy()
        for column, ratio in (
            ("peak_mem_bytes", "memory_vs_attention_x"),
            ("state_bytes", "state_vs_attention_x"),
            ("tokens_per_s", "tokens_per_s_vs_attention_x"),
            ("latency_per_token_s", "latency_vs_attention_x"),
        ):
            part[column] = group[column]
            part[ratio] = ratio_to_baseline(group, baseline, column)
        parts.append(part)
    frame = concat_sorted(parts, ["run", "seq_len", "mixer"])
    caption = (
        "Decoding one token at a time after a context of seq_len tokens: peak memory, "
        "state/KV-cache bytes, throughput and latency per token. " + baselines_caption(baselines)
    )
    return Table("inference_cost", "Inference cost by context length", caption, frame)


def training_lengths(group: pd.DataFrame, baseline: str | None) -> list[int]:
    """The longest length where the baseline ran (every ratio defined) and the
    longest length anything ran, where these differ."""
    ran = group[group["ok"]]
    if ran.empty:
        return []
    longest = int(ran["seq_len"].max())
    base = ran[ran["mixer"] == baseline]["seq_len"]
    return sorted({int(base.max()), longest}) if not base.empty else [longest]


def training_cost_table(points: pd.DataFrame) -> Table:
    train = points[points["workload"] == "train_step"]
    baselines = {run: attention_baseline(group) for run, group in train.groupby("run")}
    parts = []
    for run, group in train.groupby("run"):
        at = group[group["seq_len"].isin(training_lengths(group, baselines[run]))]
        part = at[["run", "seq_len", "mixer", "status", "time_s"]].copy()
        for column, ratio in (
            ("peak_mem_bytes", "memory_vs_attention_x"),
            ("tokens_per_s", "tokens_per_s_vs_attention_x"),
        ):
            part[column] = at[column]
            part[ratio] = ratio_to_baseline(at, baselines[run], column)
        parts.append(part)
    frame = concat_sorted(parts, ["run", "seq_len", "mixer"])
    caption = (
        "One training step (forward and backward) at the longest length where the attention "
        "baseline ran, and at the longest length any mixer ran where that is longer. "
        + baselines_caption(baselines)
    )
    return Table("training_cost", "Training cost at the longest lengths", caption, frame)


def scaling_table(points: pd.DataFrame, fit: FitRange) -> Table:
    speed = points[points["workload"].isin(SPEED_WORKLOADS)]
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
    frame = pd.DataFrame(
        rows,
        columns=[
            "run",
            "workload",
            "mixer",
            "time_slope",
            "time_r2",
            "memory_slope",
            "memory_r2",
            "fit_lengths",
        ],
    )
    caption = (
        "Exponent k of time ∝ length^k and of peak memory ∝ length^k (slope in log–log), "
        f"{fit_caption(fit)}, with the fit's R². 1 is linear, 2 quadratic; N/A: fewer than "
        "two successful lengths or nothing measured. Decode time is per token."
    )
    return Table("scaling", "Scaling exponents", caption, frame)


def concat_sorted(parts: list[pd.DataFrame], by: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts).sort_values(by, kind="stable").reset_index(drop=True)

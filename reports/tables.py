"""Tables an architecture decision is made from, as numeric DataFrames.

Values keep their units (in the column names: ``_bytes``, ``_s``, ``_per_s``,
``_x`` for a ratio); render.py formats them. The cost tables' columns are the
schema's metrics shown in tables for their workload (schema.METRICS). Every
table keeps the points that did not run, with their status, rather than
dropping them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

import schema
from schema import (
    DEFAULT_AXIS,
    NOT_RUN_STATUSES,
    SPEED_WORKLOADS,
    TIMED,
    Metric,
    Place,
    Workload,
    metrics_at,
)

from . import axes
from .fits import FitRange, fit_caption, fit_series
from .spread import (
    CONTENDED_MARK,
    bounds,
    contention_of,
    contention_text,
    interleaved_passes,
    ratio_columns,
    with_spread,
)

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
    #: value column -> (low column, high column, kind column or None): the pages
    #: show "value [low, high]" in one cell (kind "iqr": "(IQR low–high)"); the
    #: CSV keeps every column
    intervals: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    #: value column -> boolean column: the pages put spread.CONTENDED_MARK after
    #: the value where it is true (a point timed under contention)
    marks: dict[str, str] = field(default_factory=dict)

    @property
    def helper_columns(self) -> set[str]:
        """Columns the pages fold into another column's cell."""
        folded = {c for low, high, kind in self.intervals.values() for c in (low, high, kind)}
        return {c for c in folded | set(self.marks.values()) if c}

    def headers(self, columns: Iterable[str]) -> list[str]:
        """What the pages show atop ``columns`` (the CSV keeps the field
        names); a header two columns would share is left as the field name."""
        columns = [str(c) for c in columns]
        found = [header(c, c in self.percent) for c in columns]
        return [h if found.count(h) == 1 else c for h, c in zip(found, columns, strict=True)]


# -- headers a person reads -----------------------------------------------------

#: the columns that are not metrics, by what a reader calls them; a column
#: named by the data (a task, a run label) is shown as it is
HEADERS = {
    "run": "Run", "workload": "Workload", "at": "At", "mixers": "Mixers", "mixer": "Mixer",
    "status": "Status", "baseline": "Baseline", "ratios_from": "Ratio from",
    "seq_len": "Length (tokens)", "batch": "Batch", "d_model": "Width (d_model)",
    "task": "Task", "file": "File", "profile": "Profile", "sweeps": "Sweeps",
    "partial": "Interrupted", "commit": "Commit", "dirty": "Uncommitted changes",
    "date": "Date", "cpu": "CPU", "gpu": "GPU", "devices": "Devices", "dtypes": "Dtypes",
    "torch": "torch", "cuda": "CUDA", "threads": "Threads", "points_ok": "Points that ran",
    "points_not_ok": "Points that did not", "reason": "Reason", "points": "Points",
    "covers": "Which points", "claim": "Claim", "family": "Family", "measured": "Measured",
    "criterion": "Criterion", "verdict": "Verdict", "passes": "Passes",
    "median_time_s": "Median time per call", "vs_baseline_x": "× baseline",
    "time_slope": "Time exponent", "time_interval": "Time exponent from",
    "time_r2": "Time fit R²", "memory_slope": "Memory exponent", "memory_r2": "Memory fit R²",
    "contended": "Timed under contention", "fit_lengths": "Lengths fitted",
    "ci95_half": "± 95% CI", "seeds": "Seeds", "mark": "Mark", "chance_accuracy": "Chance",
    "not_distinguishable_from": "Not distinguishable from", "params": "Parameters",
    "params_target": "Attention's parameters", "params_vs_target": "Parameters vs attention's",
    "tokens_seen": "Training tokens", "lr": "Learning rate",
    "lr_grid_val": "Validation accuracy per learning rate", "val_accuracy": "Validation accuracy",
    "step_s": "Time per training step", "average": "Average", "tasks_run": "Tasks run",
    "not_ok": "Did not finish", "source": "Source", "average_of": "Average over",
    "matmul_peak_flops_per_s": "Matmul peak (FLOP/s)", "of_peak_x": "× matmul peak",
    "speedup_x": "Speed-up of B over A (×)", "change": "Change", "regression": "Regression",
    "device_a": "Device A", "device_b": "Device B", "status_a": "Status A", "status_b": "Status B",
    "time_a_s": "Time per call A", "time_b_s": "Time per call B", "dtype": "Dtype",
    "device": "Device", "flops": "FLOPs (analytic)", "shard": "Shard", "node": "Node",
    # a table shown on its side (render.shown): a row per column, its header first
    "field": "", "value": "Value",
}  # fmt: skip


def metric_header(metric: Metric, percent: bool = False) -> str:
    """'Peak memory', 'Throughput (tokens/s)': a cell shows its own scaled unit
    (45.8 MiB, 60 ms), so the header names the unit only where the cell's
    symbol does not say it all (k/s of what)."""
    if percent:
        return f"{metric.label} (%)"
    unit = metric.unit
    if unit.symbol == unit.name or unit.name in metric.label or not unit.symbol:
        return metric.label
    return f"{metric.label} ({unit.name})"


def derived_headers() -> dict[str, str]:
    """The headers of the columns made from a metric: its ratio to attention
    (memory_vs_attention_x: 'Peak memory × attention'), the summary's best
    mixer at it and that mixer's value and ratio (fastest, fastest_s,
    fastest_vs_attention_x), a comparison's A and B (memory_a_bytes)."""
    found = {}
    for metric in schema.METRICS:  # read when called: a metric added to the table is headed too
        label = metric_header(metric)
        found[metric.field] = label
        found[vs_attention(metric)] = f"{metric.label} × attention"
        for part in ("a", "b"):
            found[metric.column(part)] = f"{label} {part.upper()}"
        found[f"{metric.short}_change_x"] = f"{metric.label} B / A (×)"
        if metric.best:
            word = metric.best.replace("_", " ")
            found[metric.best] = word[0].upper() + word[1:]
            found[metric.best + metric.unit.suffix] = label
            found[f"{metric.best}_vs_attention_x"] = f"{metric.label} × attention"
    return found


def header(column: str, percent: bool = False) -> str:
    """What a person reads atop ``column``: the metric's label (schema.METRICS)
    for a metric and the columns made from it, HEADERS' word for the others,
    and ``column`` itself where it is a name from the data (a task)."""
    if column in schema.METRICS_BY_FIELD:
        return metric_header(schema.METRICS_BY_FIELD[column], percent)
    found = HEADERS[column] if column in HEADERS else derived_headers().get(column, column)
    return f"{found} (%)" if percent and found not in (column, "") else found


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


SPREAD_KIND = "time_spread"
RATIOS_FROM = "ratios_from"
SPREAD_CAPTION = (
    "In brackets: a 95% CI of the median over the timed rounds ('(IQR …)': q1–q3, for a run "
    f"that saved no rounds); {CONTENDED_MARK}: timed under contention."
)
RATIO_CAPTION = (
    " A time or throughput ratio's 95% interval comes from the interleaved passes or the two "
    "points' rounds (column 'Ratio from'); bytes are counted, without interval."
)
#: the whole story, once, in the summary
READING = (
    "- How to read the numbers: a time is the median seconds per call over the point's timed "
    "rounds; in brackets, a bootstrap 95% CI of that median (the rounds resampled 2000 "
    "times), or '(IQR q1–q3)' for a run that saved no rounds. With one torch thread on a "
    "CPU a round's seconds are the timing thread's CPU seconds, which that thread spent "
    "running the call's ops, all of them: behind other work a thread waits for a core in "
    "runs of rounds, and wall seconds would time the load (points.csv keeps the wall "
    f"median, wall_time_s). {CONTENDED_MARK} marks a point timed while the suite's contention "
    "probe saw the machine busy, or whose thread waited for a core in most of its rounds.\n"
    "- A ratio between two mixers' times (or throughputs) has a 95% interval too. Column "
    "'Ratio from' says whence: 'interleaved' (the suite called the mixers in turn, pass by "
    "pass, at that value: the median of the pass-by-pass ratios, bootstrapped, so that a "
    "slow phase of the machine cancels out), 'rounds' (an unpaired bootstrap of the two "
    "points' rounds), 'q1-q3' (the two points' quartiles, for runs without rounds), 'none'. "
    "An interval that straddles 1.00× does not tell the two apart.\n"
    "- Slopes carry a 95% interval (decode: over passes that alternated the context lengths; "
    "else a bootstrap over the rounds, else the regression's), and a claim is "
    "'inconclusive' where its interval straddles the criterion.\n"
    "- Tables are headed in words (the schema's labels: 'Peak memory', 'Time per call × "
    "attention'), each cell in its own unit (45.8 MiB, 60 ms, 0.25×). Their CSV files and "
    "points.csv are for machines: they keep the field names (peak_mem_bytes, "
    "time_vs_attention_x) and plain numbers in the field's unit (bytes, seconds)."
)


def ratio_names(name: str) -> tuple[str, str]:
    """The interval columns of a ratio column: memory_vs_attention_x ->
    memory_vs_attention_low_x, memory_vs_attention_high_x."""
    stem = name.removesuffix("_x")
    return f"{stem}_low_x", f"{stem}_high_x"


def vs_attention(metric: Metric) -> str:
    """The column of ``metric``'s ratio to the attention baseline: memory_vs_attention_x."""
    return f"{metric.short}_vs_attention_x"


def listed(metrics: Iterable[Metric]) -> str:
    """'peak memory, state / KV cache and throughput'."""
    labels = [m.label[0].lower() + m.label[1:] for m in metrics]
    return " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)


def add_measure(part: pd.DataFrame, rows: pd.DataFrame, metric: Metric, intervals: dict) -> None:
    """``metric`` of ``rows`` into ``part``, with its interval where it is
    timed (a time or a rate: its low and high columns, metric.column)."""
    part[metric.field] = rows[metric.field]
    if metric.timing:
        low, high = metric.column("low"), metric.column("high")
        part[low], part[high] = bounds(rows, metric.field)
        part[SPREAD_KIND] = with_spread(rows)["time_spread"]
        intervals[metric.field] = (low, high, SPREAD_KIND)


def add_ratio(
    part: pd.DataFrame,
    rows: pd.DataFrame,
    baseline: str | None,
    metric: Metric,
    workload: str,
    passes: dict,
    intervals: dict,
) -> None:
    """The ratio of ``metric`` to the baseline's, with its interval and
    source where ``metric`` is timed."""
    name = vs_attention(metric)
    if not metric.timing:
        part[name] = ratio_to_baseline(rows, baseline, metric.field)
        return
    ratios = ratio_columns(rows, baseline, metric.field, passes, workload)
    low, high = ratio_names(name)
    part[name], part[low], part[high] = ratios["value"], ratios["low"], ratios["high"]
    part[RATIOS_FROM] = ratios["source"].where(part[name].notna())
    intervals[name] = (low, high, None)


def add_metrics(
    part: pd.DataFrame,
    rows: pd.DataFrame,
    baseline: str | None,
    workload: Workload,
    passes: dict,
    intervals: dict,
) -> None:
    """Every metric shown in ``workload``'s cost table, each with its ratio
    to the baseline; whether the point was timed under contention."""
    for metric in measured_at(workload, rows):
        add_measure(part, rows, metric, intervals)
        add_ratio(part, rows, baseline, metric, workload, passes, intervals)
    part["contended"] = contention_of(rows)


def measured_at(workload: Workload, rows: pd.DataFrame) -> tuple[Metric, ...]:
    """The metrics of ``workload``'s cost table that ``rows`` measured: a CPU
    run saves no CUDA memory figures, and an empty column would read as a gap."""
    return tuple(
        m
        for m in metrics_at(Place.TABLES, workload)
        if not m.saved or (m.field in rows and rows[m.field].notna().any())
    )


def contention_marks(workload: Workload) -> dict[str, str]:
    """The contended mark goes after the table's first time."""
    timed = [m.field for m in metrics_at(Place.TABLES, workload) if m.timing == TIMED]
    return {timed[0]: "contended"} if timed else {}


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """ratios_from after every other shown column."""
    if RATIOS_FROM not in frame.columns:
        return frame
    return frame[[c for c in frame.columns if c != RATIOS_FROM] + [RATIOS_FROM]]


def inference_cost_table(points: pd.DataFrame, axis: str = DEFAULT_AXIS) -> Table:
    decode = ran_or_broke(axes.on_axis(points[points["workload"] == Workload.DECODE], axis))
    decode = with_spread(decode)
    passes = interleaved_passes(points)
    column = axes.key(axis)
    baselines = {run: attention_baseline(group) for run, group in decode.groupby("run")}
    parts, intervals = [], {}
    for run, group in decode.groupby("run"):
        baseline = baselines[run]
        part = group[["run", column, "mixer", "status"]].copy()
        add_metrics(part, group, baseline, Workload.DECODE, passes, intervals)
        parts.append(ordered(part))
    frame = concat_sorted(parts, ["run", column, "mixer"])
    what = "a context of seq_len tokens" if column == "seq_len" else f"each {column}"
    caption = (
        f"Decoding one token at a time after {what}: "
        + listed(measured_at(Workload.DECODE, decode))
        + ". "
        + baselines_caption(baselines, axis)
        + " "
        + SPREAD_CAPTION
        + RATIO_CAPTION
        + held_caption(decode, axis)
    )
    title = f"Inference cost by {'context length' if column == 'seq_len' else axes.words(axis)}"
    return Table(
        axes.suffixed("inference_cost", axis), title, caption, frame,
        intervals=intervals, marks=contention_marks(Workload.DECODE),
    )  # fmt: skip


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
    train = with_spread(train)
    passes = interleaved_passes(points)
    column = axes.key(axis)
    baselines = {run: attention_baseline(group) for run, group in train.groupby("run")}
    parts, intervals = [], {}
    for run, group in train.groupby("run"):
        at = group[group["axis_value"].isin(training_values(group, baselines[run]))]
        part = at[["run", column, "mixer", "status"]].copy()
        add_metrics(part, at, baselines[run], Workload.TRAIN_STEP, passes, intervals)
        parts.append(ordered(part))
    frame = concat_sorted(parts, ["run", column, "mixer"])
    words = axes.words(axis)
    caption = (
        f"One training step (forward and backward) at the largest {words} where the attention "
        f"baseline ran, and at the largest {words} any mixer ran where that is larger: "
        + listed(measured_at(Workload.TRAIN_STEP, train))
        + ". "
        + baselines_caption(baselines, axis)
        + " "
        + SPREAD_CAPTION
        + RATIO_CAPTION
        + held_caption(train, axis)
    )
    title = "Training cost at the " + (
        "longest lengths" if column == "seq_len" else f"largest {words}"
    )
    return Table(
        axes.suffixed("training_cost", axis), title, caption, frame,
        intervals=intervals, marks=contention_marks(Workload.TRAIN_STEP),
    )  # fmt: skip


SCALING_COLUMNS = [
    "run", "workload", "mixer", "time_slope", "time_slope_low", "time_slope_high",
    "time_interval", "time_r2", "memory_slope", "memory_slope_low", "memory_slope_high",
    "memory_r2", "contended", "fit_lengths",
]  # fmt: skip
SLOPE_INTERVALS = {
    "time_slope": ("time_slope_low", "time_slope_high", None),
    "memory_slope": ("memory_slope_low", "memory_slope_high", None),
}


def scaling_table(points: pd.DataFrame, fit: FitRange, axis: str = DEFAULT_AXIS) -> Table:
    speed = ran_or_broke(axes.on_axis(points[points["workload"].isin(SPEED_WORKLOADS)], axis))
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
                "time_slope_low": time_fit.low,
                "time_slope_high": time_fit.high,
                "time_interval": time_fit.interval if time_fit.n > 1 else None,
                "time_r2": time_fit.r2,
                "memory_slope": memory_fit.slope,
                "memory_slope_low": memory_fit.low,
                "memory_slope_high": memory_fit.high,
                "memory_r2": memory_fit.r2,
                "contended": contention_text(group[group["ok"]], with_mixer=False),
                "fit_lengths": time_fit.span or memory_fit.span,
            }
        )
    columns = [*SCALING_COLUMNS]
    if not any(r["contended"] for r in rows):
        columns.remove("contended")
        rows = [{k: v for k, v in r.items() if k != "contended"} for r in rows]
    if axis != DEFAULT_AXIS:
        columns[-1] = f"fit_{axes.key(axis)}"
        rows = [{**r, columns[-1]: r.pop("fit_lengths")} for r in rows]
    frame = pd.DataFrame(rows, columns=columns)
    x = axes.key(axis)
    caption = (
        f"Exponent k of time ∝ {x}^k and of peak memory ∝ {x}^k (slope in log–log) along "
        f"the {axes.label(axis)}, {fit_caption(fit)}, with the fit's R². 1 is linear, 2 "
        "quadratic; N/A: fewer than two successful values or nothing measured. Decode time is "
        "per token. In brackets, the slope's 95% interval; 'Time exponent from' says how it "
        "was "
        "found: 'interleaved passes' (the suite alternated the mixer's values pass by pass, "
        "test_interleaved_values: the slope is the median of the passes' slopes, its interval "
        "a bootstrap of that median), 'bootstrap' (each value's rounds resampled, their median "
        "refitted), 'standard "
        "error' (the regression's, for runs without rounds; three values or more) or 'none' "
        "(two values without rounds). Memory is counted: its interval is the regression's, "
        "exact over two values. 'Timed under contention': the points of the fit timed so."
        + held_caption(speed, axis)
    )
    title = "Scaling exponents" + ("" if axis == DEFAULT_AXIS else f" along {axes.words(axis)}")
    return Table(
        axes.suffixed("scaling", axis), title, caption, frame, intervals=dict(SLOPE_INTERVALS)
    )


def concat_sorted(parts: list[pd.DataFrame], by: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts).sort_values(by, kind="stable").reset_index(drop=True)

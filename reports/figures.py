"""Seaborn figures: each metric the schema shows in figures (schema.METRICS,
one figure each, made by looping over the table) against the swept axis (one
figure per sweep: length, batch or d_model), one line per mixer variant, one
row of panels per run so that machines, devices and sweeps never blend.

Points that broke (oom, timeout, failed, diverged) are drawn as markers at the
swept value where they broke, on the axis edge where the metric is worse, with
a legend entry, never dropped; points that never ran (skipped, failed their
reference check, or an invalid record) are named in the caption, each reason
once; backends not available here are the summary's one line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib

matplotlib.use("Agg")  # files only: no display, on any machine

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

from schema import (  # noqa: E402
    DEFAULT_AXIS,
    HIGHER,
    LOWER,
    METRICS_BY_FIELD,
    NOT_RUN_STATUSES,
    RATE,
    RATIO,
    SPEED_WORKLOADS,
    Metric,
    Place,
    Status,
    Workload,
    metrics_at,
    unit_of,
)

from . import axes  # noqa: E402
from .accuracy_points import accuracy_frame, task_columns  # noqa: E402
from .flops import CONVENTION_SOURCE, TOLERANCE, above_peak, point_peaks  # noqa: E402
from .load import NOT_DRAWN, axis_values  # noqa: E402
from .spread import (  # noqa: E402
    CI,
    IQR,
    NO_SPREAD,
    bounds,
    contention_of,
    with_spread,
)
from .units import human, length_label  # noqa: E402

STATUS_MARKERS = {"oom": "X", "timeout": "P", "failed": "v", "diverged": "d"}
BROKEN_NUDGE = 0.12  # octaves between the broken markers of mixers at one length
OTHER_MARKER = "s"  # a status this version does not know still gets drawn
PANEL_SIZE = (4.0, 3.0)  # inches
MARGINS = {"left": 1.0, "right": 2.8, "bottom": 0.6, "top": 0.7}  # inches; right: the legend
SPACING = {"wspace": 0.4, "hspace": 0.55}  # fractions of a panel
MIN_DECADE_SPAN = 4.0  # widen flatter y ranges so the log axis keeps labelled ticks


@dataclass
class FigureResult:
    name: str  # file stem
    title: str
    caption: str
    figure: Figure


def mixer_palette(points: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """One colour per mixer variant, the same in every figure of a report;
    the variants that were not available here get none (tab10's ten distinct
    colours go as far as they can)."""
    tried = points[~points["status"].isin(NOT_RUN_STATUSES)] if "status" in points else points
    mixers = sorted(tried["mixer"].dropna().unique())
    colors = sns.color_palette("tab10" if len(mixers) <= 10 else "husl", len(mixers))
    return dict(zip(mixers, colors, strict=True))


def not_run_note(points: pd.DataFrame) -> str:
    """The figure's own points that are not drawn, each reason once; the
    backends not available here are one line of the summary instead."""
    missing = points[points["status"].isin(NOT_DRAWN) & (points["status"] != Status.UNAVAILABLE)]
    if missing.empty:
        return ""
    by_reason: dict[tuple[str, str], set[str]] = {}
    for mixer, status, reason in missing[["mixer", "status", "reason"]].itertuples(index=False):
        by_reason.setdefault((str(status), str(reason)), set()).add(str(mixer))
    named = [
        f"{', '.join(sorted(mixers))} ({status}: {reason})"
        for (status, reason), mixers in sorted(by_reason.items())
    ]
    return " Not drawn: " + "; ".join(named) + "."


def broke(statuses: pd.Series) -> pd.Series:
    """Attempted and not ok: drawn at the failed length (never-run points are not)."""
    return statuses.notna() & (statuses != "ok") & ~statuses.isin(NOT_DRAWN)


def marker(status: str) -> str:
    return STATUS_MARKERS.get(status, OTHER_MARKER)


def leave_empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_lines(
    ax: Axes,
    panel: pd.DataFrame,
    metric: Metric,
    palette: dict,
    bars: tuple[str, str] | None = None,
) -> None:
    """One line per mixer through the median at each swept value, with error
    bars where the metric is a time or a rate (spread.bounds: the bootstrap
    95% CI of the median, or q1–q3 for runs without rounds) or where ``bars``
    names the columns of each value's interval, and a ring around points
    timed under contention. Plain ax.plot in seaborn's theme and palette:
    sns.lineplot costs a second a panel here."""
    ok = panel[panel["ok"] & (panel[metric.field] > 0)]
    if ok.empty:
        ax.text(0.5, 0.5, "no successful points", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return
    ax.set_yscale("log")
    low, high = bounds(ok, metric.field)
    if bars and all(column in ok.columns for column in bars):
        low, high = ok[bars[0]], ok[bars[1]]
    ok = ok.assign(bar_low=low, bar_high=high, busy=contention_of(ok) & bool(metric.timing))
    for mixer, group in ok.groupby("mixer"):
        by = group.groupby("axis_value")
        line = by[metric.field].median()
        ax.plot(line.index, line.to_numpy(), marker="o", markersize=4, color=palette[mixer])
        ends = pd.DataFrame({"low": by["bar_low"].median(), "high": by["bar_high"].median()})
        ends = ends.dropna()
        if not ends.empty:
            y = line.loc[ends.index].to_numpy()
            below = np.clip(y - ends["low"].to_numpy(), 0, None)
            above = np.clip(ends["high"].to_numpy() - y, 0, None)
            ax.errorbar(
                ends.index, y, yerr=[below, above], fmt="none", ecolor=palette[mixer],
                elinewidth=1, capsize=2.5, alpha=0.8,
            )  # fmt: skip
        busy = group[group["busy"]]
        if not busy.empty:
            ax.scatter(
                busy["axis_value"], busy[metric.field], s=70, facecolors="none",
                edgecolors="black", linewidths=1.0, zorder=4,
            )  # fmt: skip


def mark_flagged(ax: Axes, panel: pd.DataFrame, metric: Metric) -> None:
    """Points that break physics (a FLOP count above the matmul peak): red
    crosses at their value, never part of a line."""
    if panel.empty:
        return
    ax.scatter(
        panel["axis_value"], panel[metric.field], marker="x", s=60, color="red",
        linewidths=1.8, zorder=6,
    )  # fmt: skip


def mark_broken(ax: Axes, panel: pd.DataFrame, metric: Metric, palette: dict) -> None:
    """Broken points on the edge of the axis where the metric is worse, at
    their swept value nudged sideways per mixer, so that mixers that broke at
    the same value do not hide one another."""
    broken = panel[broke(panel["status"]) & panel["axis_value"].notna()]
    mixers = sorted(broken["mixer"].dropna().unique())
    nudge = {m: 2 ** ((i - (len(mixers) - 1) / 2) * BROKEN_NUDGE) for i, m in enumerate(mixers)}
    edge = 1.0 if metric.direction == LOWER else 0.0
    for (status, mixer), group in broken.groupby(["status", "mixer"]):
        ax.scatter(
            group["axis_value"] * nudge[mixer],
            np.full(len(group), edge),
            marker=marker(status),
            s=60,
            color=palette[mixer],
            edgecolor="black",
            linewidth=0.6,
            transform=ax.get_xaxis_transform(),  # x in data, y in axes fractions
            clip_on=False,
            zorder=5,
        )


def frame_axis(ax: Axes, panel: pd.DataFrame, axis: str) -> None:
    """Log-2 axis of the swept values spanning every attempted one, broken
    ones included, labelled with the axis and its unit."""
    values = panel["axis_value"].dropna()
    ax.set_xscale("log", base=2)
    if not values.empty:
        ax.set_xlim(values.min() / 1.4, values.max() * 1.4)
    ax.set_xlabel(axes.label(axis))


def style_axes(ax: Axes, column: str) -> None:
    """Labelled ticks in the metric's units at 1, 2, 5 × 10^k, no minor ticks
    (they are what makes saving many log panels slow)."""
    ax.minorticks_off()
    ax.xaxis.set_major_locator(LogLocator(base=2, numticks=8))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: length_label(v)))
    if ax.get_yscale() != "log":
        return
    low, high = ax.get_ylim()
    if high / low < MIN_DECADE_SPAN:
        middle = np.sqrt(low * high)
        half = np.sqrt(MIN_DECADE_SPAN)
        ax.set_ylim(min(low, middle / half), max(high, middle * half))
    unit = unit_of(column)
    if unit and unit.scale == "binary":  # powers of two read as 64 KiB, 1 MiB, not 977 KiB
        ax.yaxis.set_major_locator(LogLocator(base=2, numticks=8))
    else:
        decades = np.log10(ax.get_ylim()[1] / ax.get_ylim()[0])
        subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human(column, v)))
    ax.minorticks_off()


def legend_handles(
    points: pd.DataFrame, palette: dict, flagged: str | None = None, rings: bool = True
) -> list[Line2D]:
    shown = points[points["ok"] | broke(points["status"])]
    handles = [
        Line2D([], [], color=palette[m], marker="o", label=m)
        for m in sorted(shown["mixer"].dropna().unique())
    ]
    if rings and contention_of(shown[shown["ok"]]).any():
        handles.append(
            Line2D([], [], linestyle="", marker="o", markersize=9, markerfacecolor="none",
                   markeredgecolor="black", label="timed under contention")
        )  # fmt: skip
    if flagged:
        handles.append(
            Line2D([], [], linestyle="", marker="x", markersize=8, color="red",
                   markeredgewidth=1.8, label=flagged)
        )  # fmt: skip
    for status in sorted(set(points.loc[broke(points["status"]), "status"])):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="",
                marker=marker(status),
                markersize=9,
                color="grey",
                markeredgecolor="black",
                label=f"{status} (at the axis edge)",
            )
        )
    return handles


def grid(n_rows: int, n_cols: int) -> tuple[Figure, np.ndarray]:
    """Panels of a fixed size with fixed margins. Not tight_layout or a tight
    bbox: they measure every tick label of every panel and took most of the time."""
    width = PANEL_SIZE[0] * n_cols + MARGINS["left"] + MARGINS["right"]
    height = PANEL_SIZE[1] * n_rows + MARGINS["bottom"] + MARGINS["top"]
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=MARGINS["left"] / width,
        right=1 - MARGINS["right"] / width,
        bottom=MARGINS["bottom"] / height,
        top=1 - MARGINS["top"] / height,
        **SPACING,
    )
    return fig, axes


def finish(
    fig: Figure,
    points: pd.DataFrame,
    palette: dict,
    title: str,
    flagged: str | None = None,
    rings: bool = True,
) -> None:
    fig.suptitle(title, y=1 - 0.2 / fig.get_figheight())
    fig.legend(
        handles=legend_handles(points, palette, flagged, rings),
        loc="center left",
        bbox_to_anchor=(1 - (MARGINS["right"] - 0.2) / fig.get_figwidth(), 0.5),
        frameon=False,
    )


def panel_title(*parts: str) -> str:
    return " — ".join(parts)


def metric_by_workload(
    points: pd.DataFrame,
    metric: Metric,
    name: str,
    title: str,
    references: dict[str, float] | None = None,
    axis: str = DEFAULT_AXIS,
    flagged: pd.Series | None = None,
    flagged_label: str = "",
) -> FigureResult | None:
    """Rows: runs; columns: workloads; the metric against the swept axis in
    each panel, with a dashed reference line per run where one is given.
    Only the points of one sweep: the caller makes one figure per axis.
    ``flagged`` (a mask over ``points``) are drawn as red crosses, not in
    their line."""
    workloads = [w for w in SPEED_WORKLOADS if w in metric.workloads]
    chosen = axes.on_axis(points[points["workload"].isin(workloads)], axis)
    marked = (
        flagged.reindex(chosen.index, fill_value=False).astype(bool)
        if flagged is not None
        else pd.Series(False, index=chosen.index)
    )
    has_data = chosen[chosen["ok"] & (chosen[metric.field] > 0)]
    if has_data.empty:
        return None
    runs = sorted(chosen["run"].unique())
    present = [w for w in workloads if w in set(has_data["workload"])]
    chosen = chosen[chosen["workload"].isin(present)]
    palette = mixer_palette(points)
    fig, grid_axes = grid(len(runs), len(present))
    for i, run in enumerate(runs):
        for j, workload in enumerate(present):
            ax = grid_axes[i, j]
            panel = chosen[(chosen["run"] == run) & (chosen["workload"] == workload)]
            ax.set_title(panel_title(workload, run), fontsize=9, pad=9)
            if panel.empty:
                leave_empty(ax)
                continue
            frame_axis(ax, panel, axis)
            bad = marked.loc[panel.index]
            draw_lines(ax, panel[~bad], metric, palette)
            mark_flagged(ax, panel[bad & panel["ok"]], metric)
            if references and pd.notna(references.get(run)):
                draw_reference(ax, references[run])
            mark_broken(ax, panel, metric, palette)
            style_axes(ax, metric.field)
            ax.set_ylabel(metric.label)
    timed = bool(metric.timing)
    finish(fig, chosen, palette, title, flagged_label if marked.any() else None, timed)
    caption = (
        title + "." + bars_note(chosen, timed) + held_note(chosen, axis) + not_run_note(chosen)
    )
    return FigureResult(axes.suffixed(name, axis), title, caption, fig)


def bars_note(points: pd.DataFrame, timed: bool) -> str:
    """What the error bars and rings of a figure of a metric are (a timed
    one's: a time or a rate; others have none)."""
    if not timed:
        return ""
    ok = with_spread(points[points["ok"]])
    kinds = set(ok["time_spread"])
    parts = []
    if CI in kinds:
        parts.append("bootstrap 95% CI of the median over the point's timed rounds")
    if IQR in kinds:
        parts.append("q1–q3 for runs that saved no rounds")
    note = f" Bars: {'; '.join(parts)}." if parts else ""
    if NO_SPREAD in kinds:
        note += " Points without bars recorded no spread."
    if contention_of(ok).any():
        note += " Ringed: timed while the suite's contention probe saw the machine busy."
    return note


def held_note(points: pd.DataFrame, axis: str) -> str:
    held = axes.fixed_text(points, axis)
    return f" Held fixed: {held}." if held else ""


def draw_reference(ax: Axes, value: float) -> None:
    ax.axhline(value, color="black", linestyle="--", linewidth=1)
    ax.text(0.02, value, "matmul peak", transform=ax.get_yaxis_transform(), fontsize=7, va="bottom")


def metric_figure(points: pd.DataFrame, metric: Metric, axis: str) -> FigureResult | None:
    """``metric`` against ``axis``, a panel per workload that has it; the
    file is its figure stem (schema.Metric.figure) suffixed by the axis."""
    title = f"{metric.label} against {axes.words(axis)}, per workload"
    return metric_by_workload(points, metric, metric.figure, title, axis=axis)


def time_figure(points: pd.DataFrame, axis: str) -> FigureResult | None:
    """The time metric's figure (the one the spread's tests draw)."""
    return metric_figure(points, METRICS_BY_FIELD["time_s"], axis)


def decode_cost(points: pd.DataFrame, axis: str = DEFAULT_AXIS) -> FigureResult | None:
    """The RetNet paper's inference-cost figure: per-token latency, state /
    KV-cache bytes and peak memory against the context length (or the axis
    a sweep ran along), per run."""
    decode = axes.on_axis(points[points["workload"] == Workload.DECODE], axis)
    # the inference cost table's metrics, less its rates (the inverse of its latency)
    shown = [m for m in metrics_at(Place.TABLES, Workload.DECODE) if m.timing != RATE]
    metrics = [m for m in shown if (decode.loc[decode["ok"], m.field] > 0).any()]
    if not metrics:
        return None
    length = axes.key(axis) == "seq_len"
    runs = sorted(decode["run"].unique())
    palette = mixer_palette(points)
    fig, grid_axes = grid(len(runs), len(metrics))
    for i, run in enumerate(runs):
        panel = decode[decode["run"] == run]
        for j, metric in enumerate(metrics):
            ax = grid_axes[i, j]
            frame_axis(ax, panel, axis)
            draw_lines(ax, panel, metric, palette)
            mark_broken(ax, panel, metric, palette)
            style_axes(ax, metric.field)
            if length:
                ax.set_xlabel("context length (tokens)")
            ax.set_ylabel(metric.label)
            ax.set_title(panel_title(metric.label, run), fontsize=9, pad=9)
    title = f"Decode cost against {'context length' if length else axes.words(axis)}"
    finish(fig, decode, palette, title)
    shape = (
        ": the shape of the RetNet paper's inference-cost figure; a recurrent state should "
        "stay flat while attention's KV cache grows."
        if length
        else "."
    )
    caption = (
        title + shape + bars_note(decode, any(m.timing for m in metrics))
        + held_note(decode, axis) + not_run_note(decode)
    )  # fmt: skip
    return FigureResult(axes.suffixed("decode_cost", axis), title, caption, fig)


def flops_per_s(points: pd.DataFrame, axis: str = DEFAULT_AXIS) -> FigureResult | None:
    """Achieved FLOP/s (analytic FLOPs over the median time) with the run's
    measured matmul peak as a dashed line where the run recorded one. A point
    above flops.TOLERANCE × its peak is a FLOP-count error: a red cross, not a
    point of its line (flops.py)."""
    peaks_by_point = point_peaks(points)
    peaks = peaks_by_point.groupby(points["run"]).max()
    flagged = above_peak(points)
    metric = METRICS_BY_FIELD["achieved_flops_per_s"]
    title = f"Achieved FLOP/s against {axes.words(axis)}"
    label = f"above {TOLERANCE:g}× the matmul peak: a FLOP-count error"
    result = metric_by_workload(
        points, metric, "flops_per_s", title, peaks.to_dict(), axis, flagged, label
    )
    if result is None:
        return None
    chosen = axes.on_axis(points[points["workload"].isin(SPEED_WORKLOADS)], axis)
    shown = set(chosen["run"])
    with_peak = sorted(run for run, peak in peaks.items() if pd.notna(peak) and run in shown)
    without = sorted(run for run, peak in peaks.items() if pd.isna(peak) and run in shown)
    note = ""
    if with_peak:
        note += " Dashed: the device's measured matmul peak (" + ", ".join(with_peak) + ")."
    if without:
        note += " No matmul peak recorded for " + ", ".join(without) + ", so no peak line there."
    bad = chosen[flagged.reindex(chosen.index, fill_value=False).astype(bool)]
    if not bad.empty:
        names = ", ".join(
            f"{p['mixer']} {p['workload']} {axes.at(axis, p['axis_value'])}"
            for _, p in bad.sort_values(["mixer", "workload", "axis_value"]).iterrows()
        )
        note += (
            f" Red crosses: above {TOLERANCE:g}× the peak, so their FLOP count is wrong "
            f"(not a fast kernel): {names}; see 'FLOP-count errors'."
        )
    result.caption = (
        title
        + f" (analytic FLOPs over median time; the convention is stated in {CONVENTION_SOURCE})."
        + note
        + bars_note(chosen, bool(metric.timing))
        + held_note(chosen, axis)
        + not_run_note(chosen)
    )
    return result


# -- the headline figure: the answer in one picture ------------------------------

#: inches: read beside the answer, the whole of it on a laptop's first screen (1366×768)
HEADLINE_WIDTH, HEADLINE_ROW, HEADLINE_LEGEND = 7.5, 2.6, 0.7


@dataclass(frozen=True)
class Panel:
    """One panel of the headline figure: a metric of a workload against length."""

    title: str
    workload: Workload
    metric: Metric
    #: the y axis's label
    quantity: str


HEADLINE_PANELS = (
    Panel("Training step time", Workload.TRAIN_STEP, METRICS_BY_FIELD["time_s"], "time per step"),
    Panel(
        "Decode latency per token", Workload.DECODE, METRICS_BY_FIELD["time_s"], "time per token"
    ),
    Panel(
        "Peak memory of a training step",
        Workload.TRAIN_STEP,
        METRICS_BY_FIELD["peak_mem_bytes"],
        "peak memory",
    ),
)


def newest_run(points: pd.DataFrame) -> str | None:
    """The run label of the newest run among ``points`` (by its date, then label)."""
    if points.empty:
        return None
    runs = points.groupby("run")["run_datetime"].first().fillna("").sort_index()
    return str(runs.sort_values(kind="stable").index[-1])


def panel_points(points: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """The newest run's points of ``panel`` along length, where any ran."""
    along = axes.on_axis(points[points["workload"] == panel.workload], DEFAULT_AXIS)
    measured = along[along["ok"] & (along[panel.metric.field] > 0)]
    run = newest_run(measured)
    return along[along["run"] == run] if run else along.iloc[0:0]


def accuracy_points(points: pd.DataFrame) -> pd.DataFrame:
    """The newest accuracy run's points that reached an accuracy."""
    acc = accuracy_frame(points)
    acc = acc[acc["reached"]] if not acc.empty else acc
    run = newest_run(acc)
    return acc[acc["run"] == run] if run else acc


def draw_accuracy(ax: Axes, acc: pd.DataFrame, palette: dict) -> None:
    """Each task a row, each mixer a dot at its mean test accuracy with its
    95% interval over seeds; the task's chance level a grey bar."""
    tasks = [*task_columns(acc, lra=False), *task_columns(acc, lra=True)]  # the tables' order
    mixers = sorted(acc["mixer"].unique())
    step = 0.7 / max(len(mixers), 1)
    for k, mixer in enumerate(mixers):
        mine = acc[acc["mixer"] == mixer].set_index("task")
        rows = [t for t in tasks if t in mine.index]
        y = np.array([tasks.index(t) for t in rows]) + (k - (len(mixers) - 1) / 2) * step
        ax.errorbar(
            100 * mine.loc[rows, "acc_mean"], y, xerr=100 * mine.loc[rows, "ci95_half"].fillna(0),
            fmt="o", markersize=4, color=palette.get(mixer, "black"), capsize=2, elinewidth=1,
        )  # fmt: skip
    chance = acc.groupby("task")["chance_accuracy"].first()
    for i, task in enumerate(tasks):
        if pd.notna(chance.get(task)):
            ax.plot([100 * chance[task]] * 2, [i - 0.4, i + 0.4], color="grey", linewidth=2)
    ax.set_yticks(range(len(tasks)), [str(t) for t in tasks], fontsize=7)
    ax.set_ylim(len(tasks) - 0.5, -0.5)
    ax.set_xlim(0, 105)  # a dot at 100% whole
    ax.set_xlabel("test accuracy (%)")


def headline_grid(n: int) -> tuple[Figure, list[Axes]]:
    """``n`` panels two to a row; an odd last one spans the row."""
    rows = (n + 1) // 2
    fig = plt.figure(
        figsize=(HEADLINE_WIDTH, HEADLINE_ROW * rows + HEADLINE_LEGEND), layout="constrained"
    )
    spec = fig.add_gridspec(rows, 2)
    found = [fig.add_subplot(spec[i // 2, i % 2]) for i in range(n - n % 2)]
    if n % 2:
        found.append(fig.add_subplot(spec[rows - 1, :]))
    return fig, found


def headline_figure(points: pd.DataFrame) -> FigureResult | None:
    """The answer in one picture, from the newest run of each: training time,
    decode latency and training memory against length, and test accuracy per
    task. A part the runs lack is left out (no empty panel); None: none."""
    speed = [(panel, panel_points(points, panel)) for panel in HEADLINE_PANELS]
    speed = [(panel, chosen) for panel, chosen in speed if not chosen.empty]
    acc = accuracy_points(points)
    n = len(speed) + (not acc.empty)
    if not n:
        return None
    palette = mixer_palette(points)
    fig, panels = headline_grid(n)
    for ax, (panel, chosen) in zip(panels, speed, strict=False):
        frame_axis(ax, chosen, DEFAULT_AXIS)
        draw_lines(ax, chosen, panel.metric, palette)
        mark_broken(ax, chosen, panel.metric, palette)
        style_axes(ax, panel.metric.field)
        ax.set_title(panel.title, fontsize=9)
        ax.set_ylabel(panel.quantity)
    if not acc.empty:
        draw_accuracy(panels[-1], acc, palette)
        panels[-1].set_title("Test accuracy per task (grey: chance)", fontsize=9)
    shown = pd.concat([chosen for _, chosen in speed] + [acc.assign(ok=True)])
    fig.legend(
        handles=legend_handles(shown, palette), loc="outside lower center", ncol=4,
        frameon=False, fontsize=7,
    )  # fmt: skip
    title = "The answer in one picture"
    return FigureResult("headline", title, headline_caption(speed, acc), fig)


def headline_caption(speed: list[tuple[Panel, pd.DataFrame]], acc: pd.DataFrame) -> str:
    """Which run each part shows, and what its lines, dots and bars are."""
    parts = [f"{panel.title} ({chosen['run'].iloc[0]})" for panel, chosen in speed]
    notes = []
    if speed:
        notes.append(" Lines: the median per length.")
        notes.append(bars_note(pd.concat([chosen for _, chosen in speed]), True))
    if not acc.empty:
        parts.append(f"test accuracy per task ({acc['run'].iloc[0]})")
        notes.append(
            " Accuracy: the mean over seeds with its 95% t-interval, the chance level in grey."
        )
    return (
        "The answer in one picture, each part from the newest run that has it: "
        + "; ".join(parts)
        + "."
        + "".join(notes)
        + " The figures below have every run and workload."
    )


def set_theme() -> None:
    sns.set_theme(style="whitegrid", context="paper")
    # names from the data (a plug-in's mixer, a task) are drawn as they are:
    # "$" in one would start mathtext, and a malformed one crashes the figure
    plt.rcParams["text.parse_math"] = False


#: a comparison's time A / time B: no metric of a point, drawn as one
SPEEDUP = replace(
    METRICS_BY_FIELD["time_s"], field="speedup_x", unit=RATIO, label="speed-up of B over A",
    direction=HIGHER, shown=frozenset(), short="speedup", timing=None,
)  # fmt: skip
SPEEDUP_BARS = ("speedup_low_x", "speedup_high_x")


def speedup_figure(
    frame: pd.DataFrame, title: str, threshold: float, name: str = "compare_speedup"
) -> FigureResult | None:
    """Speed-up of B over A against the swept axis, per workload (columns)
    and sweep (rows); the band is the threshold within which a change is not
    flagged."""
    timed = frame[frame["workload"].isin(SPEED_WORKLOADS)]
    timed = timed.assign(axis_value=axis_values(timed))
    timed = timed[timed["axis_value"].notna()]
    measured = timed[timed["speedup_x"] > 0]
    if measured.empty:
        return None
    workloads = [w for w in SPEED_WORKLOADS if w in set(measured["workload"])]
    sweeps = axes.sweeps_present(measured)
    palette = mixer_palette(timed)
    speedup = SPEEDUP
    fig, grid_axes = grid(len(sweeps), len(workloads))
    for i, axis in enumerate(sweeps):
        for j, workload in enumerate(workloads):
            ax = grid_axes[i, j]
            panel = timed[(timed["workload"] == workload) & (timed["sweep"] == axis)]
            ax.set_title(panel_title(workload, f"along {axes.words(axis)}"), fontsize=9, pad=9)
            if panel.empty:
                leave_empty(ax)
                continue
            frame_axis(ax, panel, axis)
            ax.set_yscale("log")
            ax.axhspan(1 / (1 + threshold), 1 + threshold, color="grey", alpha=0.15)
            ax.axhline(1.0, color="black", linewidth=0.8)
            draw_lines(ax, panel.assign(ok=True), speedup, palette, SPEEDUP_BARS)
            # Only what broke in B after running in A: that is the regression.
            newly_broken = panel["status_b"].where(panel["status_a"] == "ok")
            mark_broken(ax, panel.assign(status=newly_broken), speedup, palette)
            style_axes(ax, "speedup_x")
            ax.set_ylabel("speed-up of B over A")
    shown = timed.assign(
        ok=timed["speedup_x"] > 0, status=timed["status_b"].where(timed["status_a"] == "ok")
    )
    finish(fig, shown, palette, title)
    caption = (
        f"{title}: time A / time B; above 1, B is faster. Bars: the speed-up's 95% interval "
        "(an unpaired bootstrap of the two points' rounds, else their quartiles). Grey band: "
        f"within ±{100 * threshold:g}%, not flagged. Markers on the bottom edge: ran in A, broke "
        "in B."
    )
    return FigureResult(name, title, caption, fig)

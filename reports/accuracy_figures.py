"""The accuracy section's figures, each with the points' 95% intervals as
error bars: a heatmap of every task; accuracy against sequence length over
the MQAR sweep (a panel per number of key-value pairs); accuracy against
decoding-state bytes (Zoology's view); accuracy against training cost with
the Pareto front, per task."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import figures  # first of the package's: it puts matplotlib on the Agg backend
from .accuracy_points import (
    AT_CHANCE,
    accuracy_frame,
    interval_of,
    is_mqar,
    mqar_points,
    task_columns,
    tried,
)
from .figures import FigureResult
from .intervals import ONE_SEED
from .units import human, length_label


def percent_axis(ax) -> None:
    ax.set_ylim(-2, 102)
    ax.set_ylabel("test accuracy (%)")


def draw_with_intervals(
    ax, rows: pd.DataFrame, x: str, palette: dict, connect: bool, margin: float = 1.5
) -> None:
    """A mixer's points with their 95% intervals as error bars; one-seed
    points (no interval) hollow. The log x axis spans the points, ``margin``
    times wider each side (set first: one point alone has no span)."""
    values = rows[x].astype(float)
    ax.set_xlim(values.min() / margin, values.max() * margin)
    ax.autoscale(enable=False, axis="x")
    for mixer, mine in rows.groupby("mixer", sort=True):
        mine = mine.sort_values(x)
        color = palette.get(mixer, "grey")
        y = 100 * mine["acc_mean"].to_numpy(dtype=float)
        error = 100 * mine["ci95_half"].fillna(0).to_numpy(dtype=float)
        ax.errorbar(
            mine[x].to_numpy(dtype=float),
            y,
            yerr=error,
            color=color,
            marker="o",
            markersize=4,
            capsize=3,
            linestyle="-" if connect else "none",
        )
        single = (mine["seeds"] < 2).to_numpy()
        if single.any():
            ax.scatter(
                mine[x].to_numpy(dtype=float)[single],
                y[single],
                s=30,
                facecolors="white",
                edgecolors=[color],
                zorder=4,
            )


def chance_line(ax, rows: pd.DataFrame) -> None:
    chance = pd.to_numeric(rows["chance_accuracy"], errors="coerce").dropna()
    if not chance.empty:
        ax.axhline(100 * chance.median(), color="grey", linestyle=":", linewidth=1)


def legend(fig, palette: dict, mixers: Sequence[str], extra: Sequence[Any] = ()) -> None:
    handles = [Line2D([], [], color=palette[m], marker="o", label=m) for m in mixers]
    handles += [
        Line2D([], [], linestyle="", marker="o", markerfacecolor="white", color="grey",
               label=ONE_SEED),
        Line2D([], [], color="grey", linestyle=":", label="chance (majority class)"),
        *extra,
    ]  # fmt: skip
    fig.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1 - (figures.MARGINS["right"] - 0.2) / fig.get_figwidth(), 0.5),
        frameon=False,
    )


INTERVAL_NOTE = (
    " Error bars: the 95% t-interval over seeds; hollow points: one seed, no interval; "
    "dotted: chance (the majority class on test)."
)


def accuracy_heatmap(points: pd.DataFrame) -> FigureResult | None:
    """Accuracy per task and mixer, one heatmap per run: each cell its mean
    and the half-width of its interval; cells that did not finish show
    their status instead of a number."""
    import seaborn as sns

    acc = tried(accuracy_frame(points))
    if acc.empty:
        return None
    runs = sorted(acc["run"].unique())
    tasks = [*task_columns(acc, lra=False), *task_columns(acc, lra=True)]
    tasks += sorted(set(acc["task"].dropna()) - set(tasks))
    mixers = sorted(acc["mixer"].dropna().unique())
    fig, grid_axes = plt.subplots(
        len(runs),
        1,
        figsize=(1.3 * len(tasks) + 3, 0.5 * len(mixers) * len(runs) + 1.5),
        squeeze=False,
    )
    for ax, run in zip(grid_axes[:, 0], runs, strict=True):
        mine = acc[acc["run"] == run].set_index(["mixer", "task"])
        scores = pd.DataFrame(math.nan, index=mixers, columns=tasks)
        labels = pd.DataFrame("", index=mixers, columns=tasks)
        statuses = pd.DataFrame(None, index=mixers, columns=tasks, dtype=object)
        for (mixer, task), row in mine.iterrows():
            statuses.loc[mixer, task] = row["status"]
            if row["reached"]:
                scores.loc[mixer, task] = row["acc_mean"]
                span = interval_of(row)
                text = f"{100 * span.mean:.1f}\n" + (
                    f"±{100 * span.half:.1f}" if span.known else "1 seed"
                )
                labels.loc[mixer, task] = (f"{AT_CHANCE}\n" if row["at_chance"] else "") + text
        sns.heatmap(
            scores.astype(float),
            annot=labels.to_numpy(),
            fmt="",
            annot_kws={"fontsize": 7},
            vmin=0,
            vmax=1,
            cmap="viridis",
            cbar_kws={"label": "mean test accuracy"},
            mask=scores.isna(),
            ax=ax,
        )
        label_missing_cells(ax, scores, statuses)
        ax.set_facecolor("#eeeeee")
        ax.grid(False)
        ax.set_title(run, fontsize=9, pad=9)
        ax.set_xlabel("task")
        ax.set_ylabel("mixer")
    title = "Accuracy per task and mixer"
    fig.suptitle(title)
    fig.tight_layout()
    caption = (
        f"{title}: each cell the mean over seeds (percent) and the half-width of its 95% "
        f"t-interval ('1 seed': no interval; '{AT_CHANCE}': the interval includes chance). "
        "Grey cells: N/A where not run, else the status of the point that broke."
    )
    return FigureResult("accuracy", title, caption, fig)


def label_missing_cells(ax, scores: pd.DataFrame, statuses: pd.DataFrame) -> None:
    """Seaborn leaves masked cells blank: say why each is empty."""
    for i, mixer in enumerate(scores.index):
        for j, task in enumerate(scores.columns):
            if pd.isna(scores.loc[mixer, task]):
                status = statuses.loc[mixer, task]
                text = "N/A" if status is None or pd.isna(status) else str(status)
                ax.text(
                    j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8, color="dimgrey"
                )


def length_figure(points: pd.DataFrame) -> FigureResult | None:
    """Accuracy against sequence length over the MQAR sweep: one line per
    mixer, one panel per number of key-value pairs, a row per run."""
    mqar = mqar_points(points)
    if mqar.empty or mqar["seq_len"].nunique() < 2:
        return None
    runs = sorted(mqar["run"].unique())
    pairs = sorted(mqar["kv_pairs"].unique())
    palette = figures.mixer_palette(points)
    fig, grid_axes = figures.grid(len(runs), len(pairs))
    for i, run in enumerate(runs):
        for j, count in enumerate(pairs):
            ax = grid_axes[i, j]
            panel = mqar[(mqar["run"] == run) & (mqar["kv_pairs"] == count)]
            ax.set_title(f"{count:g} key-value pairs — {run}", fontsize=9, pad=9)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: length_label(v)))
            ax.set_xlabel("sequence length (tokens)")
            percent_axis(ax)
            if panel.empty:
                figures.leave_empty(ax)
                continue
            draw_with_intervals(ax, panel, "seq_len", palette, connect=True, margin=1.4)
            chance_line(ax, panel)
    title = "MQAR accuracy against sequence length"
    fig.suptitle(title, y=1 - 0.2 / fig.get_figheight())
    legend(fig, palette, sorted(mqar["mixer"].unique()))
    caption = (
        f"{title}, a panel per number of key-value pairs (Zoology's sweep): attention's "
        "recall should stay near 100% while a fixed-size state falls as the pairs grow."
        + INTERVAL_NOTE
    )
    return FigureResult("accuracy_length", title, caption, fig)


def panel_of(row: pd.Series) -> str:
    """The state figure's panels: MQAR by its number of pairs, other tasks by name."""
    if is_mqar(row["task"]) and pd.notna(row["kv_pairs"]):
        return f"MQAR, {row['kv_pairs']:g} pairs"
    return str(row["task"])


def state_figure(points: pd.DataFrame) -> FigureResult | str | None:
    """Accuracy against the decoding state's bytes (Zoology's view of recall
    against state size): a panel per task (MQAR: per number of pairs, its
    lengths joined per mixer), a row per run, state on a log axis."""
    acc = accuracy_frame(points)
    if acc.empty:
        return None
    reached = acc[acc["reached"]]
    drawn = reached[pd.to_numeric(reached["state_bytes"], errors="coerce") > 0].copy()
    title = "Accuracy against decoding-state size"
    if drawn.empty:
        return (
            f"{title} (Zoology's view of recall against state size): not drawn, the selected "
            "runs record no state_bytes for their accuracy points."
        )
    drawn["panel"] = [panel_of(row) for _, row in drawn.iterrows()]
    order = drawn.assign(pairs=drawn["kv_pairs"].fillna(math.inf))
    order = order.sort_values(["pairs", "panel"]).drop_duplicates("panel")
    runs = sorted(drawn["run"].unique())
    panels = order["panel"].tolist()
    palette = figures.mixer_palette(points)
    columns = min(len(panels), 4)
    rows_per_run = math.ceil(len(panels) / columns)
    fig, grid_axes = figures.grid(len(runs) * rows_per_run, columns)
    for ax in grid_axes.flat:
        ax.set_visible(False)
    for i, run in enumerate(runs):
        for k, name in enumerate(panels):
            ax = grid_axes[i * rows_per_run + k // columns, k % columns]
            ax.set_visible(True)
            panel = drawn[(drawn["run"] == run) & (drawn["panel"] == name)]
            ax.set_title(f"{name} — {run}", fontsize=9, pad=9)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: human("state_bytes", v)))
            ax.set_xlabel("decoding state (bytes)")
            percent_axis(ax)
            if panel.empty:
                figures.leave_empty(ax)
                continue
            draw_with_intervals(ax, panel, "state_bytes", palette, connect=True)
            chance_line(ax, panel)
            ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(title, y=1 - 0.2 / fig.get_figheight())
    legend(fig, palette, sorted(drawn["mixer"].unique()))
    caption = (
        f"{title} at the task's length (Zoology's view of recall against state size): "
        "attention's KV cache grows with the length, a recurrent state does not. MQAR "
        "panels join each mixer's lengths in order." + INTERVAL_NOTE
    )
    without = sorted(set(reached["run"]) - set(drawn["run"]))
    if without:
        caption += f" No state_bytes recorded in {', '.join(without)}: not drawn there."
    return FigureResult("accuracy_state", title, caption, fig)


def pareto_front(costs: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """The points no other point beats on both: cheaper and at least as
    accurate, in order of cost."""
    order = sorted(range(len(costs)), key=lambda k: (costs[k], -accuracies[k]))
    front, best = [], -math.inf
    for k in order:
        if accuracies[k] > best:
            front.append(k)
            best = accuracies[k]
    return front


COSTS = (
    ("step_s", "seconds per training step (median)"),
    ("flops", "FLOPs (analytic, as recorded)"),
)


def file_stem(task: str) -> str:
    return "accuracy_pareto_" + re.sub(r"[^0-9A-Za-z_.-]+", "_", task)


def pareto_figures(points: pd.DataFrame) -> list[FigureResult | str]:
    """Per task: accuracy against training cost (seconds per step; FLOPs
    where recorded), a panel per run, with the Pareto front drawn."""
    acc = accuracy_frame(points)
    reached = acc[acc["reached"]] if not acc.empty else acc
    results: list[FigureResult | str] = []
    undrawn = []
    for task in [*task_columns(acc, lra=False), *task_columns(acc, lra=True)] if len(acc) else []:
        rows = reached[reached["task"] == task]
        costs = [c for c, _ in COSTS if (pd.to_numeric(rows[c], errors="coerce") > 0).any()]
        if not costs:
            undrawn.append(task)
            continue
        runs = sorted(rows["run"].unique())
        palette = figures.mixer_palette(points)
        fig, grid_axes = figures.grid(len(runs), len(costs))
        on_front: dict[str, list[str]] = {}
        for i, run in enumerate(runs):
            for j, cost in enumerate(costs):
                ax = grid_axes[i, j]
                panel = rows[(rows["run"] == run) & (pd.to_numeric(rows[cost]) > 0)]
                ax.set_title(f"{task} — {run}", fontsize=9, pad=9)
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _, c=cost: human(c, v)))
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlabel(dict(COSTS)[cost])
                percent_axis(ax)
                if panel.empty:
                    figures.leave_empty(ax)
                    continue
                draw_with_intervals(ax, panel, cost, palette, connect=False, margin=1.6)
                chance_line(ax, panel)
                x = panel[cost].to_numpy(dtype=float)
                y = 100 * panel["acc_mean"].to_numpy(dtype=float)
                front = pareto_front(list(x), list(y))
                ax.step(
                    x[front], y[front], where="post", color="black", linestyle="--", linewidth=1
                )
                on_front[f"{run}, {dict(COSTS)[cost].split(' ')[0]}"] = [
                    str(panel["mixer"].iloc[k]) for k in front
                ]
        title = f"Accuracy against training cost: {task}"
        fig.suptitle(title, y=1 - 0.2 / fig.get_figheight())
        front_handle = Line2D([], [], color="black", linestyle="--", label="Pareto front")
        legend(fig, palette, sorted(rows["mixer"].unique()), [front_handle])
        named = "; ".join(f"{where}: {', '.join(m)}" for where, m in on_front.items())
        caption = (
            f"{title}: mean test accuracy against the median seconds per training step"
            + (" and against the analytic FLOPs the point recorded" if "flops" in costs else "")
            + " (log x). Dashed: the Pareto front by mean accuracy (no other mixer is both "
            f"cheaper and more accurate); on it: {named}. The cost has no interval drawn."
            + INTERVAL_NOTE
        )
        results.append(FigureResult(file_stem(task), title, caption, fig))
    if undrawn:
        results.append(
            "Accuracy against training cost: not drawn for "
            + ", ".join(undrawn)
            + " (no step_s or FLOPs recorded)."
        )
    return results

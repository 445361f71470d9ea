"""Learning curves and length extrapolation, from the accuracy points' ``curve``
and ``extrapolation`` fields (schema.FIELDS; tasks/train.py records them).

- ``curves_figure``: validation accuracy against training steps, a panel per
  task (a row per run), one line per mixer: the mean over its seeds, the 95%
  t-interval over seeds as a band;
- ``steps_to_target_table``: MLPerf's time to quality per mixer: the first step
  at which the mixer's mean curve reaches ``TARGET_FRACTION`` of the best
  mixer's final mean on the task, with the interval of each seed's own first
  step and the CPU seconds and FLOPs spent by then, or "not within the budget";
- ``extrapolation_figure``: test accuracy against test length (the training
  length first) for the tasks trained at one length and tested at longer ones,
  each mixer's positional encoding (field ``positional``) named in the caption.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter

from . import figures  # first of the package's: it puts matplotlib on the Agg backend
from .accuracy_figures import chance_line, legend, percent_axis
from .accuracy_points import accuracy_frame
from .figures import FigureResult
from .intervals import interval
from .tables import Table
from .units import human, length_label

#: steps-to-target's target: this fraction of the best mixer's final mean accuracy
TARGET_FRACTION = 0.9
NOT_REACHED = "not within the budget"
TARGET_COLUMN = "target (%)"
PANEL_COLUMNS = 4


def curve_rows(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, task, mixer, seed, step) of the reached points' curves:
    val_accuracy, cpu_s, flops (NaN where not recorded)."""
    acc = accuracy_frame(points)
    rows = []
    for _, point in acc[acc["reached"]].iterrows() if not acc.empty else ():
        for seed_curve in as_list(point.get("curve")):
            for entry in as_list(seed_curve.get("points")):
                rows.append(
                    {
                        "run": point["run"],
                        "task": point["task"],
                        "mixer": point["mixer"],
                        "chance_accuracy": point.get("chance_accuracy"),
                        "seed": seed_curve.get("seed"),
                        "step": entry.get("step"),
                        "val_accuracy": entry.get("val_accuracy"),
                        "cpu_s": entry.get("cpu_s"),
                        "flops": entry.get("flops"),
                    }
                )
    columns = ["run", "task", "mixer", "chance_accuracy", "seed", "step", "val_accuracy",
               "cpu_s", "flops"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("step", "val_accuracy", "cpu_s", "flops", "chance_accuracy"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.dropna(subset=["step", "val_accuracy"])


def as_list(value: object) -> list[dict]:
    """The dict entries of a saved list field (None, or not a list: none)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def mean_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (run, task, mixer, step): the mean over seeds, the interval's half-width
    (NaN with one seed), the mean CPU seconds and FLOPs spent by then."""
    keys = ["run", "task", "mixer", "step"]
    grouped = rows.groupby(keys, sort=True)
    spans = grouped["val_accuracy"].apply(lambda v: interval(list(v)))
    return pd.DataFrame(
        {
            "mean": spans.map(lambda s: s.mean),
            "half": spans.map(lambda s: s.half),
            "seeds": spans.map(lambda s: s.n),
            "cpu_s": grouped["cpu_s"].mean(),
            "flops": grouped["flops"].mean(),
        }
    ).reset_index()


def first_step_at(steps: Iterable[float], values: Iterable[float], target: float) -> float:
    """The first step whose value reaches ``target``; NaN when none does."""
    return next((s for s, v in zip(steps, values, strict=True) if v >= target), math.nan)


def steps_to_target(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (run, task, mixer): the target (TARGET_FRACTION of the best mixer's
    final mean), the first step the mean curve reaches it, the interval of the
    seeds' own first steps (over those that reached it), and the CPU seconds and
    FLOPs the mean curve had spent at that step."""
    means = mean_curves(rows)
    found = []
    for (run, task), group in means.groupby(["run", "task"], sort=True):
        finals = group.sort_values("step").groupby("mixer")["mean"].last()
        target = TARGET_FRACTION * finals.max()
        for mixer, mine in group.sort_values("step").groupby("mixer", sort=True):
            step = first_step_at(mine["step"], mine["mean"], target)
            at = mine[mine["step"] == step]
            seeds = rows[(rows["run"] == run) & (rows["task"] == task) & (rows["mixer"] == mixer)]
            firsts = [
                first_step_at(s["step"], s["val_accuracy"], target)
                for _, s in seeds.sort_values("step").groupby("seed")
            ]
            reached = [f for f in firsts if not math.isnan(f)]
            found.append(
                {
                    "run": run,
                    "task": task,
                    "mixer": mixer,
                    "target": target,
                    "step": step,
                    "seed_steps": interval(reached),
                    "seeds_reached": f"{len(reached)} of {len(firsts)}",
                    "cpu_s": at["cpu_s"].iloc[0] if len(at) else math.nan,
                    "flops": at["flops"].iloc[0] if len(at) else math.nan,
                    "last_step": mine["step"].max(),
                }
            )
    return pd.DataFrame(found)


def flops_text(flops: float) -> str:
    return "N/A" if math.isnan(flops) else human("flops", flops)


def step_text(row: pd.Series) -> str:
    if math.isnan(row["step"]):
        return f"{NOT_REACHED} ({row['last_step']:g} steps)"
    span = row["seed_steps"]
    seeds = f"{span.mean:.0f} ± {span.half:.0f}" if span.known else "no interval"
    return f"{row['step']:g} (seeds: {seeds}; {row['seeds_reached']} reached)"


def steps_to_target_table(points: pd.DataFrame) -> Table | None:
    rows = curve_rows(points)
    if rows.empty:
        return None
    found = steps_to_target(rows)
    frame = pd.DataFrame(
        {
            "run": found["run"],
            "task": found["task"],
            "mixer": found["mixer"],
            TARGET_COLUMN: found["target"],
            "steps to target": [step_text(r) for _, r in found.iterrows()],
            "CPU s by then": found["cpu_s"].round(2),
            "FLOPs by then": [flops_text(v) for v in found["flops"]],
        }
    )
    caption = (
        f"Steps to target (MLPerf's time to quality, per mixer): the first evaluated step at "
        f"which a mixer's mean validation accuracy over seeds reaches {TARGET_FRACTION:.0%} of "
        "the best mixer's final mean on the task (target), from the learning curves' points; "
        "in brackets the 95% t-interval of each seed's own first step (over the seeds that "
        "reached it) and how many did; then the training's CPU seconds and analytic FLOPs "
        f"spent by that step (mean over seeds). '{NOT_REACHED}': the mean never reached it "
        "in the steps trained. The curves are measured on a fixed subset of the validation "
        "split, every few steps: a step here is a bound to within that spacing."
    )
    return Table("accuracy_steps_to_target", "Steps to target accuracy", caption, frame,
                 percent=(TARGET_COLUMN,))  # fmt: skip


def panel_grid(keys: list, runs: list[str]) -> tuple[plt.Figure, dict]:
    """A panel per key, PANEL_COLUMNS a row, the rows of each run one under another."""
    columns = min(len(keys), PANEL_COLUMNS)
    rows_per_run = math.ceil(len(keys) / columns)
    fig, grid_axes = figures.grid(len(runs) * rows_per_run, columns)
    for ax in grid_axes.flat:
        ax.set_visible(False)
    axes = {}
    for i, run in enumerate(runs):
        for k, key in enumerate(keys):
            ax = grid_axes[i * rows_per_run + k // columns, k % columns]
            ax.set_visible(True)
            axes[run, key] = ax
    return fig, axes


def curves_figure(points: pd.DataFrame) -> FigureResult | None:
    rows = curve_rows(points)
    if rows.empty:
        return None
    means = mean_curves(rows)
    runs, tasks = sorted(means["run"].unique()), sorted(means["task"].unique())
    palette = figures.mixer_palette(points)
    fig, axes = panel_grid(tasks, runs)
    for (run, task), ax in axes.items():
        ax.set_title(f"{task} — {run}", fontsize=9, pad=9)
        ax.set_xlabel("training step")
        percent_axis(ax)
        ax.set_ylabel("validation accuracy (%)")
        panel = means[(means["run"] == run) & (means["task"] == task)]
        if panel.empty:
            figures.leave_empty(ax)
            continue
        for mixer, mine in panel.groupby("mixer", sort=True):
            mine = mine.sort_values("step")
            x, y = mine["step"].to_numpy(float), 100 * mine["mean"].to_numpy(float)
            half = 100 * mine["half"].fillna(0).to_numpy(float)
            color = palette.get(mixer, "grey")
            ax.plot(x, y, color=color, marker="o", markersize=3)
            ax.fill_between(x, y - half, y + half, color=color, alpha=0.2, linewidth=0)
        chance_line(ax, rows[(rows["run"] == run) & (rows["task"] == task)])
    title = "Learning curves"
    fig.suptitle(title, y=1 - 0.2 / fig.get_figheight())
    legend(fig, palette, sorted(means["mixer"].unique()))
    caption = (
        f"{title}: validation accuracy (on a fixed subset of the validation split) against "
        "training steps at the chosen learning rate, a panel per task; each line the mean "
        "over seeds, its band the 95% t-interval over seeds (none with one seed); dotted: "
        "chance (the majority class on test). A mixer still rising at the last step was cut "
        "off by the budget, not by what it can learn."
    )
    return FigureResult("accuracy_curves", title, caption, fig)


def extrapolation_rows(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, task, mixer, seq_len) of the points tested at longer
    lengths, the training length first (the point's own test accuracy), with the
    interval over seeds and the mixer's positional encoding."""
    acc = accuracy_frame(points)
    rows = []
    for _, point in acc[acc["reached"]].iterrows() if not acc.empty else ():
        by_length: dict[int, list[float]] = {}
        for seed_entry in as_list(point.get("extrapolation")):
            for entry in as_list(seed_entry.get("accuracies")):
                if isinstance(entry.get("accuracy"), int | float):
                    by_length.setdefault(int(entry["seq_len"]), []).append(entry["accuracy"])
        if not by_length:
            continue
        by_length[int(point["seq_len"])] = list(point["seed_values"])
        for length, values in sorted(by_length.items()):
            span = interval(values)
            rows.append(
                {
                    "run": point["run"],
                    "task": point["task"],
                    "mixer": point["mixer"],
                    "train_len": int(point["seq_len"]),
                    "seq_len": length,
                    "acc_mean": span.mean,
                    "ci95_half": span.half,
                    "seeds": span.n,
                    "chance_accuracy": point.get("chance_accuracy"),
                    "positional": point.get("positional"),
                }
            )
    return pd.DataFrame(rows)


def positional_note(rows: pd.DataFrame) -> str:
    """Each mixer's positional encoding as its class declares it."""
    named = rows.drop_duplicates("mixer").sort_values("mixer")
    return "; ".join(
        f"{r['mixer']}: {r['positional'] if isinstance(r['positional'], str) else 'not recorded'}"
        for _, r in named.iterrows()
    )


def extrapolation_figure(points: pd.DataFrame) -> FigureResult | None:
    rows = extrapolation_rows(points)
    if rows.empty:
        return None
    runs, tasks = sorted(rows["run"].unique()), sorted(rows["task"].unique())
    palette = figures.mixer_palette(points)
    fig, axes = panel_grid(tasks, runs)
    for (run, task), ax in axes.items():
        panel = rows[(rows["run"] == run) & (rows["task"] == task)]
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: length_label(v)))
        ax.set_xlabel("test length (tokens)")
        percent_axis(ax)
        if panel.empty:
            ax.set_title(f"{task} — {run}", fontsize=9, pad=9)
            figures.leave_empty(ax)
            continue
        ax.set_title(f"{task}, trained at {panel['train_len'].iloc[0]} — {run}",
                     fontsize=9, pad=9)  # fmt: skip
        ax.axvline(panel["train_len"].iloc[0], color="grey", linewidth=1, alpha=0.5)
        for mixer, mine in panel.groupby("mixer", sort=True):
            mine = mine.sort_values("seq_len")
            ax.errorbar(
                mine["seq_len"].to_numpy(float),
                100 * mine["acc_mean"].to_numpy(float),
                yerr=100 * mine["ci95_half"].fillna(0).to_numpy(float),
                color=palette.get(mixer, "grey"),
                marker="o",
                markersize=4,
                capsize=3,
            )
        chance_line(ax, panel)
    title = "Length extrapolation"
    fig.suptitle(title, y=1 - 0.2 / fig.get_figheight())
    legend(fig, palette, sorted(rows["mixer"].unique()))
    caption = (
        f"{title}: test accuracy against test length for the tasks trained at one length "
        "(the grey line, where the first point is the task's own test) and tested at longer "
        "ones, the same trained models; error bars: the 95% t-interval over seeds; dotted: "
        "chance. Positional encodings, as each mixer's class declares them: "
        f"{positional_note(rows)}."
    )
    return FigureResult("accuracy_extrapolation", title, caption, fig)

"""The accuracy section's tables: the generated and synthetic tasks, the
LRA release beside the papers' published rows (published.py), and every
point with the protocol's numbers; under each task table, the pairs of
mixers not distinguishable on a task (accuracy_points.py, intervals.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from schema import LRA_PREFIX, PARAMS_TOLERANCE, Status

from .accuracy_points import (
    AT_CHANCE,
    accuracy_frame,
    indistinct_pairs,
    interval_of,
    task_columns,
    tried,
)
from .intervals import ALPHA, ONE_SEED
from .published import LRA_TASKS, PUBLISHED_LRA, TASK_TITLES, score_text
from .tables import Table


def cell_text(row: pd.Series) -> str:
    """What one table cell says: '63.2 ± 1.4', 'at chance: 10.1 ± 0.8',
    '63.2 (1 seed: no interval)', or the status of a point that broke."""
    if not row["reached"]:
        return str(row["status"])
    text = interval_of(row).text()
    if row["at_chance"]:
        text = f"{AT_CHANCE}: {text}"
    if row["status"] == Status.TIMEOUT:
        text += " (timeout)"
    return text


def mean_of_all(scores: list[float]) -> float:
    """The LRA convention: an average only over a full row, else N/A."""
    return float(np.mean(scores)) if scores and not any(map(math.isnan, scores)) else math.nan


def footnote(acc: pd.DataFrame, tasks: Sequence[str]) -> list[str]:
    """The pairs of mixers not distinguishable on each task of a table: a
    heading and a list (two blocks, so that both pages show a list)."""
    lines = []
    rank = {task: k for k, task in enumerate(tasks)}  # the table's column order
    chosen = acc[acc["task"].isin(tasks)]
    groups = sorted(chosen.groupby(["run", "task"]), key=lambda g: (g[0][0], rank[g[0][1]]))
    for (run, task), group in groups:
        pairs = indistinct_pairs(group)
        if pairs:
            named = "; ".join(f"{a} and {b}" for a, b in pairs)
            lines.append(f"- {run}, {task}: {named}")
    if not lines:
        return []
    head = (
        f"Not distinguishable (Welch's t-test at α = {ALPHA:g} on their seed accuracies does "
        "not tell them apart on the task):"
    )
    return [head, "\n".join(lines)]


def accuracy_table(points: pd.DataFrame) -> Table | None:
    """The generated and synthetic tasks (the LRA release has a table of its
    own), one row per run and mixer, a cell per task: mean ± CI."""
    acc = accuracy_frame(points)
    if acc.empty:
        return None
    lra_only = acc["task"].astype(str).str.startswith(LRA_PREFIX).all()
    if lra_only:
        return None
    tasks = task_columns(acc, lra=False)
    never_ran = sorted(
        set(acc.loc[~acc["task"].astype(str).str.startswith(LRA_PREFIX), "task"].dropna())
        - set(tasks)
    )
    rows = []
    for (run, mixer), group in acc.groupby(["run", "mixer"], sort=True):
        by_task = group.set_index("task")
        row: dict[str, Any] = {"run": run, "mixer": mixer}
        for task in tasks:
            row[task] = cell_text(by_task.loc[task]) if task in by_task.index else "N/A"
        means = [
            float(by_task.loc[t, "acc_mean"]) if t in by_task.index else math.nan for t in tasks
        ]
        row["average"] = mean_of_all(means)
        row["tasks_run"] = f"{sum(not math.isnan(m) for m in means)}/{len(tasks)}"
        broke = group[~group["ok"] & group["task"].isin(tasks)]
        row["not_ok"] = "; ".join(
            f"{t}: {s}" for t, s in zip(broke["task"], broke["status"], strict=True)
        )
        rows.append(row)
    columns = ["run", "mixer", *tasks, "average", "tasks_run", "not_ok"]
    caption = (
        "Test accuracy (percent) per task: the mean over seeds ± the half-width of its 95% "
        f"t-interval; '{ONE_SEED}' where one seed ran; '{AT_CHANCE}' where the interval "
        "includes the chance level (the majority class on test). A point stopped by its time "
        "budget shows the accuracy it reached and '(timeout)'; a point that broke shows its "
        "status; N/A: not run. The average is over every task of the table, N/A unless all "
        "of them have a figure. Parameters, tokens and learning rates are in the points table."
    )
    if never_ran:
        caption += (
            f" Not run for any mixer (see 'Points that did not run'): {', '.join(never_ran)}."
        )
    frame = pd.DataFrame(rows, columns=columns)
    return Table("accuracy", "Accuracy per task", caption, frame, percent=("average",))


# The points' numbers in two tables, each narrow enough for a laptop's screen:
# what was measured, then what the protocol rests on.
RESULT_COLUMNS = [
    "run", "task", "mixer", "accuracy", "ci95_half", "seeds", "mark", "chance_accuracy",
    "not_distinguishable_from", "status",
]  # fmt: skip
PROTOCOL_COLUMNS = [
    "run", "task", "mixer", "params", "params_target", "params_vs_target", "tokens_seen",
    "lr", "lr_grid_val", "val_accuracy", "step_s",
]  # fmt: skip


def lr_grid_text(row: pd.Series) -> str:
    """'1e-3: 52.1; 3e-3: 60.2 (chosen)': each rate's validation accuracy; where the
    grid has more than one weight decay, each pair's ('1e-3 wd 0.1: 52.1')."""
    grid = row.get("lr_grid")
    if not isinstance(grid, list) or not grid:
        return ""
    entries = [entry for entry in grid if isinstance(entry, dict)]
    pairs = len({entry.get("weight_decay") for entry in entries}) > 1
    parts = []
    for entry in entries:
        lr, wd, val = entry.get("lr"), entry.get("weight_decay"), entry.get("val_accuracy")
        score = f"{100 * val:.1f}" if isinstance(val, int | float) else str(entry.get("status"))
        same_decay = not pairs or wd == row.get("weight_decay")
        mark = " (chosen)" if lr is not None and lr == row.get("lr") and same_decay else ""
        label = f"{lr:g}" + (f" wd {wd:g}" if pairs and isinstance(wd, int | float) else "")
        parts.append(f"{label}: {score}{mark}" if isinstance(lr, int | float) else score)
    return "; ".join(parts)


def point_frame(acc: pd.DataFrame) -> pd.DataFrame:
    """Every accuracy point with the protocol's numbers beside it."""
    frame = pd.DataFrame(
        {
            "run": acc["run"],
            "task": acc["task"],
            "mixer": acc["mixer"],
            "accuracy": acc["acc_mean"],
            "ci95_half": acc["ci95_half"],
            "seeds": acc["seeds"],
            "mark": [
                AT_CHANCE if c else (ONE_SEED if r and n < 2 else "")
                for c, r, n in zip(acc["at_chance"], acc["reached"], acc["seeds"], strict=True)
            ],
            "chance_accuracy": acc["chance_accuracy"],
            "not_distinguishable_from": acc["not_distinguishable"],
            "status": acc["status"],
            "params": acc["params"],
            "params_target": acc["params_target"],
            "params_vs_target": [
                f"{p / t - 1:+.1%}" if pd.notna(p) and pd.notna(t) and t else ""
                for p, t in zip(acc["params"], acc["params_target"], strict=True)
            ],
            "tokens_seen": acc["tokens_seen"],
            "lr": acc["lr"],
            "lr_grid_val": [lr_grid_text(row) for _, row in acc.iterrows()],
            "val_accuracy": acc["val_accuracy"],
            "step_s": acc["step_s"],
        }
    )
    return frame.sort_values(["run", "task", "mixer"], kind="stable").reset_index(drop=True)


def points_tables(points: pd.DataFrame) -> list[Table]:
    """The accuracy points: their results, then the protocol behind each."""
    acc = tried(accuracy_frame(points))
    if acc.empty:
        return []
    frame = point_frame(acc)
    results = Table(
        "accuracy_points",
        "Accuracy points",
        "Every accuracy point: accuracy (percent, mean over seeds) and ci95_half (the "
        "half-width of its 95% t-interval; N/A with one seed), the chance level, and the "
        f"mixers Welch's t-test (α = {ALPHA:g}) does not tell from it on the task.",
        frame[RESULT_COLUMNS],
        percent=("accuracy", "ci95_half", "chance_accuracy"),
    )
    protocol = Table(
        "accuracy_protocol",
        "What each accuracy point rests on",
        "Per point: the model's parameters and the attention model's it is matched to "
        f"(±{PARAMS_TOLERANCE:.0%}), the training tokens of one run, the learning rate chosen "
        "on validation with each rate's (each rate and weight decay's, where the task has a "
        "weight-decay grid) validation accuracy (lr_grid_val), and the median "
        "seconds per training step.",
        frame[PROTOCOL_COLUMNS],
        percent=("val_accuracy",),
    )
    return [results, protocol]


def lra_table(points: pd.DataFrame) -> Table | None:
    """The LRA release's tasks, measured, with the papers' published rows
    beside them; where the run has none of the release's tasks, the
    published rows alone, said to be the papers' numbers."""
    acc = accuracy_frame(points)
    if acc.empty:
        return None
    published = [
        {
            "run": "published",
            "mixer": row.model,
            "source": row.source,
            **{task: score_text(row.scores.get(task)) for task in LRA_TASKS},
            "average": f"{row.average:.2f}",
            "average_of": row.average_of,
        }
        for row in PUBLISHED_LRA
    ]
    columns = ["run", "mixer", "source", *LRA_TASKS, "average", "average_of"]
    lra = tried(acc[acc["task"].astype(str).str.startswith(LRA_PREFIX)])
    titles = ", ".join(f"{task} = {title}" for task, title in TASK_TITLES.items())
    if lra.empty:
        caption = (
            "The papers' numbers, not measured here: the selected runs trained on no task of "
            "the LRA release (lra-*; a point skipped for want of its data is under 'Points "
            "that did not run', and python -m tasks check says what --data-dir holds). Accuracy in "
            "percent as published, FAIL: no better than chance; each average is the paper's "
            f"own. Columns: {titles}."
        )
        frame = pd.DataFrame(published, columns=columns)
        return Table(
            "accuracy_lra_published", "Long Range Arena: published results", caption, frame
        )
    measured_tasks = [t for t in LRA_TASKS if t in set(lra.loc[lra["reached"], "task"])]
    rows = []
    for (run, mixer), group in lra.groupby(["run", "mixer"], sort=True):
        by_task = group.set_index("task")
        row: dict[str, Any] = {"run": run, "mixer": mixer, "source": "measured here"}
        for task in LRA_TASKS:
            row[task] = cell_text(by_task.loc[task]) if task in by_task.index else "not run"
        means = [
            float(by_task.loc[t, "acc_mean"]) if t in by_task.index else math.nan
            for t in measured_tasks
        ]
        average = mean_of_all(means)
        row["average"] = "N/A" if math.isnan(average) else f"{100 * average:.1f}"
        row["average_of"] = f"{len(measured_tasks)} tasks"
        rows.append(row)
    caption = (
        "The LRA release's tasks (percent): measured rows show the mean over seeds ± the "
        f"half-width of its 95% t-interval ('{ONE_SEED}' with one seed; '{AT_CHANCE}', the LRA "
        "paper's FAIL, where it includes the majority class). Rows labelled 'published' are "
        "the papers' numbers at the papers' model sizes and budgets, not measured here, "
        "with their source. A measured average is over the release tasks this run measured, "
        f"N/A unless the mixer has all of them. Columns: {titles}."
    )
    frame = pd.DataFrame([*rows, *published], columns=columns)
    return Table("accuracy_lra", "Long Range Arena", caption, frame)

"""Accuracy a reader can trust: the section that states the protocol at its
head and shows every number with what it rests on.

Each accuracy point (workload ``accuracy``, one per task and mixer; see
suite/test_accuracy.py) records its seeds' test accuracies at the learning
rate chosen on validation, the grid it was chosen from, the task's chance
level (the majority class on test), the parameters and the attention
model's count they are matched to, the tokens seen, the seconds per step
and, where recorded, the decoding state's bytes. From them:

- the tables: mean ± a 95% Student-t interval over the seed accuracies per
  cell ("1 seed: no interval" where there is one seed); "at chance" where
  the interval includes chance (the LRA paper's FAIL); the pairs of mixers
  whose intervals overlap on a task named as not distinguishable; the
  LRA-release table with the papers' published rows beside it (published.py);
- the figures, each with its intervals as error bars: a heatmap of every
  task; accuracy against sequence length over the MQAR sweep (a panel per
  number of key-value pairs); accuracy against decoding-state bytes
  (Zoology's view); accuracy against training cost with the Pareto front,
  per task;
- the Zoology claim (registered through claims.register_claims): on MQAR,
  attention stays near 100% while mixers with a fixed-size decoding state
  fall as the number of pairs grows.

Tasks whose name starts with ``mqar`` are the MQAR family (``mqar``,
``mqar-L512-kv64``): the number of pairs comes from ``task_config`` or the
name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from schema import LRA_PREFIX, Status, Workload

from . import figures  # first of the package's: it puts matplotlib on the Agg backend
from .claims import FAILS, HOLDS, INCONCLUSIVE, Claim, Scope, Verdict, register_claims
from .figures import FigureResult
from .published import LRA_TASKS, PUBLISHED_LRA, TASK_TITLES, score_text
from .spread import t_975
from .tables import Table, baseline_among
from .units import human, length_label

#: a point whose runs ran out of their time budget still measured the accuracy they reached
REACHED = (Status.OK, Status.TIMEOUT)
#: models are matched to within this fraction of the attention model's parameters
PARAMS_TOLERANCE = 0.05
MQAR_PREFIX = "mqar"
#: "near 100%": the Zoology claim's bar for attention on MQAR
NEAR_PERFECT = 0.9
#: a state that grows less than this over the lengths it was measured at is fixed
FIXED_STATE_GROWTH = 1.05
#: where a run records no state_bytes: the families whose decoding state is
#: fixed in length, and those whose state grows (attention's KV cache, Hyena's
#: exact step keeps the history)
FIXED_STATE_FAMILIES = ("retnet", "mamba")
GROWING_STATE_FAMILIES = ("attention", "hyena")
ZOOLOGY = (
    'Zoology (Arora et al. 2023, "Zoology: Measuring and Improving Recall in Efficient '
    'Language Models", arXiv:2312.04927)'
)
ONE_SEED = "1 seed: no interval"
AT_CHANCE = "at chance"

# -- one point: its seeds and their interval --------------------------------------


@dataclass(frozen=True)
class Interval:
    """The mean of a point's seed accuracies and its 95% t-interval
    (``half`` is NaN with one seed: no interval)."""

    mean: float
    n: int
    half: float = math.nan

    @property
    def known(self) -> bool:
        return self.n >= 2 and math.isfinite(self.half)

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high

    def includes(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, unit: str = "") -> str:
        """'63.2 ± 1.4' (percent), or '63.2 (1 seed: no interval)'."""
        if not math.isfinite(self.mean):
            return "N/A"
        if not self.known:
            return f"{100 * self.mean:.1f}{unit} ({ONE_SEED})"
        return f"{100 * self.mean:.1f} ± {100 * self.half:.1f}{unit}"


def interval(values: Sequence[float]) -> Interval:
    """mean ± t(0.975, n-1) · s / √n over the seeds' accuracies."""
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not values:
        return Interval(math.nan, 0)
    mean = float(np.mean(values))
    if len(values) < 2:
        return Interval(mean, len(values))
    s = float(np.std(values, ddof=1))
    return Interval(mean, len(values), t_975(len(values) - 1) * s / math.sqrt(len(values)))


def seed_values(row: pd.Series) -> list[float]:
    """The test accuracies of the seeds that reached one (older runs record
    only the mean: one value, no interval)."""
    seeds = row.get("seed_accuracies")
    if isinstance(seeds, list) and seeds:
        return [
            float(s["accuracy"])
            for s in seeds
            if isinstance(s, dict)
            and s.get("status", Status.OK) in REACHED
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
    match = re.search(r"(?:^|-)kv(\d+)", str(row["task"]))
    return float(match.group(1)) if match else math.nan


def is_reached(row: pd.Series) -> bool:
    return row["status"] in REACHED and pd.notna(row["accuracy"])


# -- the points of the section ------------------------------------------------------

FRAME_COLUMNS = ("seeds", "acc_mean", "ci95_half", "ci95_low", "ci95_high", "reached", "at_chance")


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
    intervals = [interval(seed_values(row)) for _, row in acc.iterrows()]
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
    """The mixers of one task (one run) whose intervals overlap."""
    rows = [(r["mixer"], interval_of(r)) for _, r in group.iterrows() if r["reached"]]
    rows = sorted((m, i) for m, i in rows if i.known)
    return [
        (a, b)
        for k, (a, first) in enumerate(rows)
        for b, second in rows[k + 1 :]
        if first.overlaps(second)
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


# -- the protocol, at the head of the section ---------------------------------------


def protocol_blocks(acc: pd.DataFrame) -> list[str]:
    """The protocol every number of the section follows, checked against the
    points where they allow it (parameters, tokens, seeds)."""
    if acc.empty:
        return []
    ran = acc[acc["reached"]]
    lines = [
        "- parameters matched: each model is sized to within ±5% of the attention model's "
        "parameters on that task (params beside params_target in the points table); "
        + params_check(ran),
        "- equal steps and tokens: every mixer trains the same steps on the same tokens of "
        "a task (tokens_seen, per run); " + tokens_check(ran),
        "- learning rate chosen per mixer on validation: seed 0 trains at every rate of the "
        "task's grid and the rate with the best validation accuracy is kept (lr; lr_grid "
        "holds each rate's validation accuracy), never chosen on test;",
        f"- seeds: {seeds_text(ran)} at the chosen rate;",
        "- mean ± 95% confidence interval: the mean test accuracy over the seeds ± "
        "t(0.975, n-1)·s/√n, a Student-t interval over the seed accuracies; a point with one "
        f"seed has no interval ('{ONE_SEED}');",
        "- chance: the majority class on the test split (chance_accuracy); a mixer whose "
        f"interval includes it is '{AT_CHANCE}' (the LRA paper's FAIL; with one seed: at or "
        "below it);",
        "- not distinguishable: two mixers whose intervals overlap on a task cannot be told "
        "apart there; each table lists those pairs under it (only points with an interval "
        "are compared).",
    ]
    head = (
        "How these numbers were made (suite/test_accuracy.py), the same for every mixer; "
        "each figure draws the intervals as error bars."
    )
    return [head, "\n".join(lines)]


def params_check(ran: pd.DataFrame) -> str:
    matched = ran[ran["params"].notna() & ran["params_target"].notna()]
    if matched.empty:
        return "this run records no params_target, so the match is not checked here."
    off = (matched["params"] / matched["params_target"] - 1).abs() > PARAMS_TOLERANCE + 1e-9
    if not off.any():
        return f"all {len(matched)} points with a target are within it."
    named = ", ".join(
        f"{r['mixer']} on {r['task']} ({r['params'] / r['params_target'] - 1:+.1%})"
        for _, r in matched[off].iterrows()
    )
    return f"outside it: {named}."


def tokens_check(ran: pd.DataFrame) -> str:
    seen = ran[ran["tokens_seen"].notna()]
    if seen.empty:
        return "this run records no tokens_seen."
    unequal = [
        task
        for (_, task), group in seen.groupby(["run", "task"], sort=True)
        if group["tokens_seen"].nunique() > 1
    ]
    if not unequal:
        return "equal across the mixers of every task here."
    return f"they differ on {', '.join(sorted(set(unequal)))} (see the points table)."


def seeds_text(ran: pd.DataFrame) -> str:
    counts = sorted(set(ran["seeds"].astype(int)))
    if not counts:
        return "no point reached an accuracy"
    if counts == [1]:
        return f"1 seed per point ({ONE_SEED})"
    if len(counts) == 1:
        return f"{counts[0]} seeds per point"
    return f"{counts[0]} to {counts[-1]} seeds per point (fewer where runs broke)"


# -- the tables ------------------------------------------------------------------


def mean_of_all(scores: list[float]) -> float:
    """The LRA convention: an average only over a full row, else N/A."""
    return float(np.mean(scores)) if scores and not any(map(math.isnan, scores)) else math.nan


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
    return ["Not distinguishable (their 95% intervals overlap on the task):", "\n".join(lines)]


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
    """'1e-3: 52.1; 3e-3: 60.2 (chosen)': each rate's validation accuracy."""
    grid = row.get("lr_grid")
    if not isinstance(grid, list) or not grid:
        return ""
    parts = []
    for entry in grid:
        if not isinstance(entry, dict):
            continue
        lr, val = entry.get("lr"), entry.get("val_accuracy")
        score = f"{100 * val:.1f}" if isinstance(val, int | float) else str(entry.get("status"))
        chosen = " (chosen)" if lr is not None and lr == row.get("lr") else ""
        parts.append(f"{lr:g}: {score}{chosen}" if isinstance(lr, int | float) else score)
    return "; ".join(parts)


def tried(acc: pd.DataFrame) -> pd.DataFrame:
    """The points that started training: a skipped one (its data not on disk)
    is listed once, with its reason, under 'Points that did not run'."""
    return acc[acc["status"] != Status.SKIPPED]


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
        "mixers whose intervals overlap it on the task.",
        frame[RESULT_COLUMNS],
        percent=("accuracy", "ci95_half", "chance_accuracy"),
    )
    protocol = Table(
        "accuracy_protocol",
        "What each accuracy point rests on",
        "Per point: the model's parameters and the attention model's it is matched to "
        "(±5%), the training tokens of one run, the learning rate chosen on validation with "
        "each rate's validation accuracy (lr_grid_val), and the median seconds per "
        "training step.",
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


# -- the Zoology claim -------------------------------------------------------------


def state_growth(mixer: str, points: pd.DataFrame) -> tuple[bool | None, str]:
    """Whether a mixer's decoding state is fixed in length, and how that is
    known: its state_bytes at two lengths or more (accuracy points, else
    decode points, at one width), else its family."""
    mine = points[(points["mixer"] == mixer) & (pd.to_numeric(points["state_bytes"]) > 0)]
    for workload in (Workload.ACCURACY, Workload.DECODE):
        rows = mine[mine["workload"] == workload]
        for _, same in rows.groupby(["d_model", "n_layers", "batch"], dropna=False):
            by_length = same.groupby("seq_len")["state_bytes"].median().sort_index()
            if len(by_length) < 2:
                continue
            growth = by_length.iloc[-1] / by_length.iloc[0]
            span = f"L={length_label(by_length.index[0])}–{length_label(by_length.index[-1])}"
            if growth <= FIXED_STATE_GROWTH:
                return True, f"state_bytes constant over {span}"
            return False, f"state_bytes grows {growth:.1f}× over {span}"
    family = mixer.split("/", 1)[0]
    if family in FIXED_STATE_FAMILIES:
        return True, f"the {family} family's state is fixed (no state_bytes at two lengths)"
    if family in GROWING_STATE_FAMILIES:
        return False, f"the {family} family's state grows with length"
    return None, "no state_bytes at two lengths and an unknown family"


def mqar_points(points: pd.DataFrame) -> pd.DataFrame:
    """The MQAR points that reached an accuracy and know their number of pairs."""
    acc = accuracy_frame(points[points["task"].map(is_mqar)])
    return acc[acc["reached"] & acc["kv_pairs"].notna()]


def sides(low: float, high: float, bar: float) -> bool | None:
    """True where [low, high] lies at or above bar, False where below it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return True if low >= bar else False if high < bar else None


@dataclass(frozen=True, kw_only=True)
class RecallFallsWithFixedState(Claim):
    """Zoology's finding on multi-query associative recall: attention keeps
    near-perfect recall as the number of key-value pairs grows, while a mixer
    whose decoding state does not grow with the length falls. One verdict
    per fixed-state mixer, at the longest length where it and attention ran
    two pair counts or more, from the points' 95% intervals: inconclusive
    where they do not separate (or one seed gave none), or too few pair
    counts were run."""

    near: float = NEAR_PERFECT

    @property
    def criterion(self) -> str:
        return (
            f"attention's 95% interval ≥ {self.near:.0%} at every number of pairs; the "
            "fixed-state mixer's at the most pairs below its own at the fewest and below "
            "attention's"
        )

    def check(self, scope: Scope) -> Iterator[Verdict]:
        mqar = mqar_points(scope.everyone)
        if mqar.empty:
            return  # no MQAR in this run: nothing to say
        baseline = baseline_among(mqar["mixer"])
        classified = {m: state_growth(m, scope.everyone) for m in sorted(set(mqar["mixer"]))}
        fixed = [m for m, (is_fixed, _) in classified.items() if is_fixed]
        if baseline is None or not fixed:
            missing = "an attention variant" if baseline is None else "a fixed-state mixer"
            measured = f"MQAR has no point of {missing}"
            yield self.verdict(scope, "fixed-state mixers", measured, INCONCLUSIVE)
            return
        for mixer in fixed:
            yield self.judge(scope, mqar, baseline, mixer, classified[mixer][1])

    def judge(
        self, scope: Scope, mqar: pd.DataFrame, baseline: str, mixer: str, how: str
    ) -> Verdict:
        family = mixer.split("/", 1)[0]
        both = mqar[mqar["mixer"].isin([baseline, mixer])]
        # one point per size: a task named plainly 'mqar' may repeat a sweep's size
        both = both.drop_duplicates(["mixer", "seq_len", "kv_pairs"], keep="last")
        lengths = []
        for length, at in both.groupby("seq_len"):
            common = set(at.loc[at["mixer"] == baseline, "kv_pairs"]) & set(
                at.loc[at["mixer"] == mixer, "kv_pairs"]
            )
            if len(common) >= 2:
                lengths.append((length, sorted(common)))
        if not lengths:
            counts = sorted(set(mqar.loc[mqar["mixer"] == mixer, "kv_pairs"]))
            measured = (
                "too few pair counts: "
                + (", ".join(f"kv={p:g}" for p in counts) or "none")
                + f" run beside {baseline} at one length; needs two or more ({how})"
            )
            return replace(self.verdict(scope, mixer, measured, INCONCLUSIVE), family=family)
        length, pairs = lengths[-1]
        at = both[both["seq_len"] == length].set_index(["mixer", "kv_pairs"])
        attention = {p: interval_of(at.loc[(baseline, p)]) for p in pairs}
        fewest, most = (
            interval_of(at.loc[(mixer, pairs[0])]),
            interval_of(at.loc[(mixer, pairs[-1])]),
        )
        near = [sides(i.low, i.high, self.near) for i in attention.values()]
        stays = False if False in near else True if all(near) else None
        falls: bool | None = None
        if most.known and fewest.known and attention[pairs[-1]].known:
            below = most.high < fewest.low and most.high < attention[pairs[-1]].low
            not_below = most.low >= self.near or most.low > fewest.high
            falls = True if below else False if not_below else None
        if stays is False or falls is False:
            verdict = FAILS
        elif stays and falls:
            verdict = HOLDS
        else:
            verdict = INCONCLUSIVE
        measured = (
            f"at L={length_label(length)}: {baseline} "
            + " → ".join(f"{attention[p].text('%')} (kv={p:g})" for p in (pairs[0], pairs[-1]))
            + f"; {mixer} {fewest.text('%')} → {most.text('%')}; {how}"
        )
        if verdict == INCONCLUSIVE:
            known = all(i.known for i in (*attention.values(), fewest, most))
            measured += "; the intervals do not separate" if known else f"; {ONE_SEED}"
        # no one interval: the verdict rests on several, each named in ``measured``
        return replace(self.verdict(scope, mixer, measured, verdict), family=family)


ZOOLOGY_CLAIM = RecallFallsWithFixedState(
    text="On MQAR attention stays near 100% while fixed-state mixers fall as the pairs grow",
    source=ZOOLOGY,
)
# Checked in every run with attention's points: the claim compares the other
# mixers to attention, and finds the fixed-state ones from the data.
register_claims("attention", ZOOLOGY_CLAIM)


# -- the figures ---------------------------------------------------------------------


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
               label="1 seed: no interval"),
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


# -- the section -------------------------------------------------------------------


def table_blocks(points: pd.DataFrame) -> list[str | Table | None]:
    """The protocol, then the tables, each with its not-distinguishable pairs."""
    acc = accuracy_frame(points)
    if acc.empty:
        return []
    table = accuracy_table(points)
    lra = lra_table(points)
    lra_tasks = [t for t in LRA_TASKS if t in set(acc["task"])]
    return [
        *protocol_blocks(acc),
        table,
        *(footnote(acc, task_columns(acc, lra=False)) if table is not None else []),
        lra,
        *(footnote(acc, lra_tasks) if lra is not None and lra.name == "accuracy_lra" else []),
        *points_tables(points),
    ]


def figure_blocks(points: pd.DataFrame) -> list[FigureResult | str | None]:
    if accuracy_frame(points).empty:
        return []
    return [
        accuracy_heatmap(points),
        length_figure(points),
        state_figure(points),
        *pareto_figures(points),
    ]

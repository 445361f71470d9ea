"""MAD's score per task and mixer (Poli et al. 2024, "Mechanistic Design and
Scaling of Hybrid Architectures", athms/mad-lab: mad/analysis.py
``compute_model_mad_scores``): the mean, over a task's difficulty settings,
of the best test accuracy over the training grid.

A MAD point is an accuracy point whose ``task_config`` names its setting in
``difficulty`` (tasks/synthetic/mad.py: "baseline", "seq_len=256", ...,
"reduced" for the default profile's one cut-down setting); its task is its
``generator`` (fuzzy_recall, noisy_recall, memorization, compression). Here a
setting's accuracy is the mean over the point's seeds at the (learning rate,
weight decay) pair chosen on validation accuracy (the suite's protocol; the paper
profile's grid is MAD's), where MAD takes the best test accuracy over the same
grid: the suite's choice never looks at the test split, so its score is at most
MAD's from the same runs. Compression is scored per token of the reconstructed
sequence, as MAD scores it, but without the compression token that MAD's targets
also hold (mad/data/instances.py:509 returns the inputs as the targets).

    table = mad_table(points)
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .accuracy_points import accuracy_frame
from .tables import Table

DIFFICULTY = "difficulty"
COLUMNS = ["run", "mixer", "mad_task", "mad_score", "chance_accuracy", "settings", "not_reached"]


def setting_of(config: object) -> tuple[str, str] | None:
    """(MAD task, difficulty setting) of a point's task_config; None: not MAD's."""
    if isinstance(config, Mapping) and isinstance(config.get(DIFFICULTY), str):
        return str(config.get("generator")), config[DIFFICULTY]
    return None


def mad_points(points: pd.DataFrame) -> pd.DataFrame:
    """The accuracy points of MAD's settings, with their task and setting."""
    acc = accuracy_frame(points)
    if acc.empty or "task_config" not in acc.columns:
        return acc.iloc[0:0]
    found = acc["task_config"].map(setting_of)
    acc = acc[found.notna()].copy()
    acc["mad_task"] = [s[0] for s in found.dropna()]
    acc["difficulty"] = [s[1] for s in found.dropna()]
    return acc


def mad_scores(points: pd.DataFrame) -> pd.DataFrame:
    """One row per run, mixer and MAD task: the mean over the settings that
    reached an accuracy of their seeds' mean (``mad_score``, a fraction), the
    mean of the same settings' chance levels (``chance_accuracy``: the most
    common target on test), how many settings that is of those tried, and the
    settings that reached none."""
    acc = mad_points(points)
    rows = []
    for (run, mixer, task), group in acc.groupby(["run", "mixer", "mad_task"], sort=True):
        reached = group[group["reached"]]
        missed = sorted(set(group["difficulty"]) - set(reached["difficulty"]))
        rows.append(
            {
                "run": run,
                "mixer": mixer,
                "mad_task": task,
                "mad_score": reached["acc_mean"].mean() if not reached.empty else float("nan"),
                # the mean of no setting is NaN, as mad_score's
                "chance_accuracy": reached["chance_accuracy"].mean(),
                "settings": f"{reached['difficulty'].nunique()} of {group['difficulty'].nunique()}",
                "not_reached": ", ".join(missed),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def mad_table(points: pd.DataFrame) -> Table | None:
    """MAD's score per task and mixer, with its protocol; None: no MAD point."""
    frame = mad_scores(points)
    if frame.empty:
        return None
    caption = (
        "MAD score (Poli et al. 2024, athms/mad-lab mad/analysis.py compute_model_mad_scores): "
        "per task, the mean over its difficulty settings (MAD's baseline and each change "
        "alone; the default profile runs one cut-down setting, 'reduced') of a setting's test "
        "accuracy. A setting's accuracy here is the mean over its seeds at the (learning "
        "rate, weight decay) pair chosen on validation accuracy (the paper profile's grid is "
        "MAD's, lr 1e-4, 5e-4, 1e-3 x weight decay 0, 0.1; the default profile's has one "
        "weight decay); MAD takes the best test accuracy over that grid, so a score here is "
        "at most MAD's from the same runs. Compression reconstructs the whole sequence from "
        "the last position's output through MAD's MLP decoder and is scored per token of "
        "that reconstruction, without the compression token MAD also scores. Chance: the "
        "mean over the same settings of the most common target's test accuracy. settings: "
        "those that reached an accuracy, of those tried; a setting that reached none is "
        "named and left out of the mean."
    )
    return Table(
        "mad_score", "MAD score per task", caption, frame, percent=("mad_score", "chance_accuracy")
    )

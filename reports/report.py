"""Assembles the report's sections from the tidy table of points: the runs,
the claims, training and inference cost, the curves against length, scaling
exponents, accuracy, and every point that did not run."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from . import figures
from .claims import FAILS, HOLDS, NOT_MEASURED, claims_table
from .compare import compare_runs, summary_line
from .render import Section
from .tables import (
    FitRange,
    Table,
    accuracy_table,
    inference_cost_table,
    scaling_table,
    training_cost_table,
)

# Keys a run should record; a run that never does gets a note, so that an
# empty column reads as "not recorded", not as "zero".
EXPECTED_KEYS = ("device", "dtype", "batch", "peak_mem_bytes", "tokens_per_s", "flops")


def joined(values: pd.Series) -> str | None:
    return ", ".join(sorted(set(values.dropna()))) or None


def runs_table(points: pd.DataFrame) -> Table:
    grouped = points.groupby("run", sort=True)
    frame = pd.DataFrame(
        {
            "file": grouped["run_ref"].first(),
            "profile": grouped["profile"].first(),
            "commit": grouped["commit"].first(),
            "dirty": grouped["commit_dirty"].first(),
            "date": grouped["run_datetime"].first(),
            "cpu": grouped["machine"].first(),
            "gpu": grouped["machine_gpu"].first(),
            "devices": grouped["device"].agg(joined),
            "dtypes": grouped["dtype"].agg(joined),
            "torch": grouped["machine_torch"].first(),
            "cuda": grouped["machine_cuda"].first(),
            "threads": grouped["machine_threads"].first(),
            "matmul_peak_flops_per_s": grouped["machine_matmul_peak_flops_per_s"].first(),
            "points_ok": grouped["ok"].sum(),
            "points_not_ok": grouped["ok"].agg(lambda ok: int((~ok).sum())),
        }
    ).reset_index()
    caption = "Each run read, by the label used in every table and figure."
    return Table("runs", "Runs", caption, frame)


def not_ok_table(points: pd.DataFrame) -> Table:
    columns = ["run", "workload", "mixer", "task", "seq_len", "status", "reason"]
    frame = points.loc[~points["ok"], columns].sort_values(columns[:5], kind="stable")
    caption = "Every point that did not run to completion, with the harness's reason."
    return Table("not_ok", "Points that did not run", caption, frame.reset_index(drop=True))


def missing_key_notes(points: pd.DataFrame) -> list[str]:
    notes = []
    for run, group in points.groupby("run"):
        missing = [key for key in EXPECTED_KEYS if group[key].isna().all()]
        if missing:
            notes.append(f"{run} records no {', '.join(missing)} (an older run?): N/A there.")
    return notes


def notes_text(warnings: Sequence[str], points: pd.DataFrame) -> str:
    lines = [*warnings, *missing_key_notes(points)]
    return "\n".join(f"- {line}" for line in lines)


def claims_section(table: Table) -> Section:
    counts = table.frame["verdict"].value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in (HOLDS, FAILS, NOT_MEASURED))
    return Section("Claims", text=f"Of {len(table.frame)} checks: {summary}.", tables=[table])


def report_sections(points: pd.DataFrame, fit: FitRange, warnings: Sequence[str]) -> list[Section]:
    made = {figure.name: figure for figure in figures.all_figures(points)}

    def pick(*names: str) -> list[figures.FigureResult]:
        return [made[name] for name in names if name in made]

    sections = [
        Section("Runs", tables=[runs_table(points)]),
        claims_section(claims_table(points, fit)),
        Section("Training cost", tables=[training_cost_table(points)]),
        Section(
            "Inference cost", tables=[inference_cost_table(points)], figures=pick("decode_cost")
        ),
        Section(
            "Against length",
            figures=pick("time", "peak_memory", "tokens_per_s", "flops_per_s"),
        ),
        Section("Scaling exponents", tables=[scaling_table(points, fit)]),
        Section("Accuracy", tables=[accuracy_table(points)], figures=pick("accuracy")),
        Section("Points that did not run", tables=[not_ok_table(points)]),
    ]
    notes = notes_text(warnings, points)
    if notes:
        sections.append(Section("Notes", text=notes))
    return sections


def compare_section(points: pd.DataFrame, run_a: str, run_b: str, threshold: float) -> Section:
    table = compare_runs(points, run_a, run_b, threshold)
    figure = figures.speedup_figure(table.frame, f"Speed-up {run_a} → {run_b}", threshold)
    return Section(
        f"Comparison: {run_a} → {run_b}",
        text=summary_line(table),
        tables=[table],
        figures=[figure] if figure else [],
    )

"""Assembles the report's sections from the tidy table of points through one
registry (PARTS): the answer in words with its headline figure and caveats
(templates.LEAD_TITLE: the pages show it before their contents), the
summary, the runs, the claims, training and inference cost, the curves
against each swept axis, scaling exponents, accuracy, every point that did
not run, and the notes. Whatever a registered builder makes is
placed in its section; a new table or figure is one more Part."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from schema import Place, Status, Workload, metrics_at

from . import accuracy, axes, figures, flops, templates
from .claim_sources import all_claims
from .claims import VERDICTS, claims_table
from .compare import compare_runs, summary_line
from .fits import FitRange
from .render import Section, close_figures
from .shards import shards_table
from .spread import with_spread
from .summary import answer_lines, caveat_lines, interleaved_blocks, summary_blocks
from .tables import (
    Table,
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
            "sweeps": grouped["sweep"].agg(joined),
            "partial": grouped["run_partial"].first().map({True: "yes, interrupted", False: "no"}),
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


def covered_points(group: pd.DataFrame) -> str:
    """The points one reason covers, compactly: 'attention/math forward
    seq_len=1024,2048; cummean/plain accuracy listops'."""
    parts = []
    for (mixer, workload), mine in group.groupby(["mixer", "workload"], sort=True, dropna=False):
        if workload == Workload.ACCURACY:
            where = ",".join(sorted(mine["task"].dropna().astype(str).unique()))
        else:
            where = "; ".join(
                f"{axes.key(sweep)}="
                + ",".join(f"{v:g}" for v in sorted(values["axis_value"].dropna().unique()))
                for sweep, values in mine.groupby("sweep", sort=True)
            )
        parts.append(" ".join(str(p) for p in (mixer, workload, where) if p and not pd.isna(p)))
    return "; ".join(parts)


def not_ok_table(points: pd.DataFrame) -> Table:
    """Each (run, status, reason) once with the points it covers; the
    backends not available here are one line of the summary instead."""
    broken = points[~points["ok"] & (points["status"] != Status.UNAVAILABLE)]
    rows = [
        {
            "run": run,
            "status": status,
            "reason": reason,
            "points": len(group),
            "covers": covered_points(group),
        }
        for (run, status, reason), group in broken.groupby(
            ["run", "status", broken["reason"].fillna("no reason recorded")], sort=True
        )
    ]
    frame = pd.DataFrame(rows, columns=["run", "status", "reason", "points", "covers"])
    caption = (
        "Every point that was attempted and did not run to completion, one row per reason "
        "with the points it covers (backends not available here are listed in the summary)."
    )
    return Table("not_ok", "Points that did not run", caption, frame, empty="Every point ran.")


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


# -- the registry: everything a report shows, and where -------------------------

Block = str | Table | figures.FigureResult


@dataclass
class Context:
    """What every builder reads: the points, the fit range, the warnings the
    reading raised, and (made once) the claims' verdicts."""

    points: pd.DataFrame
    fit: FitRange
    warnings: Sequence[str] = ()
    #: how the runs were chosen, where that is not the plain newest run
    run_notes: Sequence[str] = ()

    @cached_property
    def claims(self) -> Table:
        return claims_table(self.points, self.fit, all_claims())

    @cached_property
    def sweeps(self) -> list[str]:
        return axes.sweeps_present(self.points)


@dataclass(frozen=True)
class Part:
    """One builder and the section its output goes to. A builder returns its
    blocks (text, tables, figures; None for one it has nothing to show), and
    all of them are placed: there is no second list that could drop one."""

    section: str
    build: Callable[[Context], Iterable[Block | None]]


def per_axis(make: Callable[[pd.DataFrame, str], Block | None]) -> Callable[[Context], list]:
    """A builder that makes one block per sweep axis present."""
    return lambda ctx: [make(ctx.points, axis) for axis in ctx.sweeps]


def claims_blocks(ctx: Context) -> list[Block]:
    counts = ctx.claims.frame["verdict"].value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    return [f"Of {len(ctx.claims.frame)} checks: {summary}.", ctx.claims]


def scaling_blocks(ctx: Context) -> list[Table]:
    return [scaling_table(ctx.points, ctx.fit, axis) for axis in ctx.sweeps]


def metric_figure_blocks(ctx: Context) -> list[Block | None]:
    """A figure per metric the schema shows in figures, per sweep axis."""
    return [
        figures.metric_figure(ctx.points, metric, axis)
        for metric in metrics_at(Place.FIGURES)
        for axis in ctx.sweeps
    ]


def lead_blocks(ctx: Context) -> list[Block | None]:
    """The answer in sentences, the headline figure beside it, then the caveats."""
    caveats = caveat_lines(ctx.points, ctx.run_notes)
    return [
        "\n".join(answer_lines(ctx.points, ctx.claims)),
        figures.headline_figure(ctx.points),
        "\n".join(caveats) if caveats else None,
    ]


def notes_blocks(ctx: Context) -> list[str]:
    notes = notes_text(ctx.warnings, ctx.points)
    return [notes] if notes else []


PARTS: tuple[Part, ...] = (
    Part(templates.LEAD_TITLE, lead_blocks),
    Part("Summary", lambda ctx: summary_blocks(ctx.points, ctx.claims)),
    Part("Runs", lambda ctx: [runs_table(ctx.points)]),
    Part("Runs", lambda ctx: [shards_table(ctx.points)]),
    Part("Claims", claims_blocks),
    Part("Training cost", per_axis(training_cost_table)),
    Part("Inference cost", per_axis(inference_cost_table)),
    Part("Inference cost", per_axis(figures.decode_cost)),
    Part("Side by side, interleaved", lambda ctx: interleaved_blocks(ctx.points)),
    Part("Time, memory and throughput", metric_figure_blocks),
    Part("FLOP/s", lambda ctx: flops.section_blocks(ctx.points)),
    Part("FLOP/s", per_axis(figures.flops_per_s)),
    Part(
        "Scaling exponents", lambda ctx: [scaling_table(ctx.points, ctx.fit, a) for a in ctx.sweeps]
    ),
    Part("Accuracy", lambda ctx: accuracy.table_blocks(ctx.points)),
    Part("Accuracy", lambda ctx: accuracy.figure_blocks(ctx.points)),
    Part("Points that did not run", lambda ctx: [not_ok_table(ctx.points)]),
    Part("Notes", notes_blocks),
)


def build_sections(ctx: Context, parts: Sequence[Part] = PARTS) -> list[Section]:
    """Every part's blocks in its section, sections in the order they first
    appear; a section with nothing to show is left out. Figures are closed
    if a later builder fails."""
    figures.set_theme()
    blocks: dict[str, list[Block]] = {}
    try:
        for part in parts:
            made = [block for block in part.build(ctx) if block is not None]
            blocks.setdefault(part.section, []).extend(made)
    except BaseException:
        close_figures([Section("unfinished", blocks=b) for b in blocks.values() if b])
        raise
    return [Section(title, blocks=made) for title, made in blocks.items() if made]


def report_sections(
    points: pd.DataFrame,
    fit: FitRange,
    warnings: Sequence[str],
    run_notes: Sequence[str] = (),
) -> list[Section]:
    return build_sections(Context(with_spread(points), fit, warnings, run_notes))


def compare_section(
    points: pd.DataFrame, run_a: str, run_b: str, threshold: float, name: str = "compare"
) -> Section:
    """The comparison of two runs; ``name`` is the stem of its table and
    figure (``python -m reports --compare`` and ``python -m reports compare``
    write into one folder under different names)."""
    table = compare_runs(points, run_a, run_b, threshold, name)
    title = f"Speed-up {run_a} → {run_b}"
    figure = figures.speedup_figure(table.frame, title, threshold, f"{name}_speedup")
    return Section(
        f"Comparison: {run_a} → {run_b}",
        text=summary_line(table),
        tables=[table],
        figures=[figure] if figure else [],
    )

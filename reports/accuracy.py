"""Accuracy a reader can trust: the section that states the protocol at its
head and shows every number with what it rests on. Its parts, one role each:

- accuracy_points.py: the points, one row per (run, task, mixer), with the
  interval over their seeds, 'at chance' and the mixers not distinguishable;
- intervals.py: the statistics (a Student-t interval, Welch's t-test);
- protocol.py: the protocol's text, checked against the points;
- accuracy_tables.py and accuracy_figures.py: the tables and the figures;
- mad.py: MAD's score per task (the mean over its difficulty settings);
- curves.py: the learning curves, steps to target and length extrapolation;
- accuracy_claims.py: the kind of the Zoology claim (its instance is data in
  family_claims.py, checked with every family's claims).
"""

from __future__ import annotations

import pandas as pd

from .accuracy_figures import accuracy_heatmap, length_figure, pareto_figures, state_figure
from .accuracy_points import accuracy_frame, task_columns
from .accuracy_tables import accuracy_table, footnote, lra_table, points_tables
from .curves import curves_figure, extrapolation_figure, steps_to_target_table
from .figures import FigureResult
from .mad import mad_table
from .protocol import protocol_blocks
from .published import LRA_TASKS
from .tables import Table


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
        steps_to_target_table(points),
        mad_table(points),
        *points_tables(points),
    ]


def figure_blocks(points: pd.DataFrame) -> list[FigureResult | str | None]:
    if accuracy_frame(points).empty:
        return []
    return [
        accuracy_heatmap(points),
        length_figure(points),
        state_figure(points),
        curves_figure(points),
        extrapolation_figure(points),
        *pareto_figures(points),
    ]

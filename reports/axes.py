"""The swept axes as the reports see them (schema.AXES): which sweeps a set of
points holds, what to call them, and what stayed fixed. Every table and
figure of a speed metric is made per sweep, so that points of different
sweeps are never merged into one line, fit or ratio."""

from __future__ import annotations

import pandas as pd

from schema import AXES, DEFAULT_AXIS


def sweeps_present(points: pd.DataFrame) -> list[str]:
    """The axes some point was swept along, in schema order."""
    present = set(points["sweep"].dropna())
    return [name for name in AXES if name in present]


def on_axis(points: pd.DataFrame, axis: str) -> pd.DataFrame:
    return points[points["sweep"] == axis]


def suffixed(name: str, axis: str) -> str:
    """A file stem per sweep: ``time`` for the default axis, ``time_batch``."""
    return name if axis == DEFAULT_AXIS else f"{name}_{axis}"


def label(axis: str) -> str:
    """The axis label with its unit, for figure axes: sequence length (tokens)."""
    return AXES[axis].label


def words(axis: str) -> str:
    """The axis in a title: sequence length, batch size."""
    return AXES[axis].label.split(" (")[0]


def key(axis: str) -> str:
    """The column that holds the swept value: seq_len, batch, d_model."""
    return AXES[axis].key


def at(axis: str, value: float) -> str:
    """One swept value, named: seq_len=2048, batch=16."""
    return f"{AXES[axis].key}={value:g}"


def fixed_text(points: pd.DataFrame, axis: str) -> str:
    """What the other axes were held at, per run: '0001 AMD EPYC: batch 2,
    d_model 64'; empty where nothing is recorded."""
    others = [a.key for name, a in AXES.items() if name != axis]
    parts = []
    for run, group in on_axis(points, axis).groupby("run", sort=True):
        held = []
        for column in others:
            values = sorted(group[column].dropna().unique())
            if values:
                held.append(f"{column} " + "/".join(f"{v:g}" for v in values))
        if held:
            parts.append(f"{run}: {', '.join(held)}")
    return "; ".join(parts)

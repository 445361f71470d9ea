"""The one log–log slope fit of the project, with its R²: the report's
scaling table and claims and ``python -m suite.slopes`` all fit through here.

A slope k says ``value ∝ x^k`` along the axis the points were swept on
(``axis_value``, see load.py): ~1 linear, ~2 quadratic, ~0 flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

FitRange = Literal["half", "all"]


@dataclass(frozen=True)
class LogLogFit:
    """``value ≈ exp(intercept) * x ** slope`` over ``n`` swept values."""

    slope: float
    intercept: float
    r2: float
    n: int
    first: float
    last: float

    @property
    def span(self) -> str:
        """The values fitted over: ``512–2048 (3 points)``; empty without a fit."""
        if math.isnan(self.slope):
            return ""
        return f"{self.first:g}–{self.last:g} ({self.n} points)"


NO_FIT = LogLogFit(math.nan, math.nan, math.nan, 0, math.nan, math.nan)


def fit_loglog(xs: np.ndarray | pd.Series, values: np.ndarray | pd.Series) -> LogLogFit:
    """Least-squares line through (log x, log value); needs two positive points."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    x, y = np.log(x[keep]), np.log(y[keep])
    if len(np.unique(x)) < 2:
        return replace(NO_FIT, n=len(x))
    slope, intercept = np.polyfit(x, y, 1)
    residual = np.sum((y - (slope * x + intercept)) ** 2)
    total = np.sum((y - y.mean()) ** 2)
    # A flat series is fitted exactly: its R² is 1, not rounding noise over 0.
    r2 = 1.0 - residual / total if np.ptp(y) > 1e-12 else 1.0
    return LogLogFit(
        float(slope), float(intercept), float(r2), len(x), math.exp(x.min()), math.exp(x.max())
    )


def fit_window(values: pd.Index, fit: FitRange) -> pd.Index:
    """The swept values a slope is fitted over. The longer half: at short
    lengths fixed costs (launches, weights in memory) hide the growth; at
    least three values where there are three, so that R² means something."""
    ordered = values.sort_values()
    if fit == "all" or len(ordered) <= 3:
        return ordered
    return ordered[-max(3, math.ceil(len(ordered) / 2)) :]


def fit_caption(fit: FitRange) -> str:
    if fit == "all":
        return "fitted over all measured values of the swept axis"
    return "fitted over the longer half of the swept values (at least three)"


def series(points: pd.DataFrame, column: str) -> pd.Series:
    """Successful values by swept value (median where a value repeats). The
    caller passes the points of one sweep of one mixer and workload."""
    ok = points[points["ok"] & points[column].notna() & points["axis_value"].notna()]
    return ok.groupby("axis_value")[column].median()


def fit_series(points: pd.DataFrame, column: str, fit: FitRange) -> LogLogFit:
    values = series(points, column)
    values = values[values > 0]
    window = fit_window(values.index, fit)
    return fit_loglog(window.to_numpy(), values.loc[window].to_numpy())

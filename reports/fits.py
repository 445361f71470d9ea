"""The one log–log slope fit of the project, with its R² and a 95% interval:
the report's scaling table and claims and ``python -m suite.slopes`` all fit
through here.

A slope k says ``value ∝ x^k`` along the axis the points were swept on
(``axis_value``, see load.py): ~1 linear, ~2 quadratic, ~0 flat.

Where the suite alternated a mixer's values pass by pass (an interleaved
point of ``schema.values_key`` keys: decode, whose ~1 ms steps drift between
points timed minutes apart), a time's slope is fitted pass by pass: the
median of the passes' slopes, with a bootstrap 95% CI of that median.
Otherwise the interval of a time's slope is a bootstrap over the rounds: each swept
value's rounds (``round_times_s``) are resampled, their median taken, and the
line refitted, ``spread.RESAMPLES`` times; the 2.5th and 97.5th percentiles
of those slopes are its ends. Where a swept value has no rounds (older runs,
or a column that is not a time), the interval is the regression's: slope ±
t(0.975, n−2) × its standard error, over three values or more. Bytes are
counted, not timed: over two values their slope is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from .spread import LEVEL, TIME_COLUMNS, median_ci, percentile_ci, pooled_rounds

FitRange = Literal["half", "all"]
#: how a slope's interval was found
BOOTSTRAP, STANDARD_ERROR, EXACT, NO_INTERVAL = "bootstrap", "standard error", "exact", "none"
PASSES = "interleaved passes"
#: passes a slope fitted pass by pass needs
MIN_PASSES = 3
INTERVAL_WORDS = {
    PASSES: "bootstrap over passes that alternated the values",
    BOOTSTRAP: "bootstrap over the rounds",
    STANDARD_ERROR: "regression's standard error",
    EXACT: "counted bytes, two values",
    NO_INTERVAL: "no interval: two values without rounds",
}


@dataclass(frozen=True)
class LogLogFit:
    """``value ≈ exp(intercept) * x ** slope`` over ``n`` swept values, with
    the 95% interval [low, high] of the slope and how it was found."""

    slope: float
    intercept: float
    r2: float
    n: int
    first: float
    last: float
    low: float = math.nan
    high: float = math.nan
    interval: str = NO_INTERVAL

    @property
    def span(self) -> str:
        """The values fitted over: ``512–2048 (3 points)``; empty without a fit."""
        if math.isnan(self.slope):
            return ""
        return f"{self.first:g}–{self.last:g} ({self.n} points)"

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    @property
    def half_width(self) -> float:
        """The interval's half width, as a normal's 1.96 σ (NaN: none)."""
        return (self.high - self.low) / 2 if self.has_interval else math.nan

    def interval_text(self) -> str:
        """'95% CI [0.91, 1.08], bootstrap over the rounds'."""
        if not self.has_interval:
            return INTERVAL_WORDS[NO_INTERVAL]
        if self.low == self.high:
            return "exact: counted bytes" if self.interval == EXACT else "exact: a perfect fit"
        ends = f"[{self.low:.2f}, {self.high:.2f}]".replace("-0.00", "0.00")
        return f"95% CI {ends}, {INTERVAL_WORDS[self.interval]}"


NO_FIT = LogLogFit(math.nan, math.nan, math.nan, 0, math.nan, math.nan)


def fit_loglog(xs: np.ndarray | pd.Series, values: np.ndarray | pd.Series) -> LogLogFit:
    """Least-squares line through (log x, log value) (scipy's linregress);
    needs two positive points. Its interval is the regression's: slope ±
    t(0.975, n−2) × its standard error (three points or more)."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    x, y = np.log(x[keep]), np.log(y[keep])
    if len(np.unique(x)) < 2:
        return replace(NO_FIT, n=len(x))
    line = stats.linregress(x, y)
    # A flat series is fitted exactly: slope 0 and R² 1, not rounding noise.
    flat = np.ptp(y) <= 1e-12
    slope = 0.0 if flat or abs(line.slope) < 1e-12 else float(line.slope)
    fit = LogLogFit(
        slope,
        float(line.intercept),
        1.0 if flat else float(line.rvalue**2),
        len(x),
        math.exp(x.min()),
        math.exp(x.max()),
    )
    if len(x) < 3:
        return fit
    exact = flat or line.stderr <= 1e-12 * max(abs(line.slope), 1e-300)
    half = 0.0 if exact else float(stats.t.ppf((1 + LEVEL) / 2, len(x) - 2) * line.stderr)
    return replace(fit, low=fit.slope - half, high=fit.slope + half, interval=STANDARD_ERROR)


def row_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The least-squares slope of each row of ``y`` over ``x``, every row at
    once (linregress fits one line; a bootstrap needs thousands)."""
    dx = x - x.mean()
    return ((y - y.mean(axis=-1, keepdims=True)) @ dx) / float(dx @ dx)


def bootstrap_slope_ci(xs: np.ndarray, rounds: list[np.ndarray]) -> tuple[float, float]:
    """A bootstrap 95% CI of the slope of log(median of each value's rounds)
    over log x, each value's rounds resampled on their own."""
    x = np.log(np.asarray(xs, dtype=float))

    def slope(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        medians = np.stack([np.median(s, axis=axis) for s in samples], axis=-1)
        return row_slopes(x, np.log(medians))

    return percentile_ci(rounds, slope)


def paired_passes(ok: pd.DataFrame, window: pd.Index) -> np.ndarray | None:
    """(passes, values) seconds of the mixer's values alternated pass by pass
    (column ``value_passes_s``, reports/load.py), where every value of the
    window has the same passes, at least MIN_PASSES of them; else None."""
    if "value_passes_s" not in ok.columns:
        return None
    found = []
    for value in window:
        lists = [v for v in ok.loc[ok["axis_value"] == value, "value_passes_s"] if is_list(v)]
        if not lists:
            return None
        found.append(np.asarray(lists[0], dtype=float))
    if len({len(f) for f in found}) != 1 or len(found[0]) < MIN_PASSES:
        return None
    passes = np.stack(found, axis=1)
    return passes if np.all(passes > 0) else None


def is_list(value: object) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def passes_fit(fit: LogLogFit, xs: np.ndarray, passes: np.ndarray) -> LogLogFit:
    """The slope fitted pass by pass (each pass timed every value within a
    short window, so a slow phase of the machine hits them all alike): the
    median of the passes' slopes, and a bootstrap 95% CI of that median."""
    slopes = row_slopes(np.log(xs), np.log(passes))
    low, high = median_ci(slopes)
    return replace(fit, slope=float(np.median(slopes)), low=low, high=high, interval=PASSES)


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


def ok_points(points: pd.DataFrame, column: str) -> pd.DataFrame:
    return points[points["ok"] & points[column].notna() & points["axis_value"].notna()]


def series(points: pd.DataFrame, column: str) -> pd.Series:
    """Successful values by swept value (median where a value repeats). The
    caller passes the points of one sweep of one mixer and workload."""
    return ok_points(points, column).groupby("axis_value")[column].median()


def fit_series(points: pd.DataFrame, column: str, fit: FitRange) -> LogLogFit:
    """The slope of ``column`` over the fit window, with its 95% interval:
    a bootstrap over the rounds where ``column`` is a time and every value in
    the window has rounds, else the regression's."""
    values = series(points, column)
    values = values[values > 0]
    window = fit_window(values.index, fit)
    result = fit_loglog(window.to_numpy(), values.loc[window].to_numpy())
    if result.n < 2 or math.isnan(result.slope):
        return result
    if column in TIME_COLUMNS:
        ok = ok_points(points, column)
        paired = paired_passes(ok, window)
        if paired is not None:
            return passes_fit(result, window.to_numpy(), paired)
        rounds = [pooled_rounds(ok[ok["axis_value"] == value]) for value in window]
        if all(len(r) >= 2 for r in rounds):
            low, high = bootstrap_slope_ci(window.to_numpy(), rounds)
            return replace(result, low=low, high=high, interval=BOOTSTRAP)
    if result.n == 2 and column.endswith("_bytes"):
        return replace(result, low=result.slope, high=result.slope, interval=EXACT)
    return result

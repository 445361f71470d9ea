"""The statistics of the accuracy section: a 95% Student-t interval over a
point's seed accuracies, and the two-sample test that says whether two
mixers can be told apart on a task.

    span = interval([0.90, 0.92, 0.88])        # mean ± t(0.975, n-1)·s/√n
    differ = distinguishable([0.9, 0.92, 0.88], [0.5, 0.55, 0.52])

Two mixers are told apart by Welch's t-test (unequal variances) on their
seed accuracies at ``ALPHA``: where they do not differ, the test calls them
different in ALPHA of runs (its nominal type I error rate: Welch's degrees
of freedom are an approximation, close at a few seeds). Overlapping 95%
intervals, the rule this replaces, hide differences the test finds: two
intervals can overlap while their means differ significantly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
#: the two-sample test's type I error rate: distinguishable where p < ALPHA
ALPHA = 0.05
ONE_SEED = "1 seed: no interval"


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

    def includes(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, unit: str = "") -> str:
        """'63.2 ± 1.4' (percent), or '63.2 (1 seed: no interval)'."""
        if not math.isfinite(self.mean):
            return "N/A"
        if not self.known:
            return f"{100 * self.mean:.1f}{unit} ({ONE_SEED})"
        return f"{100 * self.mean:.1f} ± {100 * self.half:.1f}{unit}"


def finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def interval(values: Sequence[float | None]) -> Interval:
    """mean ± t(0.975, n-1) · s / √n over the seeds' accuracies."""
    values = finite(values)
    if not values:
        return Interval(math.nan, 0)
    mean = float(np.mean(values))
    if len(values) < 2:
        return Interval(mean, len(values))
    n = len(values)
    quantile = float(stats.t.ppf((1 + LEVEL) / 2, n - 1))
    return Interval(mean, n, quantile * float(np.std(values, ddof=1)) / math.sqrt(n))


def welch_p(first: Sequence[float], second: Sequence[float]) -> float:
    """The two-sided p-value of Welch's t-test on two sets of seed
    accuracies; NaN where either has fewer than two. Seeds that all agree
    (no spread on either side) differ surely where the means do, never where
    they do not: the test's statistic is undefined there."""
    a, b = np.asarray(finite(first)), np.asarray(finite(second))
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def distinguishable(first: Sequence[float], second: Sequence[float]) -> bool | None:
    """Whether Welch's test at ALPHA tells the two apart; None: one side has
    a single seed, so there is no test."""
    p = welch_p(first, second)
    return None if math.isnan(p) else p < ALPHA

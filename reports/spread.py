"""The spread of every time a report shows, and 95% intervals on ratios.

A speed point saves the seconds per call of every timed round
(``round_times_s``) and, on a CPU with one torch thread, its timing thread's
CPU seconds of each (``round_cpu_s``). Its time is the median of its timed
rounds (schema.timed_rounds): their CPU seconds where saved, which leave out
the waits for a core behind other work that the wall seconds include (beside
two busy processes a thread waits in runs of rounds, and a median of wall
times would time the load, not the mixer); else their wall seconds. Its
interval is a bootstrap 95% CI of that median (those rounds resampled with
replacement, ``RESAMPLES`` times, from a fixed seed so that a report is
reproducible).
A ratio between two mixers' times comes, where the run has them, from the
suite's interleaved passes (workload ``interleaved``: the mixers called in
turn, pass by pass, so that a slow phase of the machine hits both): the
median of the pass-by-pass ratios (of CPU seconds where saved) and a
bootstrap CI of that median. Else it
is the ratio of the two points' medians, with an unpaired bootstrap (each
point's rounds resampled on their own). Where neither has rounds, the ratio
has no interval and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from schema import METRICS, RATE, TIMED, Workload, timed_rounds

from . import axes

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0

#: how a point's time got its spread (column ``time_spread``)
CI, IQR, NO_SPREAD = "ci95", "iqr", "none"
#: where a ratio's interval comes from (columns ``*_from``)
PAIRED, UNPAIRED, QUARTILES, NO_INTERVAL = "interleaved", "rounds", "q1-q3", "none"
#: the baseline's own row: its ratio to itself is 1 by definition
BASELINE = "baseline"
#: columns that are a point's time (decode: per token), and columns inversely
#: proportional to it (tokens or FLOPs per call over the time)
TIME_COLUMNS = tuple(m.field for m in METRICS if m.timing == TIMED)
RATE_COLUMNS = tuple(m.field for m in METRICS if m.timing == RATE)
SPREAD_COLUMNS = ("time_low_s", "time_high_s", "time_spread")
CONTENDED_MARK = "†"


def generator() -> np.random.Generator:
    return np.random.default_rng(SEED)


def rounds_of(value: Any) -> np.ndarray:
    """The positive, finite seconds of a saved ``round_times_s`` (empty: none)."""
    if not isinstance(value, list | tuple | np.ndarray):
        return np.empty(0)
    times = np.array(
        [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)], dtype=float
    )
    return times[np.isfinite(times) & (times > 0)]


def point_rounds(row: Mapping[str, Any]) -> np.ndarray:
    """The rounds a point's time is the median of (schema.timed_rounds)."""
    return rounds_of(timed_rounds(row.get("round_times_s"), row.get("round_cpu_s")))


def pooled_rounds(rows: pd.DataFrame) -> np.ndarray:
    """The timed rounds of every row (repeats of one point pooled)."""
    if "round_times_s" not in rows.columns:
        return np.empty(0)
    parts = [point_rounds(row) for row in rows.to_dict("records")]
    return np.concatenate(parts) if parts else np.empty(0)


def percentile_ci(
    samples: Sequence[np.ndarray], statistic: Callable[..., np.ndarray]
) -> tuple[float, float]:
    """A bootstrap 95% percentile interval of ``statistic`` over ``samples``,
    each resampled with replacement on its own (scipy.stats.bootstrap),
    ``RESAMPLES`` times from a fixed seed. ``statistic(*samples, axis=-1)``
    takes a batch of resamples at once."""
    result = stats.bootstrap(
        tuple(samples),
        statistic,
        n_resamples=RESAMPLES,
        confidence_level=LEVEL,
        method="percentile",
        vectorized=True,
        rng=generator(),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def median_ci(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """A bootstrap 95% CI of the median of ``values`` (NaN under two values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    return percentile_ci((values,), np.median)


# -- the spread of every point -----------------------------------------------------


def point_spread(row: Mapping[str, Any]) -> tuple[float, float, str]:
    """(low, high, kind) of one point's median time."""
    rounds = point_rounds(row)
    if len(rounds) >= 2:
        return (*median_ci(rounds), CI)
    q1, q3 = row.get("time_q1_s"), row.get("time_q3_s")
    if all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in (q1, q3)):
        return float(q1), float(q3), IQR
    return math.nan, math.nan, NO_SPREAD


def with_spread(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with ``time_low_s``, ``time_high_s`` and ``time_spread``
    (ci95, iqr or none) per point; a frame that has them is returned as is."""
    if all(column in points.columns for column in SPREAD_COLUMNS):
        return points
    spreads = [point_spread(row) for row in points.to_dict("records")]
    frame = pd.DataFrame(spreads, columns=list(SPREAD_COLUMNS), index=points.index)
    frame.loc[~points.get("ok", pd.Series(True, index=points.index)).astype(bool)] = [
        math.nan,
        math.nan,
        NO_SPREAD,
    ]
    return points.assign(**{column: frame[column] for column in SPREAD_COLUMNS})


def bounds(points: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """The low and high end of ``column``'s interval per point: a time scales
    with its time's interval, a throughput or FLOP/s inversely; any other
    column has none (NaN)."""
    if column not in TIME_COLUMNS and column not in RATE_COLUMNS:
        nothing = pd.Series(math.nan, index=points.index)
        return nothing, nothing
    points = with_spread(points)
    value = pd.to_numeric(points[column], errors="coerce")
    time = points["time_s"]
    if column in TIME_COLUMNS:
        return value * points["time_low_s"] / time, value * points["time_high_s"] / time
    return value * time / points["time_high_s"], value * time / points["time_low_s"]


def contention_of(rows: pd.DataFrame) -> pd.Series:
    """Which rows the suite timed under contention (False where not recorded)."""
    if "contended" not in rows.columns:
        return pd.Series(False, index=rows.index)
    return rows["contended"].map(lambda v: v is True or v == 1 or v == "True").astype(bool)


def contention_text(rows: pd.DataFrame, with_mixer: bool = True) -> str:
    """'attention/sdpa seq_len=1024 (×1.8), ...': the rows timed under
    contention with the probe's slowdown; empty where none was."""
    busy = rows[contention_of(rows)]
    if busy.empty:
        return ""
    parts = []
    for _, row in busy.sort_values(["mixer", "axis_value"], na_position="last").iterrows():
        factor = row.get("contention")
        where = (
            axes.at(row["sweep"], row["axis_value"])
            if row.get("sweep") in axes.AXES and pd.notna(row.get("axis_value"))
            else ""
        )
        how = f" (×{factor:.1f})" if isinstance(factor, int | float) and pd.notna(factor) else ""
        name = f"{row['mixer']} " if with_mixer else ""
        parts.append(f"{name}{where}{how}".strip())
    return ", ".join(dict.fromkeys(parts))


# -- ratios between mixers -----------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """``value`` with its 95% interval and where that comes from (PAIRED,
    UNPAIRED or NO_INTERVAL)."""

    value: float
    low: float = math.nan
    high: float = math.nan
    source: str = NO_INTERVAL

    def inverse(self) -> Ratio:
        flip = lambda v: 1 / v if v else math.nan  # noqa: E731
        return Ratio(flip(self.value), flip(self.high), flip(self.low), self.source)

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def below(self, bound: float) -> bool | None:
        """True: the whole interval is below ``bound``; False: none of it is;
        None: it straddles ``bound`` (or there is no interval)."""
        if not self.has_interval:
            return None
        if self.high < bound:
            return True
        if self.low >= bound:
            return False
        return None

    def interval_text(self) -> str:
        """'95% CI [0.49, 0.55] from interleaved passes'."""
        if not self.has_interval:
            return "no interval"
        name = "95% CI" if self.source != QUARTILES else "q1–q3 bounds"
        return f"{name} [{self.low:.2f}, {self.high:.2f}] from {SOURCE_WORDS[self.source]}"

    def text(self) -> str:
        """'0.52× (95% CI [0.49, 0.55] from interleaved passes)'."""
        if math.isnan(self.value):
            return "N/A"
        return f"{self.value:.2f}× ({self.interval_text()})"


SOURCE_WORDS = {
    PAIRED: "interleaved passes",
    UNPAIRED: "an unpaired bootstrap of the rounds",
    QUARTILES: "q1–q3 of each (no rounds saved)",
    NO_INTERVAL: "no rounds",
    BASELINE: "the baseline itself",
}
NO_RATIO = Ratio(math.nan)


def paired_ratio(mine: Sequence[float], theirs: Sequence[float]) -> Ratio:
    """The median of the pass-by-pass ratios and a bootstrap 95% CI of it:
    the passes are paired, so a slow phase of the machine that hit both
    mixers cancels out."""
    pairs = [
        a / b
        for a, b in zip(mine, theirs, strict=False)
        if isinstance(a, int | float) and isinstance(b, int | float) and a > 0 and b > 0
    ]
    if not pairs:
        return NO_RATIO
    low, high = median_ci(pairs)
    return Ratio(float(np.median(pairs)), low, high, PAIRED if not math.isnan(low) else NO_INTERVAL)


def unpaired_ratio(mine: np.ndarray, theirs: np.ndarray) -> Ratio:
    """The ratio of two medians with a bootstrap 95% CI, each side's rounds
    resampled on their own."""
    if len(mine) < 2 or len(theirs) < 2:
        return NO_RATIO
    low, high = percentile_ci((mine, theirs), median_ratio)
    return Ratio(float(np.median(mine) / np.median(theirs)), float(low), float(high), UNPAIRED)


def median_ratio(mine: np.ndarray, theirs: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(mine, axis=axis) / np.median(theirs, axis=axis)


PassKey = tuple[str, str, str, float]


def interleaved_passes(points: pd.DataFrame) -> dict[PassKey, dict[str, list[float]]]:
    """The run's interleaved passes by (run, workload, sweep, swept value):
    {mixer: seconds per call of each pass}."""
    if "interleaved_s" not in points.columns:
        return {}
    chosen = points[(points["workload"] == Workload.INTERLEAVED) & points["ok"]]
    found: dict[PassKey, dict[str, list[float]]] = {}
    for _, point in chosen.iterrows():
        if not isinstance(point["interleaved_s"], dict) or pd.isna(point.get("axis_value")):
            continue
        key = (point["run"], str(point.get("of_workload")), point["sweep"], point["axis_value"])
        found.setdefault(key, {}).update(pass_times(point))
    return found


def pass_times(point: Mapping[str, Any]) -> dict[str, list[float]]:
    """An interleaved point's seconds per call of each pass, by mixer: the CPU
    seconds where saved (schema.timed_rounds), else the wall seconds."""
    cpu = point.get("interleaved_cpu_s")
    cpu = cpu if isinstance(cpu, dict) else {}
    return {
        name: timed_rounds(times, cpu.get(name))
        for name, times in point["interleaved_s"].items()
        if isinstance(times, list | tuple)
    }


def time_ratio(
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    passes: Mapping[str, Sequence[float]] | None = None,
) -> Ratio:
    """The time of the rows ``mine`` over that of ``theirs`` (one point each,
    or repeats of one): from the interleaved ``passes`` of their swept value
    where these hold both mixers, else from the points' rounds, else the
    ratio of their medians without an interval."""
    ok_mine, ok_theirs = mine[mine["ok"]], theirs[theirs["ok"]]
    if ok_mine.empty or ok_theirs.empty:
        return NO_RATIO
    a, b = ok_mine["mixer"].iloc[0], ok_theirs["mixer"].iloc[0]
    if passes and a in passes and b in passes:
        paired = paired_ratio(passes[a], passes[b])
        if paired.has_interval:
            return paired
    unpaired = unpaired_ratio(pooled_rounds(ok_mine), pooled_rounds(ok_theirs))
    if unpaired.has_interval:
        return unpaired
    mine_s, theirs_s = ok_mine["time_s"].median(), ok_theirs["time_s"].median()
    if pd.isna(mine_s) or pd.isna(theirs_s) or not theirs_s:
        return NO_RATIO
    quartiles = [rows[column].median() for rows in (ok_mine, ok_theirs)
                 for column in ("time_q1_s", "time_q3_s") if column in rows.columns]  # fmt: skip
    if len(quartiles) == 4 and all(pd.notna(q) and q > 0 for q in quartiles):
        # runs without rounds: the ratio's ends from each point's quartiles, wider
        # than a CI of the median, so a verdict they decide errs towards inconclusive
        q1_a, q3_a, q1_b, q3_b = quartiles
        return Ratio(float(mine_s / theirs_s), q1_a / q3_b, q3_a / q1_b, QUARTILES)
    return Ratio(float(mine_s / theirs_s))


def column_ratio(
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    column: str,
    passes: Mapping[str, Sequence[float]] | None = None,
) -> Ratio:
    """``column`` of ``mine`` over ``theirs``: a time or a rate through
    time_ratio (a rate is the inverse of the time ratio, at one swept value
    the tokens per call are the same); anything else (bytes: counted, not
    timed) as the ratio of medians, without an interval."""
    if column in TIME_COLUMNS:
        return time_ratio(mine, theirs, passes)
    if column in RATE_COLUMNS:
        return time_ratio(mine, theirs, passes).inverse()
    a = mine.loc[mine["ok"], column].median()
    b = theirs.loc[theirs["ok"], column].median()
    if pd.isna(a) or pd.isna(b) or not b:
        return NO_RATIO
    return Ratio(float(a / b))


def ratio_columns(
    frame: pd.DataFrame,
    baseline: str | None,
    column: str,
    passes: Mapping[PassKey, Mapping[str, Sequence[float]]],
    workload: str,
) -> pd.DataFrame:
    """Per row of ``frame`` (the points of one run and workload): its
    ``column`` over the baseline's at the same sweep and swept value, with
    the interval's ends and source (columns value, low, high, source)."""
    out = pd.DataFrame(
        {"value": math.nan, "low": math.nan, "high": math.nan, "source": NO_INTERVAL},
        index=frame.index,
    )
    if baseline is None or frame.empty:
        return out
    for (run, sweep, value), group in frame.groupby(["run", "sweep", "axis_value"]):
        theirs = group[group["mixer"] == baseline]
        here = passes.get((run, str(workload), sweep, value))
        for mixer, mine in group.groupby("mixer"):
            if mixer == baseline:
                ratio = Ratio(1.0, source=BASELINE) if mine["ok"].any() else NO_RATIO
            elif theirs.empty:
                ratio = NO_RATIO
            else:
                ratio = column_ratio(mine, theirs, column, here)
            ok = mine.index[mine["ok"]]
            out.loc[ok, ["value", "low", "high", "source"]] = [
                ratio.value,
                ratio.low,
                ratio.high,
                ratio.source,
            ]
    return out

"""The architectures' claims, checked against the measured points.

Claims are data: each family declares its own (family_claims.py holds those
of the families this project ships; a plugged-in family gives its own through
the ``mixbench.claims`` entry-point group; claim_sources.py gathers both).
This module is the engine: the kinds of claim it can check, and the table of
verdicts of the claims it is handed.

Each verdict says whether a claim holds in one run, does not hold, or is
inconclusive there, with the numbers it rests on, so that a reader can judge
it instead of trusting it. Claims about growth in L read only the points of
length sweeps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from schema import COST_STATUSES, NOT_RUN_STATUSES, VALUES_INTERLEAVED, Status

from .fits import PASSES, FitRange, LogLogFit, fit_caption, fit_series, series
from .spread import (
    RATE_COLUMNS,
    TIME_COLUMNS,
    column_ratio,
    contention_text,
    interleaved_passes,
)
from .tables import Table, attention_baseline
from .units import human

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
#: a paper's finding that does not show where the run trained less than the paper
#: did (paper_claims.py): neither confirmed nor refuted at this budget
NOT_REACHED = "not reached at this budget"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_REACHED)
CONSTANT_SLOPE = 0.2  # a slope below this over the fitted lengths counts as constant
#: the axis claims about growth in L are checked along
LENGTH_AXIS = "length"


@dataclass(frozen=True)
class Verdict:
    claim: str
    family: str
    run: str
    mixer: str
    measured: str
    criterion: str
    verdict: str
    #: the 95% interval of the measured figure the verdict rests on (a slope,
    #: a difference of slopes or a ratio); NaN where it has none
    low: float = math.nan
    high: float = math.nan


@dataclass(frozen=True)
class Scope:
    """What one check of one claim looks at: one run, the family's points and
    every point of the run (for the attention baseline)."""

    run: str
    family: str
    mine: pd.DataFrame
    everyone: pd.DataFrame
    fit: FitRange


def judge(low: float, high: float, lower: float, upper: float, strict: bool = False) -> str:
    """HOLDS where the whole interval [low, high] meets lower ≤ x ≤ upper
    (x < upper when ``strict``), FAILS where none of it does, INCONCLUSIVE
    where it straddles a bound or there is no interval."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    below_upper = high < upper if strict else high <= upper
    above_upper = low >= upper if strict else low > upper
    if low >= lower and below_upper:
        return HOLDS
    if high < lower or above_upper:
        return FAILS
    return INCONCLUSIVE


def straddle_note(low: float, high: float, bounds: Iterable[float]) -> str:
    """'; the interval straddles 1.2' where it does; why a verdict is inconclusive."""
    if math.isnan(low) or math.isnan(high):
        return ""
    crossed = [b for b in bounds if math.isfinite(b) and low < b <= high]
    return f"; the interval straddles {', '.join(f'{b:g}' for b in crossed)}" if crossed else ""


def timed(column: str) -> bool:
    """A time or a rate: measured with noise, and slowed by a busy machine."""
    return column in TIME_COLUMNS or column in RATE_COLUMNS


def drifts_between_points(workload: str, column: str, fit: LogLogFit) -> bool:
    """A time slope of a workload whose times drift between points more than
    their rounds show (schema.VALUES_INTERLEAVED), fitted from its points rather
    than from passes that alternated its values: the machine could tilt it."""
    return workload in VALUES_INTERLEAVED and timed(column) and fit.interval != PASSES


#: why such a slope decides nothing
DRIFT_NOTE = (
    "; not decided: fitted from points timed minutes apart, not from alternated passes "
    "(the suite alternates the contenders' lengths only), and a step's time drifts "
    "between such points by more than its interval"
)


def busy_note(rows: pd.DataFrame) -> str:
    """'; timed under contention: ...' for the rows the suite flagged."""
    text = contention_text(rows)
    return f"; timed under contention: {text}" if text else ""


# -- the kinds of claim ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A claim of one family. ``variants``: the variants it is about (empty:
    every variant that ran); ``source``: where it is made."""

    text: str
    variants: tuple[str, ...] = ()
    source: str = ""

    @property
    def criterion(self) -> str:
        raise NotImplementedError

    def check(self, scope: Scope) -> Iterator[Verdict]:
        raise NotImplementedError

    # helpers for the kinds below
    def verdict(
        self,
        scope: Scope,
        mixer: str,
        measured: str,
        verdict: str,
        low: float = math.nan,
        high: float = math.nan,
    ) -> Verdict:
        return Verdict(
            self.text, scope.family, scope.run, mixer, measured, self.criterion, verdict, low, high
        )

    def about(self, points: pd.DataFrame) -> pd.DataFrame:
        if not self.variants:
            return points
        return points[points["variant"].isin(self.variants)]

    def mixers(self, points: pd.DataFrame) -> list[str]:
        """The mixers the claim is about that have ok points here."""
        ok = self.about(points)
        return sorted(ok.loc[ok["ok"], "mixer"].dropna().unique())

    def anyone(self, scope: Scope) -> str:
        names = ", ".join(f"{scope.family}/{v}" for v in self.variants)
        return names or f"{scope.family}/*"


def length_sweeps(points: pd.DataFrame) -> pd.DataFrame:
    return points[points["sweep"] == LENGTH_AXIS]


def too_few(column: str, fit: LogLogFit, what: str) -> str:
    return f"no ok {what} points" if not fit.n else f"{column} at a single length"


def slope_text(fit: LogLogFit) -> str:
    """'slope 1.02 (95% CI [0.91, 1.10], bootstrap over the rounds; R² 0.99) over ...'."""
    slope, r2 = human("_slope", fit.slope), human("_r2", fit.r2)
    return f"slope {slope} ({fit.interval_text()}; R² {r2}) over {fit.span}"


def fitted_rows(points: pd.DataFrame, fit: LogLogFit) -> pd.DataFrame:
    """The ok points a fit went through."""
    if not fit.n:
        return points.iloc[0:0]
    inside = points["axis_value"].between(fit.first * (1 - 1e-9), fit.last * (1 + 1e-9))
    return points[points["ok"] & inside]


def baseline_fit(scope: Scope, workload: str, column: str) -> tuple[str | None, LogLogFit]:
    chosen = length_sweeps(scope.everyone)
    chosen = chosen[chosen["workload"] == workload]
    baseline = attention_baseline(chosen)
    if baseline is None:
        return None, LogLogFit(math.nan, math.nan, math.nan, 0, math.nan, math.nan)
    return baseline, fit_series(chosen[chosen["mixer"] == baseline], column, scope.fit)


def contrast(scope: Scope, workload: str, column: str) -> str:
    """The attention baseline's slope, for scale."""
    baseline, other = baseline_fit(scope, workload, column)
    if other.n < 2:
        return ""
    interval = (
        f" [{other.low:.2f}, {other.high:.2f}]".replace("-0.00", "0.00")
        if other.has_interval and other.low != other.high
        else ""
    )
    return f"; {baseline}: slope {human('_slope', other.slope)}{interval}"


@dataclass(frozen=True, kw_only=True)
class SlopeWithin(Claim):
    """The log–log slope of ``column`` against L lies in [low, high], per
    variant (and per workload, where there are several): holds where the
    slope's whole 95% interval does, does not hold where none of it does."""

    workloads: tuple[str, ...]
    column: str
    low: float = 0.0
    high: float = 1.2

    @property
    def criterion(self) -> str:
        return f"{self.low} ≤ slope ≤ {self.high}" if self.low > 0 else f"slope ≤ {self.high}"

    def bounds(self) -> tuple[float, float, bool]:
        """(lower, upper, whether upper is strict) of the criterion."""
        return (self.low if self.low > 0 else -math.inf), self.high, False

    def holds(self, slope: float) -> bool:
        lower, upper, strict = self.bounds()
        return lower <= slope and (slope < upper if strict else slope <= upper)

    def judge(self, fit: LogLogFit) -> str:
        lower, upper, strict = self.bounds()
        return judge(fit.low, fit.high, lower, upper, strict)

    def check(self, scope: Scope) -> Iterator[Verdict]:
        several = len(self.workloads) > 1
        for workload in self.workloads:
            chosen = length_sweeps(scope.mine)
            chosen = chosen[chosen["workload"] == workload]
            mixers = self.mixers(chosen)
            if not mixers:
                label = f"{self.anyone(scope)} {workload}" if several else self.anyone(scope)
                measured = f"no ok {workload} points of a length sweep"
                yield self.verdict(scope, label, measured, INCONCLUSIVE)
            for mixer in mixers:
                label = f"{mixer} {workload}" if several else mixer
                mine = chosen[chosen["mixer"] == mixer]
                result = fit_series(mine, self.column, scope.fit)
                if result.n < 2:
                    measured = too_few(self.column, result, f"{mixer} {workload}")
                    yield self.verdict(scope, label, measured, INCONCLUSIVE)
                    continue
                lower, upper, _ = self.bounds()
                measured = (
                    slope_text(result)
                    + contrast(scope, workload, self.column)
                    + straddle_note(result.low, result.high, (lower, upper))
                    + (busy_note(fitted_rows(mine, result)) if timed(self.column) else "")
                )
                verdict = self.judge(result)
                if drifts_between_points(workload, self.column, result):
                    measured += DRIFT_NOTE if verdict != INCONCLUSIVE else ""
                    verdict = INCONCLUSIVE
                yield self.verdict(scope, label, measured, verdict, result.low, result.high)


@dataclass(frozen=True, kw_only=True)
class ConstantIn(SlopeWithin):
    """A figure that does not grow with L: slope below CONSTANT_SLOPE (its
    whole 95% interval, to hold)."""

    @property
    def criterion(self) -> str:
        return f"slope < {CONSTANT_SLOPE} in log–log"

    def bounds(self) -> tuple[float, float, bool]:
        return -math.inf, CONSTANT_SLOPE, True


@dataclass(frozen=True, kw_only=True)
class SlopeBelowBaseline(Claim):
    """Grows more slowly in L than the attention baseline: a smaller log–log
    slope over the same lengths (sub-quadratic where attention is quadratic).
    The difference of the slopes gets a 95% interval from the two slopes'
    (as normals: half widths added in quadrature); it holds where that
    interval lies below 0."""

    workloads: tuple[str, ...]
    column: str

    @property
    def criterion(self) -> str:
        return "slope below the attention baseline's over the same lengths"

    def check(self, scope: Scope) -> Iterator[Verdict]:
        for workload in self.workloads:
            chosen = length_sweeps(scope.mine)
            chosen = chosen[chosen["workload"] == workload]
            mixers = self.mixers(chosen)
            if not mixers:
                measured = f"no ok {workload} points of a length sweep"
                yield self.verdict(
                    scope, f"{self.anyone(scope)} {workload}", measured, INCONCLUSIVE
                )
            everyone = length_sweeps(scope.everyone)
            everyone = everyone[everyone["workload"] == workload]
            baseline = attention_baseline(everyone)
            for mixer in mixers:
                label = f"{mixer} {workload}"
                mine = series(chosen[chosen["mixer"] == mixer], self.column)
                theirs = (
                    series(everyone[everyone["mixer"] == baseline], self.column)
                    if baseline
                    else pd.Series(dtype=float)
                )
                common = mine.index.intersection(theirs.index)
                if baseline is None or len(common) < 2:
                    measured = f"needs two lengths where {mixer} and an attention variant ran"
                    yield self.verdict(scope, label, measured, INCONCLUSIVE)
                    continue
                window = chosen[(chosen["mixer"] == mixer) & chosen["axis_value"].isin(common)]
                other = everyone[
                    (everyone["mixer"] == baseline) & everyone["axis_value"].isin(common)
                ]
                a = fit_series(window, self.column, scope.fit)
                b = fit_series(other, self.column, scope.fit)
                difference = a.slope - b.slope
                half = math.hypot(a.half_width, b.half_width)
                low, high = difference - half, difference + half
                verdict = judge(low, high, -math.inf, 0.0, strict=True)
                gap = (
                    f"; difference {difference:.2f}, 95% CI [{low:.2f}, {high:.2f}]"
                    if not math.isnan(half)
                    else "; no interval on the difference"
                )
                measured = (
                    f"{slope_text(a)}; {baseline}: {slope_text(b)}{gap}"
                    + straddle_note(low, high, (0.0,))
                    + (
                        busy_note(pd.concat([fitted_rows(window, a), fitted_rows(other, b)]))
                        if timed(self.column)
                        else ""
                    )
                )
                yield self.verdict(scope, label, measured, verdict, low, high)


@dataclass(frozen=True, kw_only=True)
class MatchesReference(Claim):
    """The family's variants compute the same function: from the harness's
    check of each variant against its family reference. A variant that
    passed has status ok and its ``ref_rel_err`` (the tolerance it was held
    to is the harness's business); one that failed has status
    ``reference_failed`` and is never timed."""

    @property
    def criterion(self) -> str:
        return "passes the harness's check against the family reference"

    def check(self, scope: Scope) -> Iterator[Verdict]:
        mine = self.about(scope.mine)
        failed = mine["status"] == Status.REFERENCE_FAILED
        checked = mine[mine["ref_rel_err"].notna() | failed]
        if checked.empty:
            measured = "the run records no reference check (ref_rel_err); tests/ compare the modes"
            yield self.verdict(scope, self.anyone(scope), measured, INCONCLUSIVE)
            return
        for mixer, group in checked.groupby("mixer"):
            reasons = group.loc[group["status"] == Status.REFERENCE_FAILED, "reason"]
            if not reasons.empty:
                yield self.verdict(scope, mixer, str(reasons.iloc[0]), FAILS)
                continue
            worst = group["ref_rel_err"].max()
            measured = f"relative error {worst:.2e} against the family reference"
            yield self.verdict(scope, mixer, measured, HOLDS)


def longest_common(chosen: pd.DataFrame, mixer: str, baseline: str) -> tuple[float, str]:
    """The longest length where both ran, or where the mixer ran and the
    baseline ran out of memory or time (which is itself the answer; a baseline
    that failed for another reason says nothing about cost)."""
    ran = chosen[chosen["ok"]]
    mine = set(ran.loc[ran["mixer"] == mixer, "axis_value"])
    theirs = set(ran.loc[ran["mixer"] == baseline, "axis_value"])
    out_of_budget = (chosen["mixer"] == baseline) & chosen["status"].isin(COST_STATUSES)
    broke = set(chosen.loc[out_of_budget, "axis_value"])
    beyond = sorted(mine & broke)
    if beyond:
        return beyond[-1], "baseline broke"
    both = sorted(mine & theirs)
    return (both[-1], "both ran") if both else (math.nan, "")


@dataclass(frozen=True, kw_only=True)
class BeatsBaseline(Claim):
    """``column`` below (or above) the attention baseline's at the longest
    length both ran, or the baseline ran out of memory or time there. A time
    or throughput is compared by its ratio's 95% interval (spread.py: the
    interleaved passes, else the rounds); bytes are counted and compared as
    they are."""

    workload: str
    column: str
    lower_is_better: bool = True

    @property
    def criterion(self) -> str:
        side = "below" if self.lower_is_better else "above"
        return (
            f"{self.column} {side} attention's at the longest length both ran "
            "(or attention broke there)"
        )

    def check(self, scope: Scope) -> Iterator[Verdict]:
        everyone = length_sweeps(scope.everyone)
        chosen = everyone[everyone["workload"] == self.workload]
        baseline = attention_baseline(chosen)
        about = self.mixers(chosen[chosen["family"] == scope.family])
        if baseline is None or not about:
            measured = (
                f"needs ok {self.workload} points of {self.anyone(scope)} and of an attention "
                "variant"
            )
            yield self.verdict(scope, self.anyone(scope), measured, INCONCLUSIVE)
            return
        passes = interleaved_passes(scope.everyone)
        for mixer in about:
            length, how = longest_common(chosen, mixer, baseline)
            if math.isnan(length):
                measured = f"no length where both {mixer} and {baseline} ran"
                yield self.verdict(scope, mixer, measured, INCONCLUSIVE)
                continue
            here = chosen[chosen["axis_value"] == length]
            mine_rows = here[(here["mixer"] == mixer) & here["ok"]]
            theirs_rows = here[here["mixer"] == baseline]
            if how == "baseline broke":
                yield self.broke(scope, mixer, baseline, length, mine_rows, theirs_rows)
                continue
            theirs_rows = theirs_rows[theirs_rows["ok"]]
            mine = mine_rows[self.column].median()
            theirs = theirs_rows[self.column].median()
            if math.isnan(mine) or math.isnan(theirs):
                measured = f"{self.column} not recorded at L={length:g}"
                yield self.verdict(scope, mixer, measured, INCONCLUSIVE)
                continue
            key = (scope.run, str(self.workload), LENGTH_AXIS, length)
            ratio = column_ratio(mine_rows, theirs_rows, self.column, passes.get(key))
            if timed(self.column):
                upper = 1.0 if self.lower_is_better else math.inf
                lower = -math.inf if self.lower_is_better else 1.0
                verdict = judge(ratio.low, ratio.high, lower, upper, strict=True)
                interval = f" ({ratio.interval_text()})"
                note = straddle_note(ratio.low, ratio.high, (1.0,))
            else:
                holds = ratio.value < 1 if self.lower_is_better else ratio.value > 1
                verdict, interval, note = (HOLDS if holds else FAILS), " (counted)", ""
            measured = (
                f"at L={length:g}: {human(self.column, mine)} vs {baseline} "
                f"{human(self.column, theirs)}; ratio {ratio.value:.2f}×{interval}"
                + note
                + (busy_note(pd.concat([mine_rows, theirs_rows])) if timed(self.column) else "")
            )
            yield self.verdict(scope, mixer, measured, verdict, ratio.low, ratio.high)

    def broke(
        self,
        scope: Scope,
        mixer: str,
        baseline: str,
        length: float,
        mine: pd.DataFrame,
        theirs: pd.DataFrame,
    ) -> Verdict:
        """The baseline ran out of memory or time where the mixer ran: that
        decides it, and the measured text says so (and whether the machine
        was busy when the baseline's budget ran out)."""
        failed = theirs[theirs["status"].isin(COST_STATUSES)]
        status = str(failed["status"].iloc[0])
        reason = failed["reason"].dropna()
        why = f" ({reason.iloc[0]})" if not reason.empty else ""
        measured = (
            f"decided by {status}: at L={length:g} {mixer} ran and {baseline} hit {status}{why}"
            + busy_note(pd.concat([mine, failed]))
        )
        return self.verdict(scope, mixer, measured, HOLDS)


# -- the table ------------------------------------------------------------------

COLUMNS = list(Verdict.__dataclass_fields__)


def check_run(
    run: str, points: pd.DataFrame, fit: FitRange, claims: Mapping[str, Sequence[Claim]]
) -> Iterable[Verdict]:
    for family, declared in claims.items():
        mine = points[(points["family"] == family) & ~points["status"].isin(NOT_RUN_STATUSES)]
        if mine.empty:
            continue  # no point of the family was attempted here: nothing to say
        scope = Scope(run, family, mine, points, fit)
        for claim in declared:
            yield from claim.check(scope)


def claims_table(
    points: pd.DataFrame,
    fit: FitRange,
    declared: Mapping[str, Sequence[Claim]],
) -> Table:
    """One row per verdict of the ``declared`` claims (family -> its claims;
    claim_sources.all_claims gives every family's) on every run of ``points``."""
    verdicts = [
        verdict
        for run, group in points.groupby("run")
        for verdict in check_run(run, group, fit, declared)
    ]
    frame = pd.DataFrame(verdicts, columns=COLUMNS)
    sources = sorted({c.source for cs in declared.values() for c in cs if c.source})
    caption = (
        "Each family's claims against this data, one row per variant checked. Slopes are "
        f"log–log along the length of length sweeps, {fit_caption(fit)}; 'constant' means slope "
        f"< {CONSTANT_SLOPE}. Every slope and ratio carries its 95% interval (low, high; how it "
        "was found is in the measured text): a claim holds where the whole interval meets the "
        "criterion, does not hold where none of it does, and is 'inconclusive' where the "
        "interval straddles the criterion, or the run did not record the points it needs; a "
        "paper's finding that does not show where the run trained fewer steps or tokens than "
        "the paper is 'not reached at this budget' (both budgets in the measured text). A "
        "verdict decided by the baseline running out of memory or time says 'decided by'; "
        "points timed under contention are named. At short lengths fixed costs flatten "
        "slopes: read the lengths next to each number."
    )
    if sources:
        caption += " Claims are taken from: " + "; ".join(sources) + "."
    return Table(
        "claims", "Claims of each architecture, checked", caption, frame,
        intervals={"verdict": ("low", "high", None)},
    )  # fmt: skip

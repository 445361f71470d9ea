"""The architectures' claims, checked against the measured points.

Claims are data: each family declares its own (family_claims.py holds those
of the families this project ships; a plugged-in family adds its own with
``register_claims`` or the ``mixbench.claims`` entry-point group). This module
is the engine: the kinds of claim it can check, and the table of verdicts.

Each verdict says whether a claim holds in one run, does not hold, or is
inconclusive there, with the numbers it rests on, so that a reader can judge
it instead of trusting it. Claims about growth in L read only the points of
length sweeps.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata

import pandas as pd

from schema import COST_STATUSES, NOT_RUN_STATUSES, Status

from .fits import FitRange, LogLogFit, fit_caption, fit_series, series
from .tables import Table, attention_baseline
from .units import human

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
CONSTANT_SLOPE = 0.2  # a slope below this over the fitted lengths counts as constant
#: the axis claims about growth in L are checked along
LENGTH_AXIS = "length"
ENTRY_POINT_GROUP = "mixbench.claims"


class ClaimsPluginWarning(UserWarning):
    """An entry point of the mixbench.claims group that could not be loaded."""


@dataclass(frozen=True)
class Verdict:
    claim: str
    family: str
    run: str
    mixer: str
    measured: str
    criterion: str
    verdict: str


@dataclass(frozen=True)
class Scope:
    """What one check of one claim looks at: one run, the family's points and
    every point of the run (for the attention baseline)."""

    run: str
    family: str
    mine: pd.DataFrame
    everyone: pd.DataFrame
    fit: FitRange


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
    def verdict(self, scope: Scope, mixer: str, measured: str, verdict: str) -> Verdict:
        return Verdict(self.text, scope.family, scope.run, mixer, measured, self.criterion, verdict)

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
    slope, r2 = human("_slope", fit.slope), human("_r2", fit.r2)
    return f"slope {slope} (R² {r2}) over {fit.span}"


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
    return f"; {baseline}: slope {human('_slope', other.slope)}" if other.n > 1 else ""


@dataclass(frozen=True, kw_only=True)
class SlopeWithin(Claim):
    """The log–log slope of ``column`` against L lies in [low, high], per
    variant (and per workload, where there are several)."""

    workloads: tuple[str, ...]
    column: str
    low: float = 0.0
    high: float = 1.2

    @property
    def criterion(self) -> str:
        return f"{self.low} ≤ slope ≤ {self.high}" if self.low > 0 else f"slope ≤ {self.high}"

    def holds(self, slope: float) -> bool:
        return (self.low if self.low > 0 else -math.inf) <= slope <= self.high

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
                result = fit_series(chosen[chosen["mixer"] == mixer], self.column, scope.fit)
                if result.n < 2:
                    measured = too_few(self.column, result, f"{mixer} {workload}")
                    yield self.verdict(scope, label, measured, INCONCLUSIVE)
                    continue
                measured = slope_text(result) + contrast(scope, workload, self.column)
                verdict = HOLDS if self.holds(result.slope) else FAILS
                yield self.verdict(scope, label, measured, verdict)


@dataclass(frozen=True, kw_only=True)
class ConstantIn(SlopeWithin):
    """A figure that does not grow with L: slope below CONSTANT_SLOPE."""

    @property
    def criterion(self) -> str:
        return f"slope < {CONSTANT_SLOPE} in log–log"

    def holds(self, slope: float) -> bool:
        return slope < CONSTANT_SLOPE


@dataclass(frozen=True, kw_only=True)
class SlopeBelowBaseline(Claim):
    """Grows more slowly in L than the attention baseline: a smaller log–log
    slope over the same lengths (sub-quadratic where attention is quadratic)."""

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
                measured = f"{slope_text(a)}; {baseline}: {slope_text(b)}"
                yield self.verdict(scope, label, measured, HOLDS if a.slope < b.slope else FAILS)


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
    length both ran, or the baseline ran out of memory or time there."""

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
        for mixer in about:
            length, how = longest_common(chosen, mixer, baseline)
            if math.isnan(length):
                measured = f"no length where both {mixer} and {baseline} ran"
                yield self.verdict(scope, mixer, measured, INCONCLUSIVE)
                continue
            at = chosen[(chosen["axis_value"] == length) & chosen["ok"]]
            mine = at.loc[at["mixer"] == mixer, self.column].median()
            if how == "baseline broke":
                status = chosen.loc[
                    (chosen["mixer"] == baseline) & (chosen["axis_value"] == length), "status"
                ].iloc[0]
                measured = f"at L={length:g}: {mixer} ran, {baseline} {status}"
                yield self.verdict(scope, mixer, measured, HOLDS)
                continue
            theirs = at.loc[at["mixer"] == baseline, self.column].median()
            if math.isnan(mine) or math.isnan(theirs):
                measured = f"{self.column} not recorded at L={length:g}"
                yield self.verdict(scope, mixer, measured, INCONCLUSIVE)
                continue
            ratio = mine / theirs
            holds = ratio < 1 if self.lower_is_better else ratio > 1
            measured = (
                f"at L={length:g}: {human(self.column, mine)} vs {baseline} "
                f"{human(self.column, theirs)} ({ratio:.2f}×)"
            )
            yield self.verdict(scope, mixer, measured, HOLDS if holds else FAILS)


# -- the registry of claims -----------------------------------------------------

_REGISTERED: dict[str, list[Claim]] = {}


def register_claims(family: str, *claims: Claim) -> None:
    """Add claims of ``family`` (the part of a mixer's name before the slash),
    checked in every report of a run that has points of that family."""
    bad = [c for c in claims if not isinstance(c, Claim)]
    if bad:
        raise TypeError(f"register_claims({family!r}, ...) takes Claim objects, got {bad!r}")
    _REGISTERED.setdefault(family, []).extend(claims)


def entry_point_claims() -> dict[str, list[Claim]]:
    """Claims from the ``mixbench.claims`` entry-point group: each entry is
    named after its family and points at a sequence of claims, or at a
    callable returning one (it may also call register_claims itself)."""
    found: dict[str, list[Claim]] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            value = entry.load()
            claims = value() if callable(value) else value
            claims = list(claims or [])
            if not all(isinstance(c, Claim) for c in claims):
                raise TypeError("it must give reports.claims.Claim objects")
        except Exception as error:  # a broken plugin must not break the report
            warnings.warn(
                f"claims entry point {entry.name!r} ({entry.value}) was not loaded: {error}",
                ClaimsPluginWarning,
                2,
            )
            continue
        found.setdefault(entry.name, []).extend(claims)
    return found


def all_claims() -> dict[str, list[Claim]]:
    """Every family's claims: those shipped, those of entry points, and
    those registered in this process."""
    from .family_claims import FAMILY_CLAIMS

    merged: dict[str, list[Claim]] = {family: list(c) for family, c in FAMILY_CLAIMS.items()}
    for source in (entry_point_claims(), _REGISTERED):
        for family, claims in source.items():
            merged.setdefault(family, []).extend(claims)
    return merged


# -- the table ------------------------------------------------------------------

COLUMNS = list(Verdict.__dataclass_fields__)


def check_run(
    run: str, points: pd.DataFrame, fit: FitRange, claims: dict[str, Sequence[Claim]]
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
    claims: dict[str, Sequence[Claim]] | Callable[[], dict[str, Sequence[Claim]]] = all_claims,
) -> Table:
    declared = claims() if callable(claims) else claims
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
        f"< {CONSTANT_SLOPE}. A claim that needs points the run did not record is "
        "'inconclusive'. At short lengths fixed costs flatten slopes: read the lengths next to "
        "each number."
    )
    if sources:
        caption += " Claims are taken from: " + "; ".join(sources) + "."
    return Table("claims", "Claims of each architecture, checked", caption, frame)

"""The papers' findings on what a mixer learns, as claims judged against the
accuracy points, each at the run's budget beside the paper's own.

A finding is made at a setting (a length, a width, a number of steps of a
batch): ``PaperSetting`` holds it, with where the paper states it. A run that
trained fewer steps or tokens than the paper and does not show the finding has
not refuted it: its verdict is ``NOT_REACHED`` ("not reached at this budget"),
with both budgets in the measured text. Which families a finding is about is
data (family_claims.py): the kinds below never name one.

Two kinds, beside Zoology's (accuracy_claims.py):

- ``SolvesWhereOthersFail``: the claim's family reaches the bar on a task where
  the ``against`` families stay below it (Mamba's selective copying; attention
  against Hyena on associative recall);
- ``KeepsAccuracyBeyondLength``: trained at one length, the family keeps the bar
  at 4x to 64x that length while the ``against`` families fall (Mamba's
  induction heads), from each point's ``extrapolation`` field (the seeds' test
  accuracies at longer lengths; ``extrapolated``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pandas as pd

from .accuracy_points import accuracy_frame, interval_of
from .claims import FAILS, HOLDS, INCONCLUSIVE, NOT_REACHED, Claim, Scope, Verdict
from .intervals import ALPHA, Interval, interval, welch_p
from .units import DECIMAL, length_label, scaled

#: "solves": the 95% interval of the seeds' mean accuracy at or above this
SOLVED = 0.9
#: the per-point field of test accuracies at other lengths (KeepsAccuracyBeyondLength)
EXTRAPOLATION = "extrapolation"


def tokens_text(tokens: float) -> str:
    """104.9 G tokens, 256 k tokens."""
    return f"{scaled(tokens, DECIMAL, '').strip()} tokens"


@dataclass(frozen=True)
class PaperSetting:
    """Where and how a paper made a finding: its training steps of ``batch``
    sequences of ``seq_len`` tokens (None: not stated where cited), its widths
    and whatever else the finding rests on; and, where the budget was searched
    for on this project's 2-core CPU, what the search found (``searched``: the
    smallest budget at which the finding showed there, or the largest at which
    it did not), so that a verdict says what a longer run would need."""

    where: str
    steps: int
    batch: int
    seq_len: int | None = None
    width: str = ""
    other: str = ""
    searched: str = ""

    @property
    def tokens(self) -> float:
        return self.steps * self.batch * self.seq_len if self.seq_len else math.nan

    def text(self) -> str:
        length = f"L {length_label(self.seq_len)}, " if self.seq_len else "L not stated, "
        tokens = f" = {tokens_text(self.tokens)}" if self.seq_len else ""
        width = f", width {self.width}" if self.width else ""
        other = f"; {self.other}" if self.other else ""
        steps = f"{self.steps:,} steps × batch {self.batch}{tokens}"
        return f"{self.where}: {length}{steps}{width}{other}"


def numeric(rows: pd.DataFrame, column: str) -> pd.Series:
    """``column`` as numbers (NaN where absent or not a number)."""
    if column not in rows.columns:
        return pd.Series(math.nan, index=rows.index)
    return pd.to_numeric(rows[column], errors="coerce")


@dataclass(frozen=True)
class RunBudget:
    """What the points a verdict rests on trained: the least steps and tokens
    among them (NaN where a point did not record its tokens)."""

    steps: float
    tokens: float
    seq_len: float
    width: float

    @classmethod
    def of(cls, rows: pd.DataFrame) -> RunBudget:
        tokens, length = numeric(rows, "tokens_seen"), numeric(rows, "seq_len")
        steps = tokens / (numeric(rows, "batch") * length)
        return cls(
            float(steps.min()),
            float(tokens.min()),
            float(length.max()),
            float(numeric(rows, "d_model").max()),
        )

    @property
    def known(self) -> bool:
        return math.isfinite(self.steps) and math.isfinite(self.tokens)

    def below(self, setting: PaperSetting) -> bool:
        """Fewer steps than the paper's, or fewer tokens (where it states its
        length); a run that recorded no tokens counts as below."""
        if not self.known:
            return True
        return self.steps < setting.steps or self.tokens < setting.tokens

    def text(self) -> str:
        if not self.known:
            return "run: tokens not recorded"
        return (
            f"run: L {length_label(self.seq_len)}, {self.steps:,.0f} steps = "
            f"{tokens_text(self.tokens)}, width {self.width:g}"
        )


def budget_text(run: RunBudget, setting: PaperSetting) -> str:
    searched = f"; searched on a 2-core CPU: {setting.searched}" if setting.searched else ""
    return f"{run.text()}; paper ({setting.text()}){searched}"


def at_budget(verdict: str, run: RunBudget, setting: PaperSetting | None) -> str:
    """A finding that does not show where the run trained less than the paper
    is not reached, neither confirmed nor refuted."""
    if setting is None or verdict == HOLDS or not run.below(setting):
        return verdict
    return NOT_REACHED


def sides(span: Interval, bar: float) -> bool | None:
    """True where the 95% interval lies at or above ``bar``, False where it
    lies below it; None where it straddles it or there is none."""
    if not span.known:
        return None
    return True if span.low >= bar else False if span.high < bar else None


def generator_of(config: object) -> str | None:
    """The generator a task's data came from (task_config's 'generator')."""
    return config.get("generator") if isinstance(config, Mapping) else None


def task_points(points: pd.DataFrame, generator: str) -> pd.DataFrame:
    """The accuracy points of tasks made by ``generator`` that reached an accuracy."""
    acc = accuracy_frame(points)
    if acc.empty:
        return acc
    acc = acc[acc["reached"] & acc["task_config"].map(generator_of).eq(generator)]
    return acc


def above(first: list[float], second: list[float]) -> bool:
    """Welch's test tells the two apart and the first's mean is the higher."""
    p = welch_p(first, second)
    return math.isfinite(p) and p < ALPHA and sum(first) / len(first) > sum(second) / len(second)


def separated(first: pd.Series, second: pd.Series) -> str:
    """'; Welch's p = 0.003' (or why there is no test)."""
    p = welch_p(first["seed_values"], second["seed_values"])
    return f"; Welch's p = {p:.2g}" if math.isfinite(p) else "; one seed: no test"


@dataclass(frozen=True, kw_only=True)
class PaperClaim(Claim):
    """A finding of a paper about the claim's family against ``against``'s,
    made at ``setting``."""

    against: tuple[str, ...]
    setting: PaperSetting
    bar: float = SOLVED

    def sides_of(self, acc: pd.DataFrame, scope: Scope) -> tuple[pd.DataFrame, pd.DataFrame]:
        return acc[acc["family"] == scope.family], acc[acc["family"].isin(self.against)]

    def missing(self, scope: Scope, what: str) -> Verdict:
        label = f"{scope.family} vs {', '.join(self.against)}"
        return self.verdict(scope, label, f"needs {what}", INCONCLUSIVE)


@dataclass(frozen=True, kw_only=True)
class SolvesWhereOthersFail(PaperClaim):
    """The family's seeds reach ``bar`` on the tasks of ``generator`` where the
    ``against`` families' stay below it, Welch's test telling them apart: one
    verdict per task and pair of mixers. It does not hold where the family's
    interval lies below the bar (not reached, below the paper's budget) or
    where another's reaches it (at any budget: training longer does not
    unlearn a task)."""

    generator: str

    @property
    def criterion(self) -> str:
        return (
            f"on {self.generator}: the family's 95% interval ≥ {self.bar:.0%}, "
            f"{', '.join(self.against)}'s below {self.bar:.0%}, Welch's test telling them apart"
        )

    def check(self, scope: Scope) -> Iterator[Verdict]:
        acc = task_points(scope.everyone, self.generator)
        if acc.empty:
            return  # the task was not run: nothing to say
        mine, theirs = self.sides_of(acc, scope)
        if mine.empty or theirs.empty:
            yield self.missing(scope, f"{self.generator} points of both sides")
            return
        for task, at in acc.groupby("task", sort=True):
            solvers, others = self.sides_of(at, scope)
            for _, solver in solvers.iterrows():
                for _, other in others.iterrows():
                    yield self.judge(scope, str(task), solver, other)

    def judge(self, scope: Scope, task: str, solver: pd.Series, other: pd.Series) -> Verdict:
        mine, theirs = interval_of(solver), interval_of(other)
        solves, also = sides(mine, self.bar), sides(theirs, self.bar)
        apart = above(solver["seed_values"], other["seed_values"])
        if also is True:
            verdict = FAILS  # the other solves it too
        elif solves is False:
            verdict = FAILS
        elif solves and also is False and apart:
            verdict = HOLDS
        else:
            verdict = INCONCLUSIVE
        run = RunBudget.of(pd.DataFrame([solver, other]))
        if also is not True:
            verdict = at_budget(verdict, run, self.setting)
        measured = (
            f"{task}: {solver['mixer']} {mine.text('%')} vs {other['mixer']} "
            f"{theirs.text('%')}{separated(solver, other)}; {budget_text(run, self.setting)}"
        )
        return self.verdict(scope, f"{solver['mixer']} vs {other['mixer']}", measured, verdict)


def extrapolated(value: object) -> dict[int, list[float]]:
    """A point's ``extrapolation`` field (schema.FIELDS: [{seed, accuracies:
    [{seq_len, accuracy}]}]) as {test length: the seeds' test accuracies};
    {} where it is absent."""
    found: dict[int, list[float]] = {}
    for seed in value if isinstance(value, list) else ():
        entries = seed.get("accuracies") if isinstance(seed, Mapping) else None
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, Mapping) and isinstance(entry.get("accuracy"), int | float):
                found.setdefault(int(entry["seq_len"]), []).append(float(entry["accuracy"]))
    return found


@dataclass(frozen=True, kw_only=True)
class KeepsAccuracyBeyondLength(PaperClaim):
    """Trained at one length, the family's seeds keep ``bar`` at every tested
    length from ``factors[0]`` to ``factors[1]`` times it, while each of the
    ``against`` families falls: its accuracy at the longest such length below
    its own at the training length (Welch's test). Reads the ``extrapolation``
    field of the points of ``generator``'s tasks."""

    generator: str
    factors: tuple[int, int] = (4, 64)

    @property
    def criterion(self) -> str:
        low, high = self.factors
        return (
            f"trained at L, the family's 95% interval ≥ {self.bar:.0%} at every tested length "
            f"from {low}L to {high}L; {', '.join(self.against)}'s at the longest of them "
            "below its own at L (Welch's test)"
        )

    def check(self, scope: Scope) -> Iterator[Verdict]:
        acc = task_points(scope.everyone, self.generator)
        if acc.empty or EXTRAPOLATION not in acc.columns:
            return  # no extrapolation in this run: nothing to say
        acc = acc[acc[EXTRAPOLATION].map(lambda value: bool(extrapolated(value)))]
        if acc.empty:
            return
        mine, theirs = self.sides_of(acc, scope)
        if mine.empty or theirs.empty:
            yield self.missing(scope, f"{self.generator} points tested beyond L of both sides")
            return
        for task, at in acc.groupby("task", sort=True):
            keepers, others = self.sides_of(at, scope)
            for _, keeper in keepers.iterrows():
                for _, other in others.iterrows():
                    yield self.judge(scope, str(task), keeper, other)

    def lengths(self, row: pd.Series) -> list[int]:
        low, high = (f * row["seq_len"] for f in self.factors)
        return sorted(n for n in extrapolated(row[EXTRAPOLATION]) if low <= n <= high)

    def judge(self, scope: Scope, task: str, keeper: pd.Series, other: pd.Series) -> Verdict:
        label = f"{keeper['mixer']} vs {other['mixer']}"
        run = RunBudget.of(pd.DataFrame([keeper, other]))
        common = sorted(set(self.lengths(keeper)) & set(self.lengths(other)))
        if not common:
            low, high = self.factors
            measured = (
                f"{task}: no length from {low}L to {high}L tested for both; "
                f"{budget_text(run, self.setting)}"
            )
            return self.verdict(scope, label, measured, INCONCLUSIVE)
        kept_at = {n: interval(extrapolated(keeper[EXTRAPOLATION])[n]) for n in common}
        marks = [sides(span, self.bar) for span in kept_at.values()]
        keeps = False if False in marks else True if all(marks) else None
        longest = common[-1]
        theirs_seeds = extrapolated(other[EXTRAPOLATION])[longest]
        theirs, at_train = interval(theirs_seeds), interval_of(other)
        p = welch_p(other["seed_values"], theirs_seeds)
        falls = (
            True if above(other["seed_values"], theirs_seeds) else
            False if sides(theirs, self.bar) is True else None
        )  # fmt: skip
        if keeps is False or falls is False:
            verdict = FAILS
        elif keeps and falls:
            verdict = HOLDS
        else:
            verdict = INCONCLUSIVE
        verdict = at_budget(verdict, run, self.setting)
        train = length_label(keeper["seq_len"])
        measured = (
            f"{task}, trained at L={train}: {keeper['mixer']} "
            + ", ".join(f"{kept_at[n].text('%')} at {length_label(n)}" for n in common)
            + f"; {other['mixer']} {at_train.text('%')} at {train} → {theirs.text('%')} at "
            + f"{length_label(longest)}"
            + (f" (Welch's p = {p:.2g})" if math.isfinite(p) else "; one seed: no test")
            + f"; {budget_text(run, self.setting)}"
        )
        return self.verdict(scope, label, measured, verdict)

"""The kind of claim the accuracy section checks for Zoology's finding on
multi-query associative recall (MQAR), judged at the run's budget beside the
paper's (paper_claims.py holds the other papers' kinds). The claim itself is
data, with the families' others, in family_claims.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pandas as pd

from .accuracy_points import interval_of, mqar_points
from .claims import FAILS, HOLDS, INCONCLUSIVE, Claim, Scope, Verdict
from .intervals import ONE_SEED
from .paper_claims import PaperSetting, RunBudget, at_budget, budget_text
from .state import fixed_state_of
from .tables import baseline_among
from .units import length_label

#: "near 100%": the Zoology claim's bar for attention on MQAR
NEAR_PERFECT = 0.9


def sides(low: float, high: float, bar: float) -> bool | None:
    """True where [low, high] lies at or above bar, False where below it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return True if low >= bar else False if high < bar else None


@dataclass(frozen=True, kw_only=True)
class RecallFallsWithFixedState(Claim):
    """Zoology's finding on multi-query associative recall: attention keeps
    near-perfect recall as the number of key-value pairs grows, while a mixer
    whose decoding state does not grow with the length falls. One verdict
    per fixed-state mixer, at the longest length where it and attention ran
    two pair counts or more, from the points' 95% intervals: inconclusive
    where they do not separate (or one seed gave none), or too few pair
    counts were run (then with what the search for the setting's budget
    found); not reached where it does not hold and the points
    trained fewer steps or tokens than ``setting``, the paper's."""

    near: float = NEAR_PERFECT
    setting: PaperSetting | None = None

    @property
    def criterion(self) -> str:
        return (
            f"attention's 95% interval ≥ {self.near:.0%} at every number of pairs; the "
            "fixed-state mixer's at the most pairs below its own at the fewest and below "
            "attention's"
        )

    def check(self, scope: Scope) -> Iterator[Verdict]:
        mqar = mqar_points(scope.everyone)
        if mqar.empty:
            return  # no MQAR in this run: nothing to say
        baseline = baseline_among(mqar["mixer"])
        classified = {m: fixed_state_of(m, scope.everyone) for m in sorted(set(mqar["mixer"]))}
        fixed = [m for m, (is_fixed, _) in classified.items() if is_fixed]
        if baseline is None or not fixed:
            missing = "an attention variant" if baseline is None else "a fixed-state mixer"
            measured = f"MQAR has no point of {missing}"
            unknown = [m for m, (is_fixed, _) in classified.items() if is_fixed is None]
            if unknown:
                measured += f"; whether the state is fixed is unknown for {', '.join(unknown)}"
            yield self.verdict(scope, "fixed-state mixers", measured, INCONCLUSIVE)
            return
        for mixer in fixed:
            yield self.judge(scope, mqar, baseline, mixer, classified[mixer][1])

    def judge(
        self, scope: Scope, mqar: pd.DataFrame, baseline: str, mixer: str, how: str
    ) -> Verdict:
        family = mixer.split("/", 1)[0]
        both = mqar[mqar["mixer"].isin([baseline, mixer])]
        # one point per size: a task named plainly 'mqar' may repeat a sweep's size
        both = both.drop_duplicates(["mixer", "seq_len", "kv_pairs"], keep="last")
        lengths = []
        for length, at in both.groupby("seq_len"):
            common = set(at.loc[at["mixer"] == baseline, "kv_pairs"]) & set(
                at.loc[at["mixer"] == mixer, "kv_pairs"]
            )
            if len(common) >= 2:
                lengths.append((length, sorted(common)))
        if not lengths:
            counts = sorted(set(mqar.loc[mqar["mixer"] == mixer, "kv_pairs"]))
            measured = (
                "too few pair counts: "
                + (", ".join(f"kv={p:g}" for p in counts) or "none")
                + f" run beside {baseline} at one length; needs two or more ({how})"
            )
            if self.setting is not None and self.setting.searched:
                measured += f"; searched on a 2-core CPU: {self.setting.searched}"
            return replace(self.verdict(scope, mixer, measured, INCONCLUSIVE), family=family)
        length, pairs = lengths[-1]
        at = both[both["seq_len"] == length].set_index(["mixer", "kv_pairs"])
        attention = {p: interval_of(at.loc[(baseline, p)]) for p in pairs}
        fewest, most = (
            interval_of(at.loc[(mixer, pairs[0])]),
            interval_of(at.loc[(mixer, pairs[-1])]),
        )
        near = [sides(i.low, i.high, self.near) for i in attention.values()]
        stays = False if False in near else True if all(near) else None
        falls: bool | None = None
        if most.known and fewest.known and attention[pairs[-1]].known:
            below = most.high < fewest.low and most.high < attention[pairs[-1]].low
            not_below = most.low >= self.near or most.low > fewest.high
            falls = True if below else False if not_below else None
        if stays is False or falls is False:
            verdict = FAILS
        elif stays and falls:
            verdict = HOLDS
        else:
            verdict = INCONCLUSIVE
        measured = (
            f"at L={length_label(length)}: {baseline} "
            + " → ".join(f"{attention[p].text('%')} (kv={p:g})" for p in (pairs[0], pairs[-1]))
            + f"; {mixer} {fewest.text('%')} → {most.text('%')}; {how}"
        )
        if verdict == INCONCLUSIVE:
            known = all(i.known for i in (*attention.values(), fewest, most))
            measured += "; the intervals do not separate" if known else f"; {ONE_SEED}"
        if self.setting is not None:
            run = RunBudget.of(both[both["seq_len"] == length])
            verdict = at_budget(verdict, run, self.setting)
            measured += f"; {budget_text(run, self.setting)}"
        # no one interval: the verdict rests on several, each named in ``measured``
        return replace(self.verdict(scope, mixer, measured, verdict), family=family)

"""The RetNet paper's claims, checked against the measured points.

Each row says whether a claim holds in one run, does not hold, or was not
measured there, with the numbers it rests on, so that a reader can judge the
verdict instead of trusting it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from .tables import FitRange, LogLogFit, Table, attention_baseline, fit_caption, fit_series

HOLDS, FAILS, NOT_MEASURED = "holds", "does not hold", "not measured"
CONSTANT_SLOPE = 0.2  # a slope below this over the fitted lengths counts as constant
LINEAR_SLOPE = (0.8, 1.2)
# Keys the harness may record for the largest difference between a variant
# and its family's reference; the first one present is used.
MAX_DIFF_KEYS = ("max_abs_diff", "reference_max_abs_diff", "max_diff", "ref_max_diff")
REFERENCE_WORKLOADS = ("reference", "reference_check", "equivalence")
EQUIVALENCE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Verdict:
    claim: str
    run: str
    mixer: str
    measured: str
    criterion: str
    verdict: str


def retnet_mixers(points: pd.DataFrame) -> list[str]:
    return sorted(m for m in points["mixer"].dropna().unique() if str(m).startswith("retnet/"))


def slope_text(fit: LogLogFit) -> str:
    return f"slope {fit.slope:.2f} (R² {fit.r2:.2f}) over {fit.lengths}"


def contrast(points: pd.DataFrame, column: str, fit: FitRange) -> str:
    """The attention baseline's slope, for scale."""
    baseline = attention_baseline(points)
    if baseline is None:
        return ""
    other = fit_series(points[points["mixer"] == baseline], column, fit)
    return f"; {baseline}: slope {other.slope:.2f}" if other.n else ""


def constant_in_context(
    claim: str, column: str, workload: str
) -> Callable[[str, pd.DataFrame, FitRange], Iterator[Verdict]]:
    criterion = f"slope < {CONSTANT_SLOPE} in log–log"

    def check(run: str, points: pd.DataFrame, fit: FitRange) -> Iterator[Verdict]:
        chosen = points[points["workload"] == workload]
        mixers = retnet_mixers(chosen[chosen["ok"]])
        if not mixers:
            yield Verdict(
                claim, run, "retnet/*", f"no ok {workload} points", criterion, NOT_MEASURED
            )
        for mixer in mixers:
            result = fit_series(chosen[chosen["mixer"] == mixer], column, fit)
            if result.n < 2:
                measured = f"{column} at fewer than two lengths"
                yield Verdict(claim, run, mixer, measured, criterion, NOT_MEASURED)
                continue
            holds = result.slope < CONSTANT_SLOPE
            measured = slope_text(result) + contrast(chosen, column, fit)
            yield Verdict(claim, run, mixer, measured, criterion, HOLDS if holds else FAILS)

    return check


def chunkwise_linear(
    claim: str, column: str, low: float, high: float
) -> Callable[[str, pd.DataFrame, FitRange], Iterator[Verdict]]:
    criterion = f"{low} ≤ slope ≤ {high}" if low > 0 else f"slope ≤ {high}"

    def check(run: str, points: pd.DataFrame, fit: FitRange) -> Iterator[Verdict]:
        for workload in ("forward", "train_step"):
            chosen = points[points["workload"] == workload]
            result = fit_series(chosen[chosen["mixer"] == "retnet/chunkwise"], column, fit)
            label = f"retnet/chunkwise {workload}"
            if result.n < 2:
                measured = f"{column} at fewer than two lengths"
                yield Verdict(claim, run, label, measured, criterion, NOT_MEASURED)
                continue
            holds = low <= result.slope <= high
            measured = slope_text(result) + contrast(chosen, column, fit)
            yield Verdict(claim, run, label, measured, criterion, HOLDS if holds else FAILS)

    return check


def recorded_max_diff(points: pd.DataFrame) -> pd.Series:
    found = pd.Series(math.nan, index=points.index)
    for key in MAX_DIFF_KEYS:
        if key in points:
            found = found.fillna(pd.to_numeric(points[key], errors="coerce"))
    return found


def modes_agree(run: str, points: pd.DataFrame, fit: FitRange) -> Iterator[Verdict]:
    """From a recorded max difference to the reference, or the status of a
    reference-check benchmark; the unit tests check it too, but a report can
    only speak for what the run recorded."""
    claim = "parallel ≡ chunkwise ≡ recurrent (same outputs)"
    criterion = f"max |difference| to retnet/parallel ≤ {EQUIVALENCE_TOLERANCE:g}, or check ok"
    retnet = points[points["family"] == "retnet"]
    diffs = recorded_max_diff(retnet)
    checks = retnet[retnet["workload"].isin(REFERENCE_WORKLOADS) | diffs.notna()]
    if checks.empty:
        measured = "the run records no cross-mode check (tests/ compare the modes)"
        yield Verdict(claim, run, "retnet/*", measured, criterion, NOT_MEASURED)
        return
    for mixer, group in checks.groupby("mixer"):
        worst = recorded_max_diff(group).max()
        if not math.isnan(worst):
            holds = worst <= EQUIVALENCE_TOLERANCE and bool(group["ok"].all())
            measured = f"max |difference| {worst:.2e} over {len(group)} points"
        else:
            holds = bool(group["ok"].all())
            measured = f"reference check status: {', '.join(sorted(set(group['status'])))}"
        yield Verdict(claim, run, mixer, measured, criterion, HOLDS if holds else FAILS)


def longest_common(chosen: pd.DataFrame, mixer: str, baseline: str) -> tuple[float, str]:
    """The longest length where both ran, or where the mixer ran and the
    baseline broke (which is itself the answer)."""
    ran = chosen[chosen["ok"]]
    mine = set(ran.loc[ran["mixer"] == mixer, "seq_len"])
    theirs = set(ran.loc[ran["mixer"] == baseline, "seq_len"])
    broke = set(chosen.loc[(chosen["mixer"] == baseline) & ~chosen["ok"], "seq_len"])
    beyond = sorted(mine & broke)
    if beyond:
        return beyond[-1], "baseline broke"
    both = sorted(mine & theirs)
    return (both[-1], "both ran") if both else (math.nan, "")


def cheaper_than_attention(
    claim: str, workload: str, column: str, lower_is_better: bool
) -> Callable[[str, pd.DataFrame, FitRange], Iterator[Verdict]]:
    criterion = f"{column} {'below' if lower_is_better else 'above'} attention's at the longest "
    criterion += "length both ran (or attention broke there)"

    def check(run: str, points: pd.DataFrame, fit: FitRange) -> Iterator[Verdict]:
        chosen = points[points["workload"] == workload]
        baseline = attention_baseline(chosen)
        mixers = [m for m in retnet_mixers(chosen[chosen["ok"]]) if m != "retnet/parallel"]
        if baseline is None or not mixers:
            measured = f"needs ok {workload} points of RetNet and of an attention variant"
            yield Verdict(claim, run, "retnet/*", measured, criterion, NOT_MEASURED)
            return
        for mixer in mixers:
            length, how = longest_common(chosen, mixer, baseline)
            if math.isnan(length):
                measured = f"no length where both {mixer} and {baseline} ran"
                yield Verdict(claim, run, mixer, measured, criterion, NOT_MEASURED)
                continue
            at = chosen[(chosen["seq_len"] == length) & chosen["ok"]]
            mine = at.loc[at["mixer"] == mixer, column].median()
            if how == "baseline broke":
                status = chosen.loc[
                    (chosen["mixer"] == baseline) & (chosen["seq_len"] == length), "status"
                ].iloc[0]
                measured = f"at L={length:g}: {mixer} ran, {baseline} {status}"
                yield Verdict(claim, run, mixer, measured, criterion, HOLDS)
                continue
            theirs = at.loc[at["mixer"] == baseline, column].median()
            if math.isnan(mine) or math.isnan(theirs):
                measured = f"{column} not recorded at L={length:g}"
                yield Verdict(claim, run, mixer, measured, criterion, NOT_MEASURED)
                continue
            ratio = mine / theirs
            holds = ratio < 1 if lower_is_better else ratio > 1
            measured = f"at L={length:g}: {mine:.3g} vs {baseline} {theirs:.3g} ({ratio:.2f}×)"
            yield Verdict(claim, run, mixer, measured, criterion, HOLDS if holds else FAILS)

    return check


CHECKS = (
    constant_in_context(
        "Decode state (KV-cache) bytes constant in context length", "state_bytes", "decode"
    ),
    constant_in_context("Decode memory constant in context length", "peak_mem_bytes", "decode"),
    constant_in_context(
        "Decode latency per token constant in context length", "latency_per_token_s", "decode"
    ),
    chunkwise_linear("Chunkwise time linear in length", "time_s", *LINEAR_SLOPE),
    chunkwise_linear("Chunkwise memory at most linear in length", "peak_mem_bytes", 0.0, 1.2),
    modes_agree,
    cheaper_than_attention(
        "Decoding faster than attention at long context", "decode", "latency_per_token_s", True
    ),
    cheaper_than_attention(
        "Decoding uses less memory than attention at long context",
        "decode",
        "peak_mem_bytes",
        True,
    ),
    cheaper_than_attention(
        "Training uses less memory than attention (Table 4)", "train_step", "peak_mem_bytes", True
    ),
    cheaper_than_attention(
        "Training has higher throughput than attention (Table 4)",
        "train_step",
        "tokens_per_s",
        False,
    ),
)


def claims_table(points: pd.DataFrame, fit: FitRange) -> Table:
    verdicts = [
        verdict
        for run, group in points.groupby("run")
        for check in CHECKS
        for verdict in check(run, group, fit)
    ]
    frame = pd.DataFrame(verdicts, columns=list(Verdict.__dataclass_fields__))
    caption = (
        "The RetNet paper's claims against this data. Slopes are log–log, "
        f"{fit_caption(fit)}; 'constant' means slope < {CONSTANT_SLOPE}. A claim that needs "
        "points the run did not record is 'not measured'. At short lengths fixed costs "
        "flatten slopes: read the lengths next to each number."
    )
    return Table("claims", "The RetNet paper's claims, checked", caption, frame)

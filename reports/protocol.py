"""The protocol every number of the accuracy section follows, stated at the
head of the section and checked against the points where they allow it
(parameters, tokens, seeds)."""

from __future__ import annotations

import pandas as pd

from schema import PARAMS_TOLERANCE

from .accuracy_points import AT_CHANCE
from .intervals import ALPHA, ONE_SEED


def protocol_blocks(acc: pd.DataFrame) -> list[str]:
    """A heading and the protocol's bullets (two blocks), or none without points."""
    if acc.empty:
        return []
    ran = acc[acc["reached"]]
    lines = [
        f"- parameters matched: each model is sized to within ±{PARAMS_TOLERANCE:.0%} of the "
        "attention model's parameters on that task (params beside params_target in the points "
        "table); " + params_check(ran),
        "- equal steps and tokens: every mixer trains the same steps on the same tokens of "
        "a task (tokens_seen, per run); " + tokens_check(ran),
        "- learning rate and weight decay chosen per mixer on validation, jointly: seed 0 "
        "trains at every (learning rate, weight decay) pair of the task's grid (one weight "
        "decay where the task's budget has no weight-decay grid) and the pair with the best "
        "validation accuracy is kept for every seed (lr and weight_decay; lr_grid holds each "
        "pair's validation accuracy), never chosen on test;",
        f"- seeds: {seeds_text(ran)} at the chosen pair;",
        "- mean ± 95% confidence interval: the mean test accuracy over the seeds ± "
        "t(0.975, n-1)·s/√n, a Student-t interval over the seed accuracies; a point with one "
        f"seed has no interval ('{ONE_SEED}');",
        "- chance: the majority class on the test split (chance_accuracy); a mixer whose "
        f"interval includes it is '{AT_CHANCE}' (the LRA paper's FAIL; with one seed: at or "
        "below it);",
        "- not distinguishable: two mixers whose seed accuracies on a task Welch's t-test "
        f"(unequal variances, two-sided) does not tell apart at α = {ALPHA:g}; where two "
        f"mixers truly do not differ, the test calls them different in {ALPHA:.0%} of runs (its "
        "nominal error rate). Each table lists those pairs under it (only points with two "
        "seeds or more are compared).",
    ]
    head = (
        "How these numbers were made (suite/test_accuracy.py), the same for every mixer; "
        "each figure draws the intervals as error bars."
    )
    return [head, "\n".join(lines)]


def params_check(ran: pd.DataFrame) -> str:
    matched = ran[ran["params"].notna() & ran["params_target"].notna()]
    if matched.empty:
        return "this run records no params_target, so the match is not checked here."
    off = (matched["params"] / matched["params_target"] - 1).abs() > PARAMS_TOLERANCE + 1e-9
    if not off.any():
        return f"all {len(matched)} points with a target are within it."
    named = ", ".join(
        f"{r['mixer']} on {r['task']} ({r['params'] / r['params_target'] - 1:+.1%})"
        for _, r in matched[off].iterrows()
    )
    return f"outside it: {named}."


def tokens_check(ran: pd.DataFrame) -> str:
    seen = ran[ran["tokens_seen"].notna()]
    if seen.empty:
        return "this run records no tokens_seen."
    unequal = [
        task
        for (_, task), group in seen.groupby(["run", "task"], sort=True)
        if group["tokens_seen"].nunique() > 1
    ]
    if not unequal:
        return "equal across the mixers of every task here."
    return f"they differ on {', '.join(sorted(set(unequal)))} (see the points table)."


def seeds_text(ran: pd.DataFrame) -> str:
    counts = sorted(set(ran["seeds"].astype(int)))
    if not counts:
        return "no point reached an accuracy"
    if counts == [1]:
        return f"1 seed per point ({ONE_SEED})"
    if len(counts) == 1:
        return f"{counts[0]} seeds per point"
    return f"{counts[0]} to {counts[-1]} seeds per point (fewer where runs broke)"

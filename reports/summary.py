"""What the report opens with. First the answer in words (answer_lines): per
run, which mixer trains fastest at the longest length and by how much, which
decodes fastest and with how little state, which learns each task (or that
the run cannot tell), and which claims do not hold, each sentence naming the
table and point it comes from; then the caveats (caveat_lines): runs
interrupted or passed over, backends not available here (once, with why),
points timed under load. Then the summary's tables: per run and workload,
the mixer best at each metric the schema shows in the summary with a word for
its best (fastest, least_memory) at the longest swept value every family ran,
the decode metrics it shows against attention, and the claims' verdicts in a
few lines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schema import (
    DEFAULT_AXIS,
    HIGHER,
    LRA_PREFIX,
    METRICS_BY_FIELD,
    NOT_RUN_STATUSES,
    SPEED_WORKLOADS,
    TIMED,
    Metric,
    Place,
    Status,
    Workload,
    metrics_at,
    values_of_keys,
)

from . import axes
from .accuracy_points import accuracy_frame, interval_of, task_columns, tried
from .claims import FAILS, HOLDS, INCONCLUSIVE, VERDICTS
from .intervals import ALPHA
from .spread import (
    BASELINE,
    CONTENDED_MARK,
    NO_RATIO,
    QUARTILES,
    Ratio,
    bounds,
    column_ratio,
    contention_of,
    interleaved_passes,
    median_ci,
    paired_ratio,
    pass_times,
    with_spread,
)
from .tables import (
    RATIO_CAPTION,
    RATIOS_FROM,
    READING,
    SPREAD_CAPTION,
    Table,
    attention_baseline,
    baseline_among,
    listed,
    vs_attention,
)
from .units import human

#: the tables each sentence of the answer comes from, by the title the pages show
HEADLINE_TITLE, DECODE_TITLE = "At the longest common value", "Decoding"
ACCURACY_TITLE, LRA_TITLE = "Accuracy per task", "Long Range Arena"
CLAIMS_TITLE = "Claims of each architecture, checked"


def headline_metrics() -> list[Metric]:
    """The metrics whose best mixer the summary names, per workload."""
    return [m for m in metrics_at(Place.SUMMARY) if m.best]


def decode_metrics() -> list[Metric]:
    """The decode metrics the summary's decode table shows."""
    return [m for m in metrics_at(Place.SUMMARY, Workload.DECODE) if not m.best]


def common_value(ok: pd.DataFrame) -> float:
    """The longest swept value at which every family that ran has a variant
    that ran (else the longest where the most families have; NaN: none):
    a family's slow variant that stopped early does not pull the summary
    down to the shortest lengths."""
    if ok.empty:
        return math.nan
    per_value = ok.groupby("axis_value")["family"].nunique()
    return float(per_value[per_value == per_value.max()].index.max())


def ratio(value: float, baseline: float) -> float:
    if pd.isna(value) or pd.isna(baseline) or not baseline:
        return math.nan
    return value / baseline


@dataclass(frozen=True)
class Longest:
    """One (run, sweep, workload) of the speed points at the longest value
    every family ran: the medians per mixer that ran there (``here``), the
    points themselves, and the interleaved passes at that value, if any."""

    run: str
    sweep: str
    workload: str
    value: float
    here: pd.DataFrame
    rows: pd.DataFrame
    baseline: str | None
    passes: dict[str, list[float]] | None

    def ratio(self, mixer: str, column: str) -> Ratio:
        """``column`` of ``mixer`` over the baseline's, with its 95% interval."""
        if self.baseline is None or mixer not in self.here.index:
            return NO_RATIO
        if mixer == self.baseline:
            return Ratio(1.0, source=BASELINE)
        mine = self.rows[self.rows["mixer"] == mixer]
        theirs = self.rows[self.rows["mixer"] == self.baseline]
        if theirs.empty:
            return NO_RATIO
        return column_ratio(mine, theirs, column, self.passes)

    def best(self, metric: Metric) -> str | None:
        """The mixer best at ``metric`` here: a time by fastest_of."""
        if metric.timing == TIMED:
            return fastest_of(self, metric.field)
        return best(self.here, metric)

    def spread(self, mixer: str, column: str) -> tuple[float, float, bool]:
        """The low and high end of ``mixer``'s ``column`` here, and whether
        it was timed under contention."""
        mine = self.rows[self.rows["mixer"] == mixer]
        low, high = bounds(mine, column)
        return float(low.median()), float(high.median()), bool(contention_of(mine).any())


def fastest_of(longest: Longest, column: str) -> str | None:
    """The fastest mixer: by the interleaved passes where they hold every
    mixer here (the median of its pass-by-pass ratios to the baseline's, a
    comparison a slow phase of the machine cannot tip), else by the medians."""
    passes, here = longest.passes or {}, longest.here
    ratios = {}
    if longest.baseline in passes and all(m in passes for m in here.index):
        for mixer in here.index:
            ratio = paired_ratio(passes[mixer], passes[longest.baseline]).value
            ratios[mixer] = 1.0 if mixer == longest.baseline else ratio
    ratios = {m: r for m, r in ratios.items() if not math.isnan(r)}
    if len(ratios) == len(here) and ratios:
        return min(ratios, key=ratios.__getitem__)
    values = here[column].dropna()
    values = values[values > 0]
    return str(values.idxmin()) if not values.empty else None


def best(here: pd.DataFrame, metric: Metric) -> str | None:
    """The mixer with the best positive ``metric`` here (by its direction)."""
    values = here[metric.field].dropna()
    values = values[values > 0]
    if values.empty:
        return None
    return str(values.idxmax() if metric.direction == HIGHER else values.idxmin())


def at_longest(points: pd.DataFrame) -> list[Longest]:
    """Per (run, sweep, workload) of the speed points: the medians per mixer
    at the longest value every family ran, that value and the baseline."""
    speed = points[points["workload"].isin(SPEED_WORKLOADS) & points["sweep"].notna()]
    passes = interleaved_passes(points)
    found = []
    for (run, sweep, workload), group in speed.groupby(["run", "sweep", "workload"], sort=True):
        ok = with_spread(group[group["ok"] & group["axis_value"].notna()])
        if ok.empty:
            continue
        value = common_value(ok)
        rows = ok[ok["axis_value"] == value]
        fields = [m.field for m in metrics_at(Place.SUMMARY)]
        here = rows.groupby("mixer")[fields].median()
        found.append(
            Longest(
                run, sweep, workload, value, here, rows, attention_baseline(group),
                passes.get((run, str(workload), sweep, value)),
            )
        )  # fmt: skip
    return found


def interval_row(row: dict, name: str, found: Ratio) -> None:
    """A ratio column with its interval's ends and source."""
    stem = name.removesuffix("_x")
    row[name], row[f"{stem}_low_x"], row[f"{stem}_high_x"] = found.value, found.low, found.high
    row.setdefault(RATIOS_FROM, found.source if not math.isnan(found.value) else None)


def add_best(row: dict, longest: Longest, metric: Metric, intervals: dict, marks: dict) -> None:
    """The mixer best at ``metric`` here, its value (a timed one's with its
    interval, the first timed one's with its contended mark) and its ratio to
    the attention baseline: columns fastest, fastest_s, fastest_vs_attention_x."""
    word, suffix = metric.best, metric.unit.suffix
    mixer = longest.best(metric)
    row[word] = mixer
    row[word + suffix] = longest.here[metric.field].get(mixer, math.nan)
    ratio = longest.ratio(mixer, metric.field) if mixer else NO_RATIO
    if not metric.timing:
        row[f"{word}_vs_attention_x"] = ratio.value
        return
    low, high, busy = longest.spread(mixer, metric.field) if mixer else (math.nan,) * 2 + (False,)
    row[f"{word}_low{suffix}"], row[f"{word}_high{suffix}"] = low, high
    intervals[word + suffix] = (f"{word}_low{suffix}", f"{word}_high{suffix}", None)
    if "contended" not in row:
        row["contended"] = busy
        marks[word + suffix] = "contended"
    interval_row(row, f"{word}_vs_attention_x", ratio)
    stem = f"{word}_vs_attention"
    intervals[f"{stem}_x"] = (f"{stem}_low_x", f"{stem}_high_x", None)


def headline_table(points: pd.DataFrame) -> Table:
    rows, intervals, marks = [], {}, {}
    chosen = headline_metrics()
    for longest in at_longest(points):
        value = longest.value
        row = {
            "run": longest.run,
            "workload": longest.workload,
            "at": axes.at(longest.sweep, value) if not math.isnan(value) else "no value all ran",
            "mixers": len(longest.here),
        }
        for metric in chosen:
            if longest.workload in metric.workloads:
                add_best(row, longest, metric, intervals, marks)
        row["baseline"] = longest.baseline or "none ran"
        row[RATIOS_FROM] = row.pop(RATIOS_FROM, None)
        rows.append(row)
    caption = (
        "Per run and workload, at the longest swept value where every family ran (the "
        "variants that ran there: a family's slower variant that stopped earlier is left "
        "out, and is in the tables below): the mixer best at "
        + listed(chosen)
        + " (decode's time: per token), each as a ratio to the attention baseline (below 1: "
        "less). Where the run interleaved the mixers at that value, the fastest is the one "
        "with the lowest pass-by-pass ratio there ('Ratio from': interleaved), so its time, "
        "the median of its own point, may not be the lowest of the column. "
        + SPREAD_CAPTION
        + RATIO_CAPTION
    )
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys(c for r in rows for c in r)))
    return Table(
        "summary", HEADLINE_TITLE, caption, frame,
        intervals=intervals, marks=marks,
    )  # fmt: skip


def add_decode(row: dict, longest: Longest, mixer: str, metric: Metric, intervals: dict) -> None:
    """One decode metric of ``mixer`` here, a timed one with its interval,
    and its ratio to the attention baseline."""
    row[metric.field] = longest.here.loc[mixer, metric.field]
    ratio = longest.ratio(mixer, metric.field)
    if not metric.timing:
        row[vs_attention(metric)] = ratio.value
        return
    low, high, busy = longest.spread(mixer, metric.field)
    row[metric.column("low")], row[metric.column("high")] = low, high
    intervals[metric.field] = (metric.column("low"), metric.column("high"), None)
    row.setdefault("contended", busy)
    interval_row(row, vs_attention(metric), ratio)
    stem = vs_attention(metric).removesuffix("_x")
    intervals[vs_attention(metric)] = (f"{stem}_low_x", f"{stem}_high_x", None)


def decode_table(points: pd.DataFrame) -> Table:
    rows, intervals = [], {}
    chosen = decode_metrics()
    for longest in at_longest(points):
        if longest.workload != Workload.DECODE or math.isnan(longest.value):
            continue
        for mixer in longest.here.index:
            row = {"run": longest.run, "at": axes.at(longest.sweep, longest.value), "mixer": mixer}
            for metric in chosen:
                add_decode(row, longest, mixer, metric, intervals)
            row[RATIOS_FROM] = row.pop(RATIOS_FROM, None)
            rows.append(row)
    caption = (
        "Decoding at the longest context every family ran (the variants that ran there): "
        + listed(chosen)
        + ", as ratios to the attention baseline. "
        + SPREAD_CAPTION
        + RATIO_CAPTION
    )
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys(c for r in rows for c in r)))
    timed = [m.field for m in chosen if m.timing == TIMED]
    marks = {timed[0]: "contended"} if timed else {}
    return Table(
        "summary_decode", DECODE_TITLE, caption, frame, intervals=intervals, marks=marks,
    )  # fmt: skip


def threads_text(value: object) -> str:
    """A comparison's own torch threads as text; empty where it ran on the run's."""
    return str(int(value)) if isinstance(value, int | float) and pd.notna(value) else ""


#: the published implementations the mode-speed files time ours against
#: (suite/test_retnet_speed.py, suite/test_mamba_speed.py): a comparison
#: without an attention mixer takes its ratios to these
PUBLISHED_VARIANTS = ("torchscale-", "mambapy-")


def comparison_baseline(mixers: Sequence[str], sweep: object) -> str | None:
    """What a comparison's ratios are to: one mixer's values alternated, to
    its smallest value; else attention where it ran, else the published
    implementation ours was timed against."""
    values = values_of_keys(mixers, sweep)
    if values:
        return min(values, key=values.get)
    published = sorted(m for m in mixers if str(m).split("/")[-1].startswith(PUBLISHED_VARIANTS))
    return baseline_among(mixers) or (published[0] if published else None)


def interleaved_table(points: pd.DataFrame) -> Table:
    """The suite's interleaved passes: each mixer's time over the baseline's
    (attention, else the published implementation), pass by pass."""
    if "interleaved_s" not in points.columns:
        chosen = points.iloc[0:0]
    else:
        chosen = points[(points["workload"] == Workload.INTERLEAVED) & points["ok"]]
    rows = []
    for _, point in chosen.iterrows():
        if not isinstance(point["interleaved_s"], dict):
            continue
        passes = pass_times(point)
        baseline = comparison_baseline(list(passes), point["sweep"])
        where = axes.at(point["sweep"], point["axis_value"]) if point["sweep"] in axes.AXES else ""
        values = values_of_keys(list(passes), point["sweep"]) or {}
        # one mixer's alternated values in ascending order, not as text (L512 first)
        for mixer in sorted(passes, key=lambda key: (values.get(key, 0), key)):
            all_times = passes[mixer]
            times = [t for t in all_times if isinstance(t, int | float) and t > 0]
            if mixer == baseline:
                found = Ratio(1.0, source=BASELINE)
            else:
                found = paired_ratio(all_times, passes[baseline]) if baseline else NO_RATIO
            low, high = median_ci(times)
            rows.append(
                {
                    "run": point["run"],
                    "workload": point.get("of_workload"),
                    "at": where,
                    "threads": threads_text(point.get("threads")),
                    "mixer": mixer,
                    "passes": len(times),
                    "median_time_s": float(np.median(times)) if times else math.nan,
                    "time_low_s": low,
                    "time_high_s": high,
                    "baseline": baseline,
                    "vs_baseline_x": found.value,
                    "ci_low_x": found.low,
                    "ci_high_x": found.high,
                }
            )
    columns = [
        "run", "workload", "at", "threads", "mixer", "passes", "median_time_s", "time_low_s",
        "time_high_s", "baseline", "vs_baseline_x", "ci_low_x", "ci_high_x",
    ]  # fmt: skip
    if not any(row["threads"] for row in rows):
        columns.remove("threads")  # every comparison on the run's own threads
    caption = (
        "The mixers timed side by side in alternating passes: after each sweep at the largest "
        "value where every family ran (the variants that ran there), and in the mode-speed "
        "files ours against the published implementation (torchscale, mambapy) or attention. "
        "The median time per call over the passes and its bootstrap 95% CI, and the time over "
        "the baseline's (attention, else the published implementation) as the median of the "
        "pass-by-pass ratios, with a "
        "bootstrap 95% CI of that median (a slow phase of the machine hits both mixers of a "
        "pass alike, so it cancels out of their ratio). With one torch thread on a CPU both "
        "are of CPU seconds, which leave out the waits for a core behind other work. An "
        "interval that straddles 1.00× does "
        "not tell them apart. threads: the torch threads of a comparison run on threads of its "
        "own (a mode-speed file's comparison_threads); empty: the run's."
    )
    frame = pd.DataFrame(rows, columns=columns)
    intervals = {
        "median_time_s": ("time_low_s", "time_high_s", None),
        "vs_baseline_x": ("ci_low_x", "ci_high_x", None),
    }
    return Table("interleaved", "Side by side, interleaved", caption, frame, intervals=intervals)


def claims_lines(claims: Table) -> list[str]:
    """One line per verdict: which claims, about which mixers."""
    frame = claims.frame
    if frame.empty:
        return ["- No claim of a family in these runs could be checked."]
    counts = frame["verdict"].value_counts()
    lines = [
        "- Claims: "
        + ", ".join(f"{counts.get(verdict, 0)} {verdict}" for verdict in VERDICTS)
        + " (rows of the Claims table)."
    ]
    for verdict in VERDICTS:
        chosen = frame[frame["verdict"] == verdict]
        if chosen.empty:
            continue
        parts = [
            f"{claim} ({', '.join(sorted(set(group['mixer'])))})"
            for claim, group in chosen.groupby("claim", sort=False)
        ]
        lines.append(f"- {verdict.capitalize()}: " + "; ".join(parts) + ".")
    return lines


def unavailable_line(points: pd.DataFrame) -> str:
    """The backends that could not run on this machine, once each with why."""
    missing = points[points["status"] == Status.UNAVAILABLE]
    if missing.empty:
        return ""
    reasons = missing.groupby(missing["reason"].fillna("no reason recorded"), sort=True)
    parts = [
        f"{', '.join(sorted(set(group['mixer'].dropna())))} ({reason})" for reason, group in reasons
    ]
    return "- Not available here, so in no table or figure: " + "; ".join(parts) + "."


def partial_lines(points: pd.DataFrame) -> list[str]:
    partial = sorted(points.loc[points["run_partial"].astype(bool), "run"].unique())
    return [
        f"- {run} was interrupted before its end: its tables and figures lack the points it "
        "did not reach, and its claims may be inconclusive for that."
        for run in partial
    ]


#: name the contended points of a run one by one up to this many
NAMED_POINTS = 6


def contention_line(points: pd.DataFrame) -> str:
    """Points the suite timed while the machine was busy, once per run: each
    by its mixer, workload and value with the probe's slowdown, where they are
    few; the mixers, where they are many."""
    if "contended" not in points.columns:
        return ""
    busy = points[contention_of(points) & ~points["status"].isin(NOT_RUN_STATUSES)]
    if busy.empty:
        return ""
    parts = []
    for run, group in busy.groupby("run", sort=True):
        if len(group) <= NAMED_POINTS:
            named = [
                f"{p['mixer']} {p['workload']} {axes.at(p['sweep'], p['axis_value'])}"
                + (f" ×{p['contention']:.1f}" if pd.notna(p.get("contention")) else "")
                + ("" if p["ok"] else f" ({p['status']})")
                for _, p in group.sort_values(["mixer", "workload", "axis_value"]).iterrows()
                if p.get("sweep") in axes.AXES
            ]
            parts.append(f"{run}: {len(group)} ({', '.join(named)})")
        else:
            parts.append(f"{run}: {len(group)} ({', '.join(sorted(set(group['mixer'].dropna())))})")
    return (
        "- Timed while the machine was busy (the suite's contention probe above its threshold, "
        "or the timing thread waiting for a core in most rounds, "
        f"marked {CONTENDED_MARK} in the tables and ringed in the figures; read those times with "
        "care, column 'contended' of points.csv): " + "; ".join(parts) + "."
    )


def summary_blocks(points: pd.DataFrame, claims: Table) -> list[str | Table]:
    """The summary's tables, the claims' verdicts in a few lines and how to
    read the numbers (the answer in words and its caveats open the report)."""
    blocks: list[str | Table] = []
    headline = headline_table(points)
    if not headline.frame.empty:
        blocks.append(headline)
    decode = decode_table(points)
    if not decode.frame.empty:
        blocks.append(decode)
    blocks.append("\n".join(claims_lines(claims)))
    if not headline.frame.empty or not decode.frame.empty:
        blocks.append(READING)
    return blocks


def interleaved_blocks(points: pd.DataFrame) -> list[Table]:
    """The interleaved passes' table, where the runs have them."""
    table = interleaved_table(points)
    return [table] if not table.frame.empty else []


# -- the answer: what the report opens with, in words ---------------------------


def interval_words(ratio: Ratio) -> str:
    """'95% CI 3.9–4.2×' (or 'q1–q3 bounds …' for runs without rounds) of a ratio."""
    if not ratio.has_interval:
        return "no interval: no rounds saved"
    name = "q1–q3 bounds" if ratio.source == QUARTILES else "95% CI"
    return f"{name} {ratio.low:.2f}–{ratio.high:.2f}×"


def faster_words(ratio: Ratio, baseline: str) -> str:
    """How much faster than the baseline a time ratio (mine / baseline's) says,
    or that the interval cannot tell them apart."""
    if math.isnan(ratio.value):
        return f"no ratio to {baseline} there"
    if ratio.has_interval and ratio.low <= 1 <= ratio.high:
        return (
            f"not distinguishable from {baseline} ({ratio.value:.2f}× its time, "
            f"{interval_words(ratio)})"
        )
    if ratio.value > 1:
        return f"{ratio.value:.2f}× the time of {baseline} ({interval_words(ratio)})"
    return f"{1 / ratio.value:.1f}× faster than {baseline} ({interval_words(ratio.inverse())})"


def point_name(longest: Longest, mixer: str) -> str:
    """The pytest id of ``mixer``'s point there: test_train_step[<family>/<variant>-2048]."""
    names = longest.rows.loc[longest.rows["mixer"] == mixer, "name"].dropna()
    return f", {names.iloc[0]}" if not names.empty else ""


def first_along_length(found: Sequence[Longest], run: str, workload: str) -> Longest | None:
    """The run's ``workload`` at the longest common value of its length sweep
    (else of the first axis it swept)."""
    mine = [f for f in found if f.run == run and f.workload == workload]
    mine = [f for f in mine if not math.isnan(f.value)]
    by_length = [f for f in mine if f.sweep == DEFAULT_AXIS]
    return (by_length or mine or [None])[0]


def runner_up(longest: Longest, column: str, fastest: str) -> str | None:
    others = longest.here[column].drop(fastest).dropna()
    return str(others.idxmin()) if not others.empty else None


def speed_comparison(longest: Longest, column: str, fastest: str) -> str:
    """The fastest against the attention baseline, or (where the baseline is
    the fastest) the next fastest against it."""
    baseline = longest.baseline
    if baseline is None:
        return "no attention variant ran there to compare with"
    if fastest != baseline:
        return faster_words(longest.ratio(fastest, column), baseline)
    second = runner_up(longest, column, fastest)
    if second is None:
        return "it is the only mixer that ran there"
    ratio = longest.ratio(second, column)
    return (
        f"the next fastest, {second}, takes {ratio.value:.2f}× its time ({interval_words(ratio)})"
    )


def where(longest: Longest) -> str:
    """'length 2048', else the swept value as the tables name it: 'batch=16'."""
    if longest.sweep == DEFAULT_AXIS:
        return f"length {longest.value:g}"
    return axes.at(longest.sweep, longest.value)


def training_answer(longest: Longest) -> str:
    fastest = longest.best(METRICS_BY_FIELD["time_s"])
    if fastest is None:
        return ""
    time = human("time_s", longest.here.loc[fastest, "time_s"])
    return (
        f"Training: {fastest} trains fastest at {where(longest)}, "
        f"{time} per step, {speed_comparison(longest, 'time_s', fastest)} "
        f"[{HEADLINE_TITLE}{point_name(longest, fastest)}]."
    )


def decode_answer(longest: Longest) -> str:
    fastest = longest.best(METRICS_BY_FIELD["time_s"])
    if fastest is None:
        return ""
    here = longest.here
    latency = human("time_s", here.loc[fastest, "time_s"])
    sentence = (
        f"Decoding: {fastest} decodes fastest at {where(longest)}, "
        f"{latency} per token, {speed_comparison(longest, 'time_s', fastest)}"
    )
    state = here["state_bytes"].dropna() if "state_bytes" in here else pd.Series(dtype=float)
    if fastest in state.index:
        sentence += f", with {human('state_bytes', state[fastest])} of state"
        baseline = longest.baseline
        if baseline in state.index and baseline != fastest:
            sentence += f" against {baseline}'s {human('state_bytes', state[baseline])}"
        least = str(state.idxmin())
        if state[least] < state[fastest]:
            sentence += f"; the least state: {least}, {human('state_bytes', state[least])}"
    return sentence + f" [{DECODE_TITLE}{point_name(longest, fastest)}]."


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def task_answer(task: str, group: pd.DataFrame) -> str:
    """Which mixer learns ``task`` (one run's points), or that the run cannot
    tell: every mixer at chance, the best not distinguishable from others,
    or one seed only."""
    reached = group[group["reached"]]
    table = LRA_TITLE if task.startswith(LRA_PREFIX) else ACCURACY_TITLE
    if reached.empty:
        return f"{task}: no mixer finished training [{table}]."
    chance = reached["chance_accuracy"].dropna()
    chance_text = f" (chance {percent(chance.iloc[0])})" if not chance.empty else ""
    # above chance, its interval clear of it (a mean below chance learned nothing either)
    above = reached["acc_mean"] > reached["chance_accuracy"].fillna(-math.inf)
    learned = reached[~reached["at_chance"].astype(bool) & above]
    if learned.empty:
        level = f" ({percent(chance.iloc[0])})" if not chance.empty else ""
        return f"{task}: no mixer learns it, none is above chance{level} [{table}]."
    best = learned.loc[learned["acc_mean"].idxmax()]
    score = interval_of(best).text("%")
    mixer = best["mixer"]
    if len(reached) == 1:
        verdict = f"only {mixer} ran it: {score}{chance_text}"
    elif int(best["seeds"]) < 2:
        score = percent(best["acc_mean"])
        verdict = f"{mixer} scores highest, {score}, but from one seed the run cannot tell"
    elif best["not_distinguishable"]:
        verdict = (
            f"{mixer} scores highest, {score}, not distinguishable from "
            f"{best['not_distinguishable']} (Welch's t-test, α = {ALPHA:g})"
        )
    else:
        verdict = f"{mixer} learns it best, {score}{chance_text}"
    at_chance = sorted(reached.loc[reached["at_chance"].astype(bool), "mixer"])
    if at_chance:
        verdict += f"; at chance: {', '.join(at_chance)}"
    name = f", {best['name']}" if isinstance(best.get("name"), str) else ""
    return f"{task}: {verdict} [{table}{name}]."


def accuracy_answers(points: pd.DataFrame, run: str) -> list[str]:
    """One sentence per task the run trained on, in the accuracy tables' order."""
    acc = tried(accuracy_frame(points[points["run"] == run]))
    if acc.empty:
        return []
    order = [*task_columns(acc, lra=False), *task_columns(acc, lra=True)]
    tasks = order + sorted(set(acc["task"].dropna()) - set(order))
    return [f"Accuracy on {task_answer(task, acc[acc['task'] == task])}" for task in tasks]


def claims_answer(claims: Table) -> str:
    """Which claims do not hold, with their mixers; else that none fails."""
    frame = claims.frame
    if frame.empty:
        return "Claims: none of a family in these runs could be checked."
    counts = frame["verdict"].value_counts()
    failed = frame[frame["verdict"] == FAILS]
    tally = f"{counts.get(HOLDS, 0)} hold, {counts.get(INCONCLUSIVE, 0)} inconclusive"
    if failed.empty:
        return f"Claims: none checked fails ({tally}) [{CLAIMS_TITLE}]."
    parts = [
        f"{claim} ({', '.join(sorted(set(group['mixer'])))})"
        for claim, group in failed.groupby("claim", sort=False)
    ]
    return (
        f"Claims that do not hold ({len(failed)} of {len(frame)} checks; {tally}): "
        + "; ".join(parts)
        + f" [{CLAIMS_TITLE}]."
    )


def answer_lines(points: pd.DataFrame, claims: Table) -> list[str]:
    """The report's first lines: per run, which mixer trains fastest at the
    longest length and by how much, which decodes fastest and with how little
    state; which claims do not hold; which learns each task. Each names, in
    brackets, the table (and the pytest id of the point) it comes from."""
    found = at_longest(points)
    runs = sorted(points["run"].dropna().unique())
    speed, accuracy = [], []
    prefix = (lambda run: f"{run}: ") if len(runs) > 1 else (lambda run: "")
    for run in runs:
        training = first_along_length(found, run, Workload.TRAIN_STEP)
        decode = first_along_length(found, run, Workload.DECODE)
        mine = [
            training_answer(training) if training else "",
            decode_answer(decode) if decode else "",
        ]
        speed += [f"- {prefix(run)}{line}" for line in mine if line]
        accuracy += [f"- {prefix(run)}{line}" for line in accuracy_answers(points, run)]
    # the claims before the tasks: one line each, however many tasks follow
    return [*speed, f"- {claims_answer(claims)}", *accuracy]


def caveat_lines(points: pd.DataFrame, run_notes: Sequence[str]) -> list[str]:
    """What to keep in mind when reading the answer: how the runs were chosen,
    runs interrupted, backends not available here, points timed under load."""
    lines = [f"- {note[0].upper()}{note[1:]}." for note in run_notes]
    lines += partial_lines(points)
    return lines + [line for line in (unavailable_line(points), contention_line(points)) if line]

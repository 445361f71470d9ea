"""Ratios between mixers from interleaved measurements.

After a workload's sweep, its mixers are timed once more side by side at the
largest swept value where every family ran (the variants that ran there; a
family's slower variants that stopped earlier are left out): every pass calls
each mixer's workload once (decode: one round of tokens), in an order rotated from pass to
pass, so that a slow phase of the machine hits them all alike. The saved
point (workload ``interleaved``) holds each mixer's seconds per call of every
pass; the reports take the ratio to attention pass by pass, and its interval
from those paired ratios.

Where memory is short (the sweep's peaks of the compared points add up past
the free memory, or building them all, or their first pass, runs out), the
mixers are built and timed one at a time instead, each its passes in a row,
the reason saved; a comparison that runs out of memory even so is recorded
``oom`` like any point.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from models.registry import get_spec
from schema import AXES, Status, Workload, make_extra_info, values_key

from .measure import (
    Passes,
    available_memory_bytes,
    cpu_time_is_cost,
    free_memory,
    is_out_of_memory,
)
from .options import RunOptions, get_options
from .records import record_failure
from .sweep import MEMORY_HEADROOM, SweepHistory, session_history
from .workloads import Call, build_backbone, build_workload, call_for
from .workloads import Workload as TimedWork

#: the interleaved passes of one workload may take this many point budgets
BUDGETS_PER_COMPARISON = 2


@dataclass(frozen=True)
class Comparison:
    workload: str
    sweep: str
    x: int
    mixers: list[str]
    #: mixers that ran somewhere in the sweep but not at x
    left_out: list[str]


def comparison_point(history: SweepHistory, options: RunOptions, workload: str) -> Comparison:
    """The largest swept value where every family that ran ok somewhere has a
    variant ok (else the largest where the most families have), and the mixers
    ok there: a family's slow variant (a token loop, a quadratic reference) that
    stopped early must not pull the comparison down to the shortest lengths."""
    ok: dict[int, set[str]] = {}
    for (mixer, done_workload, sweep), outcomes in history.outcomes.items():
        if done_workload == workload and sweep == options.sweep:
            for outcome in outcomes:
                if outcome.status == Status.OK:
                    ok.setdefault(outcome.x, set()).add(mixer)
    if not ok:
        return Comparison(workload, options.sweep, 0, [], [])
    families = {value: {get_spec(m).family for m in mixers} for value, mixers in ok.items()}
    most = max(len(found) for found in families.values())
    x = max(value for value, found in families.items() if len(found) == most)
    ran = set().union(*ok.values())
    order = [name for name in options.mixers if name in ok[x]]
    return Comparison(workload, options.sweep, x, order, sorted(ran - ok[x]))


def run_interleaved(request: pytest.FixtureRequest, benchmark: Any, workload: str) -> None:
    options = get_options(request.config)
    history = session_history(request.config)
    comparison = comparison_point(history, options, workload)
    benchmark.group = f"interleaved-{workload}"
    info = interleaved_info(options, workload)
    if len(comparison.mixers) < 2:
        reason = f"fewer than two mixers ran ok in this session's {workload} sweep"
        benchmark.has_error = True
        record_failure(
            request, request.node.name, {**info, "status": Status.SKIPPED, "reason": reason}
        )
        pytest.skip(reason)
    shape = {axis: options.fixed(axis) for axis in AXES} | {comparison.sweep: comparison.x}
    call = call_for(shape, options)
    builders = {
        name: functools.partial(build_work, options, workload, name, shape, call)
        for name in comparison.mixers
    }
    peaks = [peak_at(history, options, workload, name, comparison.x) for name in comparison.mixers]
    reason = f"not at this value: {', '.join(comparison.left_out)}" if comparison.left_out else None
    info = {**info, **shape_info(shape), "reason": reason}
    compare(request, benchmark, options, builders, info, peaks)


def build_work(
    options: RunOptions, workload: str, mixer: str, shape: dict[str, int], call: Call
) -> TimedWork:
    model = build_backbone(get_spec(mixer), shape, options, options.device)
    return build_workload(workload, model, call)


def peak_at(
    history: SweepHistory, options: RunOptions, workload: str, mixer: str, x: int
) -> int | None:
    """The peak bytes the sweep measured for ``mixer`` at ``x``; None: not measured."""
    outcomes = history.outcomes.get((mixer, workload, options.sweep), [])
    peaks = [o.peak_mem_bytes for o in outcomes if o.x == x and o.status == Status.OK]
    return peaks[-1] if peaks else None


def memory_short(options: RunOptions, peaks: list[int | None]) -> bool:
    """Whether the compared points' measured peaks together would not fit in
    the memory free now (the sweep measured each alone)."""
    available = available_memory_bytes(options.device)
    known = [peak for peak in peaks if peak]
    return available is not None and sum(known) > MEMORY_HEADROOM * available


def compare(
    request: pytest.FixtureRequest,
    benchmark: Any,
    options: RunOptions,
    builders: dict[str, Callable[[], TimedWork]],
    info: dict[str, Any],
    peaks: list[int | None],
) -> None:
    """``builders``' workloads timed side by side (one at a time where memory
    is short) and saved with ``info``; out of memory even one at a time: an
    ``oom`` record."""
    failure = None
    try:
        passes = None if memory_short(options, peaks) else together(builders, options)
        if passes is None:
            passes = one_at_a_time(builders, options)
            info = {**info, "reason": "; ".join(filter(None, (info["reason"], ONE_AT_A_TIME)))}
        save_passes(benchmark, passes, info)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        failure = f"{type(exc).__name__}: {exc}"
    passes = None
    free_memory(options.device)  # out of the except block: the frames are gone
    if failure is not None:
        benchmark.has_error = True
        record_failure(
            request, request.node.name, {**info, "status": Status.OOM, "reason": failure}
        )
        pytest.skip(f"{Status.OOM}: {failure}")


#: why an interleaved point's mixers were not alternated
ONE_AT_A_TIME = "memory short: each mixer built and timed alone, its passes in a row"


@dataclass
class TimedPasses:
    """Each name's seconds per call of every pass, the CPU seconds where they
    are the cost, and what pytest-benchmark times (None: timed already)."""

    times: dict[str, list[float]]
    cpu_times: dict[str, list[float]] | None
    rounds: int
    passes: Passes | None = None


def together(
    builders: dict[str, Callable[[], TimedWork]], options: RunOptions
) -> TimedPasses | None:
    """Every workload built, alternated pass by pass under pytest-benchmark;
    None where building them or their first pass ran out of memory."""
    out_of_memory = False
    try:
        works = {name: build() for name, build in builders.items()}
        passes = passes_of(works, options)
        rounds = pass_count(options, passes)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        out_of_memory = True
    if out_of_memory:
        works = passes = None
        free_memory(options.device)
        return None
    for work in works.values():
        work.prepare((rounds + 2) * work.iterations)
    return TimedPasses({}, None, rounds, passes)


def one_at_a_time(builders: dict[str, Callable[[], TimedWork]], options: RunOptions) -> TimedPasses:
    """Each workload built alone, its warm-up pass and timed passes in a row,
    then freed before the next is built."""
    times, cpu_times, rounds = {}, {}, None
    for name, build in builders.items():
        passes = passes_of({name: build()}, options)
        rounds = rounds or pass_count(options, passes)
        passes.clear()
        for _ in range(rounds):
            passes()
        times[name], cpu_times[name] = passes.times[name], passes.cpu_times[name]
        passes = None
        free_memory(options.device)
    saved_cpu = cpu_times if cpu_time_is_cost(options.device) else None
    return TimedPasses(times, saved_cpu, rounds or 0)


def passes_of(works: dict[str, TimedWork], options: RunOptions) -> Passes:
    return Passes(
        {name: work.call for name, work in works.items()},
        options.device,
        {name: work.iterations for name, work in works.items()},
        {name: work.setup for name, work in works.items()},
    )


def save_passes(benchmark: Any, timed: TimedPasses, info: dict[str, Any]) -> None:
    """The passes saved as an interleaved point: run under pytest-benchmark
    here, or (timed one at a time) its stats the passes' summed seconds."""
    rounds = timed.rounds
    if timed.passes is not None:
        benchmark.pedantic(timed.passes, rounds=rounds, iterations=1)
        times = {name: t[-rounds:] for name, t in timed.passes.times.items()}
        cpu_times = timed.passes.saved_cpu_times(rounds)
    else:
        times, cpu_times = timed.times, timed.cpu_times
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
        benchmark.stats.stats.data[:] = [sum(t) for t in zip(*times.values(), strict=True)]
    benchmark.extra_info.update(
        make_extra_info(**info, interleaved_s=times, interleaved_cpu_s=cpu_times, status=Status.OK)
    )


def interleaved_info(options: RunOptions, workload: str) -> dict[str, Any]:
    """The fields every interleaved point of this run's ``workload`` sweep shares."""
    return {
        "workload": Workload.INTERLEAVED,
        "of_workload": workload,
        "sweep": options.sweep,
        "n_layers": options.n_layers,
        "dtype": str(options.dtype).removeprefix("torch."),
        "device": options.device.type,
    }


def shape_info(shape: dict[str, int]) -> dict[str, int]:
    return {AXES[axis].key: value for axis, value in shape.items()}


def ok_values(history: SweepHistory, options: RunOptions, mixer: str, workload: str) -> list[int]:
    outcomes = history.outcomes.get((mixer, workload, options.sweep), [])
    return sorted({o.x for o in outcomes if o.status == Status.OK})


def run_interleaved_values(
    request: pytest.FixtureRequest, benchmark: Any, workload: str, mixer: str
) -> None:
    """One mixer's calls of ``workload`` at every swept value where it ran ok,
    alternated pass by pass (keys ``values_key``): the reports fit its slope
    pass by pass, so that a slow phase of the machine, which hits every value
    of a pass alike, does not tilt it as it tilts points timed minutes apart."""
    options = get_options(request.config)
    values = ok_values(session_history(request.config), options, mixer, workload)
    benchmark.group = f"interleaved-values-{workload}"
    if len(values) < 2:
        benchmark.has_error = True
        pytest.skip(f"{mixer} ran ok at fewer than two values of this session's {workload} sweep")
    shapes = [shape for shape in options.axis_values(workload) if shape[options.sweep] in values]
    builders = {
        values_key(mixer, options.sweep, shape[options.sweep]): functools.partial(
            build_work, options, workload, mixer, shape, call_for(shape, options)
        )
        for shape in shapes
    }
    history = session_history(request.config)
    peaks = [peak_at(history, options, workload, mixer, shape[options.sweep]) for shape in shapes]
    # saved at the largest value, as the cross-mixer comparison is
    info = {
        **interleaved_info(options, workload),
        "mixer": mixer,
        **shape_info(shapes[-1]),
        "mixer_config": options.mixer_config(mixer, shapes[-1]["d_model"]),
        "fixed_state": get_spec(mixer).cls.fixed_state,
        "reason": None,
    }
    compare(request, benchmark, options, builders, info, peaks)


def pass_count(options: RunOptions, passes: Passes) -> int:
    """Passes for the profile's rounds, fewer when they would outrun their budget
    (but at least min_rounds). The first pass warms every mixer up."""
    start = time.perf_counter()
    passes()
    pass_s = pass_cost_s(passes, time.perf_counter() - start)
    profile = options.profile
    room = int(BUDGETS_PER_COMPARISON * options.time_budget_s / max(pass_s, 1e-9))
    wanted = int(profile.target_time_s * len(passes.calls) / max(pass_s, 1e-9))
    return max(profile.min_rounds, min(room, wanted, profile.max_rounds))


def pass_cost_s(passes: Passes, wall_s: float) -> float:
    """What the last pass cost: its CPU seconds where they are the calls' cost
    (cpu_time_is_cost), so that a busy machine, which stretches a pass's wall
    time 2-4x, does not cut the passes that the slopes' and ratios' intervals
    come from (under load they had half as many, and wider intervals); else
    its wall seconds."""
    if not cpu_time_is_cost(passes.device):
        return wall_s
    return sum(
        times[-1] * passes.iterations.get(name, 1) for name, times in passes.cpu_times.items()
    )

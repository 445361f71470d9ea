"""Ratios between mixers from interleaved measurements.

After a workload's sweep, its mixers are timed once more side by side at the
largest swept value where every family ran (the variants that ran there; a
family's slower variants that stopped earlier are left out): every pass calls
each mixer's workload once (decode: one round of tokens), in an order rotated from pass to
pass, so that a slow phase of the machine hits them all alike. The saved
point (workload ``interleaved``) holds each mixer's seconds per call of every
pass; the reports take the ratio to attention pass by pass, and its interval
from those paired ratios.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from models.registry import get_spec
from schema import AXES, Status, Workload, make_extra_info, values_key

from .measure import Passes, free_memory
from .options import RunOptions, get_options
from .records import record_failure
from .sweep import SweepHistory, session_history
from .workloads import Workload as TimedWork
from .workloads import build_backbone, build_workload, call_for

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
    comparison = comparison_point(session_history(request.config), options, workload)
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
    works = {
        name: build_workload(
            workload, build_backbone(get_spec(name), shape, options, options.device), call
        )
        for name in comparison.mixers
    }
    reason = f"not at this value: {', '.join(comparison.left_out)}" if comparison.left_out else None
    time_passes(benchmark, options, works, {**info, **shape_info(shape), "reason": reason})


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


def time_passes(
    benchmark: Any, options: RunOptions, works: dict[str, TimedWork], info: dict[str, Any]
) -> None:
    """``works`` alternated pass by pass, saved with ``info`` as an interleaved point."""
    passes = Passes(
        {name: work.call for name, work in works.items()},
        options.device,
        {name: work.iterations for name, work in works.items()},
    )
    rounds = pass_count(options, passes)
    for work in works.values():
        work.prepare((rounds + 2) * work.iterations)
    benchmark.pedantic(passes, rounds=rounds, iterations=1)
    benchmark.extra_info.update(
        make_extra_info(
            **info,
            interleaved_s={name: times[-rounds:] for name, times in passes.times.items()},
            interleaved_cpu_s=passes.saved_cpu_times(rounds),
            status=Status.OK,
        )
    )
    free_memory(options.device)


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
    works = {
        values_key(mixer, options.sweep, shape[options.sweep]): build_workload(
            workload,
            build_backbone(get_spec(mixer), shape, options, options.device),
            call_for(shape, options),
        )
        for shape in shapes
    }
    # saved at the largest value, as the cross-mixer comparison is
    info = {
        **interleaved_info(options, workload),
        "mixer": mixer,
        **shape_info(shapes[-1]),
        "mixer_config": options.mixer_config(mixer, shapes[-1]["d_model"]),
        "fixed_state": get_spec(mixer).cls.fixed_state,
    }
    time_passes(benchmark, options, works, info)


def pass_count(options: RunOptions, passes: Passes) -> int:
    """Passes for the profile's rounds, fewer when they would outrun their budget
    (but at least min_rounds). The first pass warms every mixer up."""
    start = time.perf_counter()
    passes()
    pass_s = time.perf_counter() - start
    profile = options.profile
    room = int(BUDGETS_PER_COMPARISON * options.time_budget_s / max(pass_s, 1e-9))
    wanted = int(profile.target_time_s * len(passes.calls) / max(pass_s, 1e-9))
    return max(profile.min_rounds, min(room, wanted, profile.max_rounds))

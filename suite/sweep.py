"""One benchmark point of a length sweep, from start to record.

``run_point`` is what every speed test calls. In order:

1. an unavailable variant is skipped (status unavailable);
2. the variant is checked against its family's reference once per session;
   one that disagrees is failed (status failed) and never timed;
3. the point is predicted from the shorter points of the same variant and
   workload measured earlier in this session (``SweepHistory``): when a
   shorter one already timed out or ran out of memory, or the power law
   through the two longest measured points puts this one over the time budget
   or the free memory, it is skipped as ``timeout``/``oom`` "predicted ...";
4. the point runs under its time budget: a warm-up call (which also sizes the
   number of rounds), peak memory and counted FLOPs (each in a call of its
   own), then pytest-benchmark's timed rounds;
5. an out-of-memory error or the budget running out records status oom or
   timeout; any other error records failed and fails the test.

Points that did not run go to ``suite.records.record_failure`` (the saved
JSON's ``mixbench_failures``) and are skipped with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from models.backbone import count_params
from models.registry import get_spec

from .measure import (
    PointTimeout,
    available_memory_bytes,
    counted_flops,
    extrapolation_law,
    free_memory,
    is_out_of_memory,
    peak_memory_bytes,
    time_limit,
    time_once,
    warm_up_instruments,
)
from .options import RunOptions, get_options
from .records import make_extra_info, record_failure
from .workloads import (
    analytic_figures,
    analytic_flops,
    build_backbone,
    build_workload,
    mixer_config,
    model_state_bytes,
    reference_error,
)

#: plain calls' worth of time a point spends besides its timed rounds (the
#: warm-up probe, the memory profiler and the FLOP counter, which slow a call
#: down up to ~8x on a token-by-token Python loop, far less on big matmuls),
#: until a shorter point of the sweep has measured it
UNTIMED_CALL_COST = 8
#: a point may use this share of the free memory before it is predicted to run out
MEMORY_HEADROOM = 0.8


@dataclass(frozen=True)
class Point:
    mixer: str
    length: int

    @property
    def id(self) -> str:
        return f"{self.mixer}-L{self.length}"


def sweep_points(options: RunOptions, workload: str) -> list[Point]:
    """Variant-major, lengths ascending: each point can be predicted from the
    shorter ones of its variant run just before it."""
    lengths = options.decode_lengths if workload == "decode" else options.lengths
    return [Point(name, length) for name in options.mixers for length in lengths]


def group_name(workload: str, length: int) -> str:
    """One pytest-benchmark group per workload and length, so that its table
    compares mixers on equal terms."""
    return f"{workload}-L{length}"


# -- what this session has measured ---------------------------------------------------
@dataclass
class Outcome:
    length: int
    status: str
    #: seconds per call (decode: per token) and peak bytes, when measured
    call_s: float | None = None
    peak_mem_bytes: int | None = None
    #: time before the timed rounds (build, probe, memory, FLOPs), in calls
    untimed_calls: float = UNTIMED_CALL_COST


@dataclass
class SweepHistory:
    outcomes: dict[tuple[str, str], list[Outcome]] = field(default_factory=dict)
    #: relative error against the family reference per variant, or why it could not be checked
    reference_errors: dict[str, float | Exception] = field(default_factory=dict)
    instruments_ready: bool = False

    def add(self, mixer: str, workload: str, outcome: Outcome) -> None:
        self.outcomes.setdefault((mixer, workload), []).append(outcome)

    def shorter(self, mixer: str, workload: str, length: int) -> list[Outcome]:
        return [o for o in self.outcomes.get((mixer, workload), []) if o.length < length]


_HISTORY_KEY = pytest.StashKey[SweepHistory]()


def session_history(config: pytest.Config) -> SweepHistory:
    return config.stash.setdefault(_HISTORY_KEY, SweepHistory())


class PointNotRun(Exception):
    """A point that is recorded with ``status`` instead of being timed."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status, self.reason = status, reason


# -- prediction --------------------------------------------------------------------
def predict(
    history: SweepHistory, options: RunOptions, mixer: str, workload: str, length: int
) -> PointNotRun | None:
    """Why this point would obviously fail, from the shorter points; None if it may run."""
    shorter = history.shorter(mixer, workload, length)
    for outcome in shorter:
        if outcome.status in ("oom", "timeout"):
            return PointNotRun(
                outcome.status,
                f"predicted: the shorter L={outcome.length} already ended in {outcome.status}",
            )
    measured = [o for o in shorter if o.status == "ok" and o.call_s]
    if len(measured) < 2:  # one point shows no trend: fixed overheads may dominate it
        return None
    calls = calls_per_point(options, workload, measured[-1].untimed_calls)
    lengths, times = [o.length for o in measured], [o.call_s for o in measured]
    law = extrapolation_law(lengths, times, min_time_exponent(workload), 3.0)
    seconds = law(length) * calls
    if seconds > options.time_budget_s:
        return PointNotRun(
            "timeout",
            f"predicted {seconds:.3g} s for {calls:.3g} calls' worth (time per call "
            f"~ L^{law.exponent:.2f} from L={', '.join(str(o.length) for o in measured)}), "
            f"over the {options.time_budget_s:g} s budget",
        )
    return predict_memory(measured, options, length)


def min_time_exponent(workload: str) -> float:
    """A call that touches each of L tokens cannot grow slower than L, however
    flat fixed overheads make the short points look (two overhead-bound points
    of a token loop once predicted L=4096 to fit and burnt the budget); a
    decode step after a context of L may honestly cost the same at any L."""
    return 0.0 if workload == "decode" else 1.0


def predict_memory(measured: list[Outcome], options: RunOptions, length: int) -> PointNotRun | None:
    sized = [o for o in measured if o.peak_mem_bytes]
    available = available_memory_bytes(options.device)
    if not sized or available is None:
        return None
    law = extrapolation_law([o.length for o in sized], [o.peak_mem_bytes for o in sized], 0.0, 3.0)
    need = law(length)
    if need > MEMORY_HEADROOM * available:
        return PointNotRun(
            "oom",
            f"predicted peak {need / 2**30:.3g} GiB (~ L^{law.exponent:.2f}), over "
            f"{MEMORY_HEADROOM:.0%} of the {available / 2**30:.3g} GiB free on {options.device}",
        )
    return None


def calls_per_point(options: RunOptions, workload: str, untimed_calls: float) -> float:
    """Calls' worth of time a point takes at the least."""
    profile = options.profile
    iterations = profile.decode_tokens if workload == "decode" else 1
    return iterations * (profile.warmup_rounds + profile.min_rounds) + untimed_calls


def rounds_for(options: RunOptions, round_s: float, elapsed_s: float) -> int:
    """Enough rounds for ``target_time_s`` of timing, within [min_rounds,
    max_rounds]; fewer when the budget left cannot hold them (but never fewer
    than min_rounds: then the budget runs out and the point is a timeout)."""
    profile = options.profile
    wanted = int(profile.target_time_s / max(round_s, 1e-9))
    room = int((options.time_budget_s - elapsed_s) / max(round_s, 1e-9)) - profile.warmup_rounds
    return max(profile.min_rounds, min(wanted, room, profile.max_rounds))


# -- the reference check ------------------------------------------------------------
def checked_reference_error(history: SweepHistory, options: RunOptions, mixer: str) -> float:
    """The variant's error against its family reference, computed once per session.
    Raises PointNotRun(failed) when it disagrees or cannot be checked."""
    if mixer not in history.reference_errors:
        try:
            history.reference_errors[mixer] = reference_error(mixer, options)
        except Exception as exc:  # a broken variant: recorded, its points fail
            history.reference_errors[mixer] = exc
    error = history.reference_errors[mixer]
    if isinstance(error, Exception):
        raise PointNotRun("failed", f"reference check raised {type(error).__name__}: {error}")
    tolerance = get_spec(mixer).cls.reference_tolerance
    if not error <= tolerance:
        raise PointNotRun(
            "failed",
            f"disagrees with its family reference: relative error {error:.3g} > "
            f"{tolerance:g} at L={options.profile.check_len}",
        )
    return error


# -- one point ------------------------------------------------------------------------
def run_point(request: pytest.FixtureRequest, benchmark: Any, workload: str, point: Point) -> None:
    options = get_options(request.config)
    history = session_history(request.config)
    benchmark.group = group_name(workload, point.length)
    base = base_info(options, workload, point)
    if not history.instruments_ready:
        warm_up_instruments(options.device)
        history.instruments_ready = True
    try:
        reason = get_spec(point.mixer).unavailable_reason()
        if reason is not None:
            raise PointNotRun("unavailable", reason)
        base["ref_rel_err"] = checked_reference_error(history, options, point.mixer)
        predicted = predict(history, options, point.mixer, workload, point.length)
        if predicted is not None:
            raise predicted
        info, untimed_s = measure_point(benchmark, options, workload, point)
    except PointNotRun as not_run:
        report_not_run(request, history, options, workload, point, base, not_run)
        return
    except Exception as exc:
        # a point that did not finish is never saved as a benchmark, even if
        # its timed rounds completed just before the budget ran out
        benchmark.has_error = True
        free_memory(options.device)
        not_run = PointNotRun(failure_status(exc), f"{type(exc).__name__}: {exc}")
        if not_run.status == "failed":
            record(request, history, options, workload, point, base, not_run)
            raise
        report_not_run(request, history, options, workload, point, base, not_run)
        return
    benchmark.extra_info.update(make_extra_info(**base, **info, status="ok"))
    call_s = median_seconds(benchmark)
    untimed_calls = untimed_s / call_s if call_s else UNTIMED_CALL_COST
    outcome = Outcome(point.length, "ok", call_s, info["peak_mem_bytes"], untimed_calls)
    history.add(point.mixer, workload, outcome)


def failure_status(exc: Exception) -> str:
    if is_out_of_memory(exc):
        return "oom"
    return "timeout" if isinstance(exc, PointTimeout) else "failed"


def base_info(options: RunOptions, workload: str, point: Point) -> dict[str, Any]:
    return {
        "mixer": point.mixer,
        "workload": workload,
        "seq_len": point.length,
        "batch": options.batch,
        "d_model": options.d_model,
        "n_layers": options.n_layers,
        "dtype": str(options.dtype).removeprefix("torch."),
        "device": options.device.type,
        "mixer_config": mixer_config(point.mixer, options),
    }


def measure_point(
    benchmark: Any, options: RunOptions, workload: str, point: Point
) -> tuple[dict[str, Any], float]:
    """Everything a point records besides status, and the seconds it spent
    before the timed rounds (building, decode's prefill, probe, memory,
    FLOPs); raises on OOM or timeout."""
    started = time.perf_counter()
    with time_limit(options.time_budget_s):
        model = build_backbone(point.mixer, options, options.device)
        work = build_workload(workload, model, options, point.length)
        round_s = time_once(work.call) * work.iterations
        peak = peak_memory_bytes(work.call, options.device)
        flops_counted = counted_flops(work.call)
        untimed_s = time.perf_counter() - started
        rounds = rounds_for(options, round_s, time.perf_counter() - started)
        warmup = options.profile.warmup_rounds
        work.prepare((rounds + warmup + 1) * work.iterations)
        benchmark.pedantic(
            work.call, rounds=rounds, warmup_rounds=warmup, iterations=work.iterations
        )
    seconds = median_seconds(benchmark)
    info = {
        "params": count_params(model),
        "flops": analytic_flops(model, workload, options.batch, point.length),
        "flops_counted": flops_counted,
        "peak_mem_bytes": peak,
        "state_bytes": model_state_bytes(model, options.batch, point.length, options.dtype),
        "tokens_per_s": work.tokens_per_call / seconds if seconds else None,
    }
    return info, untimed_s


def median_seconds(benchmark: Any) -> float | None:
    """Median seconds per call; None under --benchmark-disable (one untimed call)."""
    return benchmark.stats.stats.median if benchmark.stats else None


def record(
    request: pytest.FixtureRequest,
    history: SweepHistory,
    options: RunOptions,
    workload: str,
    point: Point,
    base: dict[str, Any],
    not_run: PointNotRun,
) -> None:
    figures = analytic_figures(point.mixer, options, workload, point.length)
    info = {**base, **figures, "status": not_run.status, "reason": not_run.reason}
    record_failure(request, request.node.name, info, group=group_name(workload, point.length))
    history.add(point.mixer, workload, Outcome(point.length, not_run.status))


def report_not_run(
    request: pytest.FixtureRequest,
    history: SweepHistory,
    options: RunOptions,
    workload: str,
    point: Point,
    base: dict[str, Any],
    not_run: PointNotRun,
) -> None:
    """Record the point; a failed check fails the test, anything else skips it."""
    record(request, history, options, workload, point, base, not_run)
    message = f"{point.mixer} {workload} L={point.length}: {not_run}"
    if not_run.status == "failed":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)

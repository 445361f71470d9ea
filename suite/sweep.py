"""One benchmark point of a sweep along any axis of schema.AXES (length,
batch, d_model), from start to record.

``run_point`` is what every speed test calls. In order:

1. an unavailable variant is skipped (status unavailable), and so is a point
   longer than the profile times the variant's workload at
   (``Profile.length_limits``: status skipped);
2. the variant is checked once per session: its forward against its family's
   reference, its prefill + step against its own forward, and causality; one
   that fails is recorded as reference_failed, naming the check, and never timed;
3. the point is predicted from the smaller points of the same variant,
   workload and sweep measured earlier in this session (``SweepHistory``):
   when a smaller one already timed out or ran out of memory, or the power law
   through the largest measured points (one is enough: the law's least slope
   bounds it from below) puts this one over the time budget or the free memory,
   or (decode) the prefill of its context alone would outrun the budget, it is
   skipped as ``timeout``/``oom`` "predicted ...";
4. the point runs under its time budget: a warm-up call (which also sizes the
   number of rounds, and makes the point a timeout at once where its rounds and
   meters, at the smaller points' meter cost per call, would outrun the
   budget), peak memory and counted FLOPs (in one call), then
   pytest-benchmark's timed rounds;
5. an out-of-memory error or the budget running out records status oom or
   timeout; any other error records failed and fails the test.

Points that did not run go to ``suite.records.record_failure`` (the saved
JSON's ``mixbench_failures``) and are skipped with the reason.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from models.registry import MixerSpec, get_spec, mixer_options_for
from schema import (
    AXES,
    Status,
    Workload,
    make_extra_info,
    point_id,
    throughput,
    timed_rounds,
    waited_for_cores,
)

from .contention import CONTENDED, ContentionProbe, stretched_budget
from .guard import guarded
from .measure import (
    EventClock,
    L2Flush,
    PointTimeout,
    ThreadClock,
    available_memory_bytes,
    cpu_time_is_cost,
    extrapolation_law,
    free_memory,
    is_out_of_memory,
    point_meters,
    time_limit,
    time_once,
    warm_up,
    warm_up_instruments,
)
from .options import RunOptions, dest_of, get_options
from .profiles import AXIS_FLAGS
from .records import record_failure
from .workloads import (
    ReferenceCheck,
    analytic_figures,
    build_backbone,
    build_workload,
    call_for,
    check_against_reference,
)
from .workloads import Workload as TimedWork

#: plain calls' worth of time a point spends besides its timed rounds (the
#: warm-up probe, the memory profiler and the FLOP counter, which slow a call
#: down up to ~8x on a token-by-token Python loop, far less on big matmuls),
#: until a shorter point of the sweep has measured it
UNTIMED_CALL_COST = 8
#: a point may use this share of the free memory before it is predicted to run out
MEMORY_HEADROOM = 0.8
#: a point is skipped as a timeout only when predicted this many times over its
#: budget: two short points measured in a noisy phase can make the slope look
#: steeper than it is, and a point that would have fit must not be lost to load
#: (the budget itself still stops a point that runs over). At 3 the points
#: predicted 1-3x over it ran, and each burnt its budget whole
TIME_MARGIN = 2.0
#: a point whose first call says its rounds need this many times the budget it
#: has left is a timeout at once (doomed_by_first_call)
FIRST_CALL_MARGIN = 1.5


@dataclass(frozen=True)
class Point:
    mixer: str
    workload: str
    #: the swept axis (a key of schema.AXES)
    sweep: str
    #: the point's value on every axis
    shape: Mapping[str, int]

    @property
    def x(self) -> int:
        """The value along the swept axis."""
        return self.shape[self.sweep]

    @property
    def id(self) -> str:
        """e.g. retnet/recurrent-L4096, or retnet/recurrent-B16-L4096 in a batch sweep."""
        return point_id(self.mixer, self.shown)

    @property
    def group(self) -> str:
        """One pytest-benchmark group per workload and swept value, so that its
        table compares mixers on equal terms."""
        return f"{self.workload}-{point_id('', self.shown).lstrip('-')}"

    @property
    def shown(self) -> dict[str, int]:
        return {self.sweep: self.x, "length": self.shape["length"]}


def sweep_points(options: RunOptions, workload: str) -> list[Point]:
    """Value-major, the swept axis ascending: the mixers at one value are
    measured one after another, so that a slow phase of the machine hits them
    alike, and each point can still be predicted from the smaller ones of its
    variant measured before it."""
    return [
        Point(name, workload, options.sweep, shape)
        for shape in options.axis_values(workload)
        for name in options.mixers
    ]


# -- what this session has measured ---------------------------------------------------
@dataclass
class Outcome:
    #: the value along the swept axis
    x: int
    status: str
    #: seconds per call (decode: per token) on a quiet machine (the measured
    #: time over the point's contention), and peak bytes, when measured
    call_s: float | None = None
    peak_mem_bytes: int | None = None
    #: time before the timed rounds (build, probe, memory, FLOPs), in calls
    untimed_calls: float = UNTIMED_CALL_COST
    #: time of the meters (memory and FLOPs) alone, in calls: ~1 on big products,
    #: 20-40 on a token loop, whose every small op the profiler records
    meter_calls: float = 0.0


@dataclass
class SweepHistory:
    outcomes: dict[tuple[str, str, str], list[Outcome]] = field(default_factory=dict)
    #: each variant's reference check, or why it could not be made
    reference_checks: dict[str, ReferenceCheck | Exception] = field(default_factory=dict)
    instruments_ready: bool = False
    probe: ContentionProbe | None = None

    def add(self, point: Point, outcome: Outcome) -> None:
        self.outcomes.setdefault((point.mixer, point.workload, point.sweep), []).append(outcome)

    def smaller(self, point: Point) -> list[Outcome]:
        """The outcomes of the same variant, workload and sweep below this point."""
        key = (point.mixer, point.workload, point.sweep)
        return [o for o in self.outcomes.get(key, []) if o.x < point.x]


_HISTORY_KEY = pytest.StashKey[SweepHistory]()


def session_history(config: pytest.Config) -> SweepHistory:
    return config.stash.setdefault(_HISTORY_KEY, SweepHistory())


class PointNotRun(Exception):
    """A point that is recorded with ``status`` instead of being timed."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status, self.reason = status, reason


# -- prediction --------------------------------------------------------------------
def predict(history: SweepHistory, options: RunOptions, point: Point) -> PointNotRun | None:
    """Why this point would obviously fail, from the smaller ones; None if it may run."""
    smaller = history.smaller(point)
    axis = AXES[point.sweep]
    for outcome in smaller:
        if outcome.status in (Status.OOM, Status.TIMEOUT):
            return PointNotRun(
                outcome.status,
                f"predicted: the smaller {axis.id_prefix}={outcome.x} already ended in "
                f"{outcome.status}",
            )
    context = predict_context(history, options, point)
    if context is not None:
        return context
    measured = [o for o in smaller if o.status == Status.OK and o.call_s]
    if not measured:
        return None
    calls = calls_per_point(options, point.workload, measured[-1].untimed_calls)
    xs, law = time_law(measured, min_time_exponent(point))
    seconds = law(point.x) * calls
    if seconds > TIME_MARGIN * options.time_budget_s:
        return PointNotRun(
            Status.TIMEOUT,
            f"predicted {seconds:.3g} s for {calls:.3g} calls' worth (time per call "
            f"~ {axis.id_prefix}^{law.exponent:.2f} from {axis.id_prefix}="
            f"{', '.join(str(x) for x in xs)}), over {TIME_MARGIN:g}x the "
            f"{options.time_budget_s:g} s budget",
        )
    return predict_memory(measured, options, point)


def time_law(measured: list[Outcome], min_exponent: float):
    """The values of ``measured`` and the power law of their time per call
    through them, its exponent bounded below by ``min_exponent`` (and above by 3)."""
    xs = [o.x for o in measured]
    return xs, extrapolation_law(xs, [o.call_s for o in measured], min_exponent, 3.0)


def predict_context(history: SweepHistory, options: RunOptions, point: Point) -> PointNotRun | None:
    """A decode point prefills its context first (workloads.decode_workload):
    one call of the prefill at its shape, whose sweep ran before. Where that
    prefill ran out of memory at this value or below, or its power law puts
    that one call over the budget, so is the decode point; None otherwise."""
    if point.workload != Workload.DECODE:
        return None
    axis = AXES[point.sweep].id_prefix
    key = (point.mixer, Workload.PREFILL, point.sweep)
    prefills = [o for o in history.outcomes.get(key, []) if o.x <= point.x]
    for outcome in prefills:
        if outcome.status == Status.OOM:
            return PointNotRun(
                Status.OOM,
                f"predicted: the prefill of its context already ran out of memory at "
                f"{axis}={outcome.x}",
            )
    measured = [o for o in prefills if o.status == Status.OK and o.call_s]
    if not measured:
        return None
    xs, law = time_law(measured, 1.0)
    seconds = law(point.x)
    if seconds <= TIME_MARGIN * options.time_budget_s:
        return None
    return PointNotRun(
        Status.TIMEOUT,
        f"predicted {seconds:.3g} s for the prefill of its context alone (prefill time per "
        f"call ~ {axis}^{law.exponent:.2f} from {axis}={', '.join(str(x) for x in xs)}), over "
        f"{TIME_MARGIN:g}x the {options.time_budget_s:g} s budget",
    )


def expected_meter_calls(history: SweepHistory, point: Point) -> float:
    """The meters' cost in calls at the largest smaller point of the variant
    that ran; 0 where none did (nothing known)."""
    measured = [o for o in history.smaller(point) if o.status == Status.OK]
    return measured[-1].meter_calls if measured else 0.0


def min_time_exponent(point: Point) -> float:
    """A call that touches each of its batch x L tokens cannot grow slower than
    them, however flat fixed overheads make the small points look (two
    overhead-bound points of a token loop once predicted L=4096 to fit and burnt
    the budget); a decode step after a context of L may honestly cost the same
    at any L."""
    return 0.0 if point.workload == Workload.DECODE and point.sweep == "length" else 1.0


def predict_memory(
    measured: list[Outcome], options: RunOptions, point: Point
) -> PointNotRun | None:
    sized = [o for o in measured if o.peak_mem_bytes]
    available = available_memory_bytes(options.device)
    if not sized or available is None:
        return None
    law = extrapolation_law([o.x for o in sized], [o.peak_mem_bytes for o in sized], 0.0, 3.0)
    need = law(point.x)
    if need > MEMORY_HEADROOM * available:
        return PointNotRun(
            Status.OOM,
            f"predicted peak {need / 2**30:.3g} GiB (~ {AXES[point.sweep].id_prefix}^"
            f"{law.exponent:.2f}), over {MEMORY_HEADROOM:.0%} of the "
            f"{available / 2**30:.3g} GiB free on {options.device}",
        )
    return None


def calls_per_point(options: RunOptions, workload: str, untimed_calls: float) -> float:
    """Calls' worth of time a point takes at the least."""
    profile = options.profile
    iterations = profile.decode_tokens if workload == Workload.DECODE else 1
    return iterations * (profile.warmup_rounds + profile.min_rounds) + untimed_calls


def rounds_for(options: RunOptions, round_s: float, elapsed_s: float, budget_s: float) -> int:
    """Enough rounds for ``target_time_s`` of timing, within [min_rounds,
    max_rounds]; fewer when the budget left cannot hold them (but never fewer
    than min_rounds: then the budget runs out and the point is a timeout)."""
    profile = options.profile
    wanted = int(profile.target_time_s / max(round_s, 1e-9))
    room = int((budget_s - elapsed_s) / max(round_s, 1e-9)) - profile.warmup_rounds
    return max(profile.min_rounds, min(wanted, room, profile.max_rounds))


# -- the reference check ------------------------------------------------------------
def checked_reference_error(history: SweepHistory, options: RunOptions, spec: MixerSpec) -> float:
    """The variant's worst relative error in its reference check, made once per
    session. Raises PointNotRun(reference_failed) naming the checks it failed,
    or failed when the check itself raised."""
    if spec.name not in history.reference_checks:
        try:
            history.reference_checks[spec.name] = guarded(
                lambda: check_against_reference(spec, options),
                options.time_budget_s,
                f"{spec.name}'s reference check",
            )
        except Exception as exc:  # a broken variant: recorded, its points fail
            history.reference_checks[spec.name] = exc
    check = history.reference_checks[spec.name]
    if isinstance(check, Exception):
        raise PointNotRun(
            failure_status(check), f"the reference check raised {type(check).__name__}: {check}"
        )
    failures = check.failures(spec.cls.reference_tolerance)
    if failures:
        where = f" at L={options.profile.check_len}"
        raise PointNotRun(Status.REFERENCE_FAILED, "; ".join(failures) + where)
    return check.worst


# -- one point ------------------------------------------------------------------------
def run_point(request: pytest.FixtureRequest, benchmark: Any, point: Point) -> None:
    options = get_options(request.config)
    history = session_history(request.config)
    benchmark.group = point.group
    spec = get_spec(point.mixer)
    base = base_info(options, spec, point)
    if not history.instruments_ready:
        warm_up_instruments(options.device)
        history.instruments_ready = True
        history.probe = ContentionProbe(options.device)
    before = history.probe.contention_now()
    not_run = None
    ran = False  # whether a reference check or the point ran: else there is nothing to free
    try:
        reason = unavailable_reason(options, spec, point)
        if reason is not None:
            raise PointNotRun(Status.UNAVAILABLE, reason)
        left_out = left_out_reason(options, point)
        if left_out is not None:
            raise PointNotRun(Status.SKIPPED, left_out)
        ran = spec.name not in history.reference_checks  # made now, once per variant
        base["ref_rel_err"] = checked_reference_error(history, options, spec)
        predicted = predict(history, options, point)
        if predicted is not None:
            raise predicted
        budget_s = stretched_budget(options.time_budget_s, before)
        meter_calls = expected_meter_calls(history, point)
        ran = True
        info, untimed_s, meter_s = guarded(
            lambda: measure_point(benchmark, options, spec, point, budget_s, meter_calls),
            budget_s,
            f"{point.workload} of {point.id}",
        )
    except PointNotRun as not_recorded:
        not_run = not_recorded
    except Exception as exc:
        # a point that did not finish is never saved as a benchmark, even if
        # its timed rounds completed just before the budget ran out
        benchmark.has_error = True
        not_run = PointNotRun(failure_status(exc), f"{type(exc).__name__}: {exc}")
        if not_run.status == Status.FAILED:
            record(request, history, options, spec, point, base, not_run)
            raise
    # out of the except blocks: the exception, its traceback and with them the
    # failed point's frames and tensors are gone, so that freeing frees them (a
    # full collection, ~0.1 s, which the ~200 points skipped or predicted skip)
    if ran:
        free_memory(options.device)
    if not_run is not None:
        report_not_run(request, history, options, spec, point, base, not_run)
        return
    contention = max(before, history.probe.contention_now())
    waited = waited_for_cores(info["round_times_s"], info["round_cpu_s"])
    info.update(contention=contention, contended=contention > CONTENDED or waited)
    benchmark.extra_info.update(make_extra_info(**base, **info, status=Status.OK))
    call_s = point_seconds(info["round_times_s"], info["round_cpu_s"])
    untimed_calls = untimed_s / call_s if call_s else UNTIMED_CALL_COST
    meter_calls = meter_s / call_s if call_s else 0.0
    # CPU seconds leave the waits out already; a wall time carries the load
    slowed = contention if info["round_cpu_s"] is None else 1.0
    quiet_s = call_s / slowed if call_s else None
    outcome = Outcome(
        point.x, Status.OK, quiet_s, info["peak_mem_bytes"], untimed_calls, meter_calls
    )
    history.add(point, outcome)


def unavailable_reason(options: RunOptions, spec: MixerSpec, point: Point) -> str | None:
    """Why the variant cannot run this point although it may be built: this
    machine, the run's device and dtype, or a kernel's limit at the point's
    width and knobs (flash-attn's head dim); None when it can."""
    reason = spec.unavailable_reason(options.device, options.dtype)
    if reason is not None:
        return reason
    d_model = point.shape["d_model"]
    return spec.cls.shape_problem(d_model, **options.mixer_config(spec.name, d_model))


def left_out_reason(options: RunOptions, point: Point) -> str | None:
    """Why the profile leaves this point out: it is longer than the profile
    times the variant's workload at (``Profile.length_limits``, unless
    --lengths was given); None when it runs."""
    if dest_of(AXIS_FLAGS["length"].values) in options.given:
        return None
    limits = mixer_options_for(point.mixer, options.profile.length_limits)
    longest = limits.get(point.workload)
    if longest is None or point.shape["length"] <= longest:
        return None
    where = f"up to L={longest}" if longest else "at no length"
    return (
        f"the {options.profile.name} profile times {point.mixer}'s {point.workload} {where} "
        "(its length_limits; --lengths lifts them)"
    )


def failure_status(exc: Exception) -> Status:
    if is_out_of_memory(exc):
        return Status.OOM
    return Status.TIMEOUT if isinstance(exc, PointTimeout) else Status.FAILED


def base_info(options: RunOptions, spec: MixerSpec, point: Point) -> dict[str, Any]:
    return {
        "mixer": point.mixer,
        "mixer_class": spec.class_path,
        "workload": point.workload,
        "sweep": point.sweep,
        "n_layers": options.n_layers,
        # after the run-wide values, so that a swept axis records its own value
        **{AXES[axis].key: value for axis, value in point.shape.items()},
        "dtype": str(options.dtype).removeprefix("torch."),
        "device": options.device.type,
        "mixer_config": options.mixer_config(spec.name, point.shape["d_model"]),
        "fixed_state": spec.cls.fixed_state,
    }


def measure_point(
    benchmark: Any,
    options: RunOptions,
    spec: MixerSpec,
    point: Point,
    budget_s: float,
    meter_calls: float = 0.0,
) -> tuple[dict[str, Any], float, float]:
    """Everything a point records besides status and contention, the seconds
    it spent before the timed rounds (building, decode's prefill, probe,
    warm-up, memory, FLOPs) and those of the meters alone; raises on OOM or
    once ``budget_s`` runs out. ``meter_calls``: the meters' expected cost in calls."""
    started = time.perf_counter()
    with time_limit(budget_s):
        model = build_backbone(spec, point.shape, options, options.device)
        work = build_workload(point.workload, model, call_for(point.shape, options))
        round_s = time_once(work.call) * work.iterations
        meters_s = meter_calls * round_s / work.iterations
        elapsed_s = time.perf_counter() - started
        doomed = doomed_by_first_call(options, round_s, elapsed_s, budget_s, meters_s)
        if doomed is not None:
            raise doomed
        if warm_up(work.call, options.warmup_seconds):  # the first call ran cold
            round_s = time_once(work.call) * work.iterations
        metered_at = time.perf_counter()
        metered = point_meters(work.call, options.device)
        untimed_s = time.perf_counter() - started
        meter_s = untimed_s - (metered_at - started)
        rounds = rounds_for(options, round_s, time.perf_counter() - started, budget_s)
        warmup = options.profile.warmup_rounds
        work.prepare((rounds + warmup + 1) * work.iterations)
        clock = PointClock(work, options)
        benchmark.pedantic(clock, rounds=rounds, warmup_rounds=warmup, iterations=work.iterations)
    rounds_s = clock.rounds_s(benchmark, rounds, work.iterations)
    cpu_s = clock.cpu_s(rounds, work.iterations) if rounds_s else None
    info = {
        **analytic_figures(model, point.workload, point.shape["batch"], point.shape["length"]),
        **metered,
        **clock.method(),
        "cuda_graph": work.cuda_graph,
        "tokens_per_s": throughput(work.tokens_per_call, point_seconds(rounds_s, cpu_s)),
        "round_times_s": rounds_s,
        "round_cpu_s": cpu_s,
    }
    return info, untimed_s, meter_s


class PointClock:
    """The target of a point's timed rounds: on CUDA each call between CUDA
    events (after an L2 flush under --flush-l2), else the timing thread's
    CPU seconds beside pytest-benchmark's wall time; the workload's ``setup``
    runs before each call, outside the timed interval."""

    def __init__(self, work: TimedWork, options: RunOptions) -> None:
        self.options = options
        self.flush = L2Flush(options.device) if self.events and options.flush_l2 else None
        if self.events:
            self.clock: EventClock | ThreadClock = EventClock(
                work.call, options.device, self.before_call(work.setup)
            )
        else:
            self.clock = ThreadClock(work.call, work.setup)

    @property
    def events(self) -> bool:
        return self.options.device.type == "cuda"

    def before_call(self, setup: Any) -> Any:
        if self.flush is None:
            return setup

        def both() -> None:
            if setup is not None:
                setup()
            self.flush()

        return both

    def __call__(self) -> Any:
        return self.clock()

    def rounds_s(self, benchmark: Any, rounds: int, iterations: int) -> list[float] | None:
        """Seconds per call of every timed round; on CUDA the events', which
        also replace pytest-benchmark's own (the host's, which saw the launches
        only), so that its stats in the saved file are the device's."""
        if not benchmark.stats:
            return None  # --benchmark-disable: one untimed call
        if not self.events:
            return list(benchmark.stats.stats.data)
        timed = self.clock.per_round(rounds, iterations)
        benchmark.stats.stats.data[:] = timed
        return timed

    def cpu_s(self, rounds: int, iterations: int) -> list[float] | None:
        if not cpu_time_is_cost(self.options.device):
            return None
        return self.clock.per_round(rounds, iterations)

    def method(self) -> dict[str, Any]:
        """How the rounds were timed, by schema field."""
        if self.events:
            timer = "cuda_events"
        else:
            timer = "thread_cpu" if cpu_time_is_cost(self.options.device) else "host"
        return {
            "timer": timer,
            "warmup_s": self.options.warmup_seconds,
            "l2_flushed": self.flush is not None,
        }


def doomed_by_first_call(
    options: RunOptions, round_s: float, elapsed_s: float, budget_s: float, meters_s: float = 0.0
) -> PointNotRun | None:
    """A timeout, said at once, where the fewest rounds the point may time
    and its meters (``meters_s``, expected from the smaller points) would take
    FIRST_CALL_MARGIN times the budget it has left, at the pace of its first
    call (which runs cold, so slower than the rounds would): burning the rest
    of the budget first would only confirm it."""
    rounds = options.profile.warmup_rounds + options.profile.min_rounds
    needed_s = rounds * round_s + meters_s
    left_s = budget_s - elapsed_s
    if needed_s <= FIRST_CALL_MARGIN * left_s:
        return None
    meters = f" and its meters ~{meters_s:.3g} s" if meters_s else ""
    return PointNotRun(
        Status.TIMEOUT,
        f"predicted from its first call ({round_s:.3g} s a round): {rounds} rounds{meters} "
        f"need ~{needed_s:.3g} s, over {FIRST_CALL_MARGIN:g}x the {max(left_s, 0):.3g} s left "
        f"of its {budget_s:.3g} s budget",
    )


def point_seconds(rounds_s: list[float] | None, cpu_s: list[float] | None) -> float | None:
    """A point's seconds per call: the median of its timed rounds (one thread
    on a CPU: their CPU seconds, schema.timed_rounds); None under
    --benchmark-disable (one untimed call)."""
    return statistics.median(timed_rounds(rounds_s, cpu_s)) if rounds_s else None


def figures_without_running(spec: MixerSpec, options: RunOptions, point: Point) -> dict[str, Any]:
    """The analytic figures of a point that never ran, from a model on the meta
    device; empty when the model cannot be built (an unavailable or broken variant)."""
    if spec.unavailable_reason() is not None:
        return {}
    try:
        model = build_backbone(spec, point.shape, options, "meta")
    except Exception:
        return {}
    return analytic_figures(model, point.workload, point.shape["batch"], point.shape["length"])


def record(
    request: pytest.FixtureRequest,
    history: SweepHistory,
    options: RunOptions,
    spec: MixerSpec,
    point: Point,
    base: dict[str, Any],
    not_run: PointNotRun,
) -> None:
    figures = figures_without_running(spec, options, point)
    info = {**base, **figures, "status": not_run.status, "reason": not_run.reason}
    if not_run.status in (Status.OOM, Status.TIMEOUT) and history.probe is not None:
        # a budget that ran out on a busy machine says less than one on a quiet one
        contention = history.probe.contention_now()
        info.update(contention=contention, contended=contention > CONTENDED)
    record_failure(request, request.node.name, info, group=point.group)
    history.add(point, Outcome(point.x, not_run.status))


def report_not_run(
    request: pytest.FixtureRequest,
    history: SweepHistory,
    options: RunOptions,
    spec: MixerSpec,
    point: Point,
    base: dict[str, Any],
    not_run: PointNotRun,
) -> None:
    """Record the point; a failed check fails the test, anything else skips it."""
    record(request, history, options, spec, point, base, not_run)
    message = f"{point.mixer} {point.workload} {point.id}: {not_run}"
    if not_run.status in (Status.FAILED, Status.REFERENCE_FAILED):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)

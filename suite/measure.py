"""Timing, peak memory and FLOP counting of one callable, on CPU and CUDA.

- Timing: a callable is wrapped by ``synchronized`` so that a CUDA kernel
  launched inside it has finished when the timer stops. On CUDA,
  ``EventClock`` also times every call between two CUDA events (the device's
  own clock, as triton.testing.do_bench does), optionally after writing a
  buffer larger than the L2 cache (``L2Flush``), and those are the point's
  rounds; ``warm_up`` calls a callable for a number of seconds first, so that
  Triton's compilation and autotuning are never timed. On a CPU with one
  torch thread, ``ThreadClock`` also notes the timing thread's CPU seconds of
  each call beside the wall time pytest-benchmark takes, and those are the
  point's time (schema.timed_rounds): the wall time of a round includes every
  wait for a core behind other work (beside two ``yes`` hogs, runs of rounds
  at 1.5-2.5x and quiet-fast rounds between), its CPU time only the work.
- Peak memory: on CUDA the caching allocator's allocated peak, beside its
  reserved peak and the process's device memory by NVML (``memory_figures``,
  one definition each in schema.METRICS); on CPU the allocation and
  free events that torch's profiler records (``profile_memory=True``), summed
  in time order to a running peak. Either way it is the peak above what was
  allocated when the call began, measured in a call of its own (the profiler
  slows the call down, so never inside timed rounds).
- FLOPs: what ``torch.utils.flop_counter.FlopCounterMode`` sees; None where it
  sees nothing (FFTs, scans, SDPA on CPU), never a silent zero.
- Failures: out-of-memory errors are recognised on both devices; a point
  running past its budget is interrupted with ``PointTimeout``.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

#: lower-cased fragments of the messages allocators raise when memory runs out
OOM_MESSAGES = ("out of memory", "can't allocate memory", "not enough memory")


class PointTimeout(Exception):
    """A benchmark point ran past its time budget."""


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synchronized(fn: Callable[[], Any], device: torch.device) -> Callable[[], Any]:
    """``fn`` that returns only once the device has finished its work, so that
    a host timer around it measures the kernels and not just their launch."""
    return Synchronized(fn, device) if device.type == "cuda" else fn


class Synchronized:
    """A callable that waits for the device after each call; ``fn`` is the
    call itself, which an event clock times without the wait."""

    def __init__(self, fn: Callable[[], Any], device: torch.device) -> None:
        self.fn, self.device = fn, device

    def __call__(self) -> Any:
        out = self.fn()
        torch.cuda.synchronize(self.device)
        return out


def unsynchronized(fn: Callable[[], Any]) -> Callable[[], Any]:
    """The call inside ``synchronized``, else ``fn`` itself."""
    return fn.fn if isinstance(fn, Synchronized) else fn


class ThreadClock:
    """``fn``, also noting the calling thread's CPU seconds of every call
    (``time.thread_time``). On a CPU that thread runs the call's ops (with one
    torch thread all of them, with more its share, and it waits for the rest
    at each op's end), so a round whose CPU seconds fall short of its wall
    seconds spent the difference waiting for a core."""

    def __init__(self, fn: Callable[[], Any], setup: Callable[[], None] | None = None) -> None:
        self.fn, self.setup = fn, setup
        self.calls_cpu_s: list[float] = []

    def __call__(self) -> Any:
        if self.setup is not None:  # before the clock starts (decode: the round's fresh state)
            self.setup()
        start = time.thread_time()
        out = self.fn()
        self.calls_cpu_s.append(time.thread_time() - start)
        return out

    def per_round(self, rounds: int, iterations: int) -> list[float] | None:
        """CPU seconds per call of each of the last ``rounds`` rounds of
        ``iterations`` calls; None where fewer calls were made."""
        wanted = rounds * iterations
        if rounds < 1 or len(self.calls_cpu_s) < wanted:
            return None
        calls = self.calls_cpu_s[-wanted:]
        return [
            sum(calls[i : i + iterations]) / iterations for i in range(0, len(calls), iterations)
        ]


class Passes:
    """One call of the pedantic target is one pass: each call ``iterations[name]``
    times (default once), in an order rotated from pass to pass so that a slow
    phase of the machine hits them all alike, each timed on its own: seconds
    per call (``times``: wall seconds, on CUDA the device's between two CUDA
    events) and the timing thread's CPU seconds per call (``cpu_times``, read
    on a CPU only: see ThreadClock). ``setup[name]`` runs before a name's
    calls of the pass, outside the timed interval (decode: the fresh state of
    the round the pass's calls make up)."""

    def __init__(
        self,
        calls: Mapping[str, Callable[[], Any]],
        device: torch.device,
        iterations: Mapping[str, int] | None = None,
        setup: Mapping[str, Callable[[], None] | None] | None = None,
    ) -> None:
        self.calls = dict(calls)
        self.device = device
        self.iterations = dict(iterations or {})
        self.setup = {name: fn for name, fn in (setup or {}).items() if fn is not None}
        self.done = 0
        self.clear()

    def clear(self) -> None:
        """Forget the passes so far (a warm-up's)."""
        self.times: dict[str, list[float]] = {name: [] for name in self.calls}
        self.cpu_times: dict[str, list[float]] = {name: [] for name in self.calls}

    def __call__(self) -> None:
        names = list(self.calls)
        shift = self.done % len(names)
        for name in names[shift:] + names[:shift]:
            calls = self.iterations.get(name, 1)
            if name in self.setup:
                self.setup[name]()  # a round's fresh state, before the clocks start
            clock = self.clock(name)
            synchronize(self.device)
            start, start_cpu = time.perf_counter(), time.thread_time()
            for _ in range(calls):
                clock()
            synchronize(self.device)
            wall = time.perf_counter() - start
            self.cpu_times[name].append((time.thread_time() - start_cpu) / calls)
            timed = clock.per_round(1, calls) if isinstance(clock, EventClock) else None
            self.times[name].append(timed[0] if timed else wall / calls)
        self.done += 1

    def clock(self, name: str) -> Callable[[], Any]:
        """``name``'s call; on CUDA between two events."""
        if self.device.type == "cuda":
            return EventClock(self.calls[name], self.device)
        return self.calls[name]

    def saved_cpu_times(self, passes: int) -> dict[str, list[float]] | None:
        """The last ``passes`` CPU seconds per mixer, for ``interleaved_cpu_s``;
        None where they are not what the calls cost (cpu_time_is_cost)."""
        if not cpu_time_is_cost(self.device):
            return None
        return {name: times[-passes:] for name, times in self.cpu_times.items()}


def cpu_time_is_cost(device: torch.device) -> bool:
    """On a CPU with one torch thread the timing thread runs every op, so its
    CPU seconds are what a call cost, the waits for a core behind other work
    left out. With more threads it waits for the others at each op's end and
    runs only its share; on a GPU the kernels run elsewhere."""
    return device.type == "cpu" and torch.get_num_threads() == 1


def time_once(fn: Callable[[], Any]) -> float:
    """Seconds of one call of an already ``synchronized`` callable."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


#: the square product's side on a GPU: large enough to be compute-bound (an
#: H100 does 769-798 TFLOP/s on it in bf16; a 1024² product measures the launch)
CUDA_PEAK_SIZE = 8192
#: event-timed products of the GPU peak, the median taken, after as many warm-up calls
CUDA_PEAK_REPEATS = 10


def matmul_peak_flops_per_s(
    device: torch.device, dtype: torch.dtype, size: int = 1024, repeats: int = 5
) -> float:
    """The FLOP/s of a square matmul on this device and dtype: the ceiling
    against which reports draw each mixer's achieved FLOP/s. On a CPU the best
    of ``repeats`` host-timed ``size``² products; on CUDA the median of
    CUDA_PEAK_REPEATS event-timed CUDA_PEAK_SIZE³ products."""
    if device.type == "cuda":
        return cuda_matmul_peak_flops_per_s(device, dtype)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    product = synchronized(lambda: a @ b, device)
    product()
    best = min(time_once(product) for _ in range(repeats))
    return 2 * size**3 / best


def cuda_matmul_peak_flops_per_s(
    device: torch.device,
    dtype: torch.dtype,
    size: int = CUDA_PEAK_SIZE,
    repeats: int = CUDA_PEAK_REPEATS,
) -> float:
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    clock = EventClock(lambda: a @ b, device)
    for _ in range(repeats):  # cuBLAS picks its kernel and the clocks ramp up
        clock.fn()
    for _ in range(repeats):
        clock()
    seconds = statistics.median(clock.per_round(repeats, 1))
    return 2 * size**3 / seconds


# -- CUDA timing ----------------------------------------------------------------
def pedantic_rounds(
    benchmark: Any,
    fn: Callable[[], Any],
    device: torch.device,
    rounds: int,
    warmup_rounds: int = 0,
    iterations: int = 1,
) -> list[float] | None:
    """pytest-benchmark's pedantic rounds of ``fn`` (a ``synchronized`` call);
    on CUDA each call timed between CUDA events, which replace the host's
    times in pytest-benchmark's stats (the host saw the launches only).
    Returns the seconds per call of each round; None under --benchmark-disable."""
    clock = EventClock(fn, device) if device.type == "cuda" else fn
    benchmark.pedantic(clock, rounds=rounds, warmup_rounds=warmup_rounds, iterations=iterations)
    if not benchmark.stats:
        return None
    if isinstance(clock, EventClock):
        benchmark.stats.stats.data[:] = clock.per_round(rounds, iterations)
    return list(benchmark.stats.stats.data)


def warm_up(fn: Callable[[], Any], seconds: float) -> int:
    """Call ``fn`` (synchronized) until ``seconds`` have passed, at least once
    where ``seconds`` > 0: a warm-up measured in time, not rounds, so that a
    Triton kernel's compilation and autotuning (its first calls, however many)
    are over before any round is timed. Returns the calls made."""
    calls = 0
    deadline = time.perf_counter() + seconds
    while seconds > 0 and (calls == 0 or time.perf_counter() < deadline):
        fn()
        calls += 1
    return calls


class L2Flush:
    """Writes a buffer twice the size of the device's L2 cache, so that the
    next call reads its inputs from memory, as it would inside a model whose
    other layers evicted them (triton.testing.do_bench's method)."""

    def __init__(self, device: torch.device) -> None:
        l2_bytes = torch.cuda.get_device_properties(device).L2_cache_size
        self.buffer = torch.empty(2 * max(l2_bytes, 1) // 4, dtype=torch.int32, device=device)

    def __call__(self) -> None:
        self.buffer.zero_()


class EventClock:
    """``fn``, each call between two CUDA events (``setup``, an L2 flush
    where given, before the first, untimed). The events keep the device's own
    time of the call: the host's launch and wait are left out, and nothing
    synchronises until ``per_round`` reads them."""

    def __init__(
        self,
        fn: Callable[[], Any],
        device: torch.device,
        setup: Callable[[], None] | None = None,
    ) -> None:
        self.fn, self.device, self.setup = unsynchronized(fn), device, setup
        self.events: list[tuple[Any, Any]] = []

    def __call__(self) -> Any:
        if self.setup is not None:
            self.setup()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        out = self.fn()
        end.record()
        self.events.append((start, end))
        return out

    def per_round(self, rounds: int, iterations: int) -> list[float] | None:
        """Seconds per call of each of the last ``rounds`` rounds of
        ``iterations`` calls; None where fewer calls were made."""
        wanted = rounds * iterations
        if rounds < 1 or len(self.events) < wanted:
            return None
        torch.cuda.synchronize(self.device)
        seconds = [start.elapsed_time(end) / 1e3 for start, end in self.events[-wanted:]]
        return [
            sum(seconds[i : i + iterations]) / iterations
            for i in range(0, len(seconds), iterations)
        ]


# -- memory -------------------------------------------------------------------
def peak_memory_bytes(fn: Callable[[], Any], device: torch.device) -> int:
    """Peak bytes allocated during one call of ``fn`` above those allocated before it."""
    return memory_figures(fn, device)["peak_mem_bytes"]


def memory_figures(fn: Callable[[], Any], device: torch.device) -> dict[str, int | None]:
    """The memory of one call of ``fn``, by schema field: ``peak_mem_bytes``
    on every device; on CUDA also ``peak_reserved_bytes`` and
    ``device_mem_bytes`` (None where they cannot be read: on a CPU, without NVML)."""
    if device.type == "cuda":
        return cuda_memory_figures(fn, device)
    return {
        "peak_mem_bytes": cpu_peak_memory_bytes(fn),
        "peak_reserved_bytes": None,
        "device_mem_bytes": None,
    }


def cuda_memory_figures(fn: Callable[[], Any], device: torch.device) -> dict[str, int | None]:
    """Allocated and reserved peaks above what was allocated and reserved
    when the call began (the cache emptied first, so that reserving starts
    from the live tensors), and the process's device memory by NVML right
    after the call, before anything is freed (its CUDA context included)."""
    gc.collect()  # tensors in dead reference cycles would count in the baseline
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    allocated = torch.cuda.memory_allocated(device)
    reserved = torch.cuda.memory_reserved(device)
    fn()
    torch.cuda.synchronize(device)
    return {
        "peak_mem_bytes": max(0, torch.cuda.max_memory_allocated(device) - allocated),
        "peak_reserved_bytes": max(0, torch.cuda.max_memory_reserved(device) - reserved),
        "device_mem_bytes": nvml_process_memory_bytes(device),
    }


def nvml():
    """pynvml (nvidia-ml-py), initialised; None where it is not installed or
    NVML cannot start (no driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # not installed, or no driver to talk to
        return None
    return pynvml


def nvml_process_memory_bytes(device: torch.device) -> int | None:
    """This process's memory on ``device`` as the driver counts it (NVML's
    usedGpuMemory: its CUDA context, the caching allocator's pool and any
    library's own allocations); None without NVML."""
    lib = nvml()
    if lib is None:
        return None
    try:
        handle = lib.nvmlDeviceGetHandleByIndex(device_index(device))
        processes = lib.nvmlDeviceGetComputeRunningProcesses(handle)
    except Exception:  # a driver that does not report processes (some MIG setups)
        return None
    used = [p.usedGpuMemory for p in processes if p.pid == os.getpid() and p.usedGpuMemory]
    return sum(used) if used else None


def device_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def gpu_machine_info(device: torch.device) -> dict[str, Any]:
    """The GPU a run measured: its name, and by NVML where installed the
    driver, the SM and memory clocks (now and at most, MHz) and the power
    limit (W); each None where it cannot be read."""
    if device.type != "cuda":
        return {}
    info: dict[str, Any] = {
        "gpu_name": torch.cuda.get_device_name(device),
        "gpu_driver": None,
        "gpu_sm_clock_mhz": None,
        "gpu_max_sm_clock_mhz": None,
        "gpu_memory_clock_mhz": None,
        "gpu_power_limit_w": None,
    }
    lib = nvml()
    if lib is None:
        info["gpu_nvml"] = "pynvml is not installed (pip install nvidia-ml-py)"
        return info
    handle = lib.nvmlDeviceGetHandleByIndex(device_index(device))
    readers = {
        "gpu_driver": lib.nvmlSystemGetDriverVersion,
        "gpu_sm_clock_mhz": lambda: lib.nvmlDeviceGetClockInfo(handle, lib.NVML_CLOCK_SM),
        "gpu_max_sm_clock_mhz": lambda: lib.nvmlDeviceGetMaxClockInfo(handle, lib.NVML_CLOCK_SM),
        "gpu_memory_clock_mhz": lambda: lib.nvmlDeviceGetClockInfo(handle, lib.NVML_CLOCK_MEM),
        "gpu_power_limit_w": lambda: lib.nvmlDeviceGetPowerManagementLimit(handle) / 1000,
    }
    for key, read in readers.items():
        try:
            info[key] = read()
        except Exception:  # a field this GPU or driver does not report
            info[key] = None
    return info


def cpu_peak_memory_bytes(fn: Callable[[], Any]) -> int:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return running_peak(cpu_allocation_deltas(prof))


def cpu_allocation_deltas(prof: profile) -> list[int]:
    """Signed bytes of every CPU allocation (+) and free (-), in time order.
    The raw kineto events keep each allocation at the moment it happened; the
    aggregated ``prof.events()`` fold them into the op that allocated."""
    events = [
        event
        for event in kineto_events(prof)
        if event.name() == "[memory]" and event.device_type() == torch.autograd.DeviceType.CPU
    ]
    events.sort(key=lambda event: event.start_ns())
    return [event.nbytes() for event in events]


def kineto_events(prof: profile) -> list[Any]:
    """The profiler's raw events. Private (``profiler.kineto_results``): the
    public ``prof.events()`` keeps no allocation's own time, only the op that
    made it, so no running peak can be summed from it.
    tests/test_measure.py fails loudly if torch renames it."""
    return list(prof.profiler.kineto_results.events())


def running_peak(deltas: Iterable[int]) -> int:
    """Highest running sum of allocation deltas, never below 0 (a call that only
    frees memory allocated before it has a peak of 0)."""
    running = peak = 0
    for delta in deltas:
        running += delta
        peak = max(peak, running)
    return peak


def available_memory_bytes(device: torch.device) -> int | None:
    """Bytes a point may still allocate: the GPU's free memory and the bytes
    the caching allocator holds reserved but unused (its pool serves them
    first), or the OS's MemAvailable on CPU; None where it cannot be read."""
    if device.type == "cuda":
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return torch.cuda.mem_get_info(device)[0] + max(0, cached)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def free_memory(device: torch.device) -> None:
    """Return what a point left behind before the next one starts. Call it
    outside any ``except`` block: an exception being handled holds the failed
    point's frames, and with them its tensors."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# -- FLOPs --------------------------------------------------------------------
def dispatch_counter_mode() -> type | None:
    """torch's private dispatch mode behind FlopCounterMode (the same ops and
    formulas, without the per-module hooks that double the counter's cost on a
    token loop), or None on a torch without it, where the public counter is used.
    tests/test_measure.py fails loudly if the pinned torch lacks it."""
    return getattr(flop_counter, "_FlopCounterMode", None)


def conv_backward_flops(*shapes: Any, out_shape: Any, **kwargs: Any) -> int:
    """torch's count of a convolution's backward (``shapes``: aten's arguments,
    ending in groups and the output mask), but a grouped convolution's weight
    gradient costs its forward (each output channel against its group's
    inputs): torch counts it as if ungrouped, ``groups`` times too much."""
    *arguments, groups, output_mask = shapes
    count = functools.partial(
        flop_counter.conv_backward_flop, *arguments, groups, out_val=out_shape
    )
    whole = count(output_mask)
    if groups == 1 or not output_mask[1]:
        return whole
    input_grad = count([output_mask[0], False, *output_mask[2:]])
    return input_grad + (whole - input_grad) // groups


class GlobalFlopCounter(FlopCounterMode):
    """FlopCounterMode without its per-module attribution, and with grouped
    convolutions' backward counted right (``conv_backward_flops``)."""

    def __init__(self, **kwargs: Any) -> None:
        mapping = {torch.ops.aten.convolution_backward: conv_backward_flops}
        super().__init__(custom_mapping=mapping, **kwargs)

    def __enter__(self) -> GlobalFlopCounter:
        mode = dispatch_counter_mode()
        if mode is None:
            return super().__enter__()
        self.flop_counts.clear()
        self.mode = mode(self)
        self.mode.__enter__()
        return self

    def __exit__(self, *args: Any) -> Any:
        if dispatch_counter_mode() is None:
            return super().__exit__(*args)
        done, self.mode = self.mode.__exit__(*args), None
        return done


def counted_flops(fn: Callable[[], Any]) -> int | None:
    """FLOPs torch's FLOP counter sees in one call; None where it sees none."""
    with GlobalFlopCounter(display=False) as counter:
        fn()
    return counter.get_total_flops() or None


def memory_and_flops(
    fn: Callable[[], Any], device: torch.device
) -> tuple[dict[str, int | None], int | None]:
    """``memory_figures`` and ``counted_flops`` of one call, counted in one
    call: the FLOP counter sees shapes and allocates nothing, so the peak is
    the same, and a long point pays for one call less."""
    counter = GlobalFlopCounter(display=False)

    def counted() -> None:
        with counter:
            fn()

    memory = memory_figures(counted, device)
    return memory, counter.get_total_flops() or None


def point_meters(fn: Callable[[], Any], device: torch.device) -> dict[str, Any]:
    """What the meters count of one call of ``fn`` beside its timed rounds,
    by schema field: the sweep merges it into the point's extra_info as it
    is, so that a new per-point metric is its schema entry (schema.METRICS),
    its line here and a test, and suite/sweep.py does not change."""
    memory, flops_counted = memory_and_flops(fn, device)
    return {**memory, "flops_counted": flops_counted}


def warm_up_instruments(device: torch.device) -> None:
    """Start every meter once (the profiler, the FLOP counter): their first
    use costs seconds, which must not count against the first point's time
    budget."""
    x = torch.ones(8, 8, device=device)
    point_meters(lambda: x @ x, device)


# -- failures -------------------------------------------------------------------
def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in OOM_MESSAGES)


def can_interrupt() -> bool:
    """SIGALRM interrupts Python code on POSIX, in the main thread only."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``PointTimeout`` in the block once ``seconds`` have passed. A
    single long native op (one huge matmul) finishes before the signal is
    handled; a Python loop over tokens is stopped between two of its steps.
    Where signals are not available the block runs unlimited."""
    if not can_interrupt():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise PointTimeout(f"ran past its time budget of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- scaling ----------------------------------------------------------------------
@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient * x ** exponent."""

    coefficient: float
    exponent: float

    def __call__(self, x: float) -> float:
        return self.coefficient * x**self.exponent


def extrapolation_law(
    xs: Sequence[float], ys: Sequence[float], min_exponent: float, max_exponent: float
) -> PowerLaw:
    """A power law through the largest measured point, with the slope of the
    two largest, clamped to [min_exponent, max_exponent]; with one point the
    slope is min_exponent. At short lengths fixed overheads flatten the slope,
    so the extrapolation errs low: it predicts only what is obviously out of reach."""
    if not xs or len(xs) != len(ys):
        raise ValueError("extrapolation needs as many ys as xs, at least one")
    pairs = sorted(zip(xs, ys, strict=True))
    x1, y1 = pairs[-1]
    exponent = min_exponent
    if len(pairs) > 1:
        x0, y0 = pairs[-2]
        if x0 < x1 and y0 > 0 and y1 > 0:
            exponent = math.log(y1 / y0) / math.log(x1 / x0)
    exponent = min(max(exponent, min_exponent), max_exponent)
    return PowerLaw(y1 / x1**exponent, exponent)


def log_log_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log y over log x: ~1 for linear, ~2 for quadratic cost."""
    if len(xs) < 2 or len(xs) != len(ys):
        raise ValueError("a slope needs at least two (x, y) pairs of equal count")
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx

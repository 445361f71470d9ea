"""How busy the machine is around a point, and so how much slower than on a
quiet machine it ran (``contention``; 1: not slowed).

On a CPU the witness is the CPU time other processes used while the point
ran (every CPU's busy time as psutil reads it on Linux, macOS or Windows,
less this process's own), an absolute measure that needs no quiet moment to
compare with: with ``threads`` torch threads on ``cpus`` cores of which the
others kept ``others`` busy, a fair scheduler gave the point cpus - others
cores for its threads, a slowdown of threads / (cpus - others) where that is
above 1. Elsewhere (a GPU, or a system whose CPU times psutil cannot read)
the witness is a fixed probe, small products run back to back for a few
milliseconds, over the quietest probe of the session. The probe is not used
on a CPU: beside two busy processes a 2-thread product of 128 x 128 waits a
whole time slice at each barrier and runs 100-400x slower than alone, while
a point's larger products run about 2x slower; and on an idle machine it
drifts 1.3-1.4x above its first reading as caches and clocks change.

A 2-4x swing is ordinary on a shared machine; the suite records it, flags
points above ``CONTENDED``, and gives a point's time budget the contention
back, so that a budget counts what the point needs, not what the load adds.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from dataclasses import dataclass, field

import psutil
import torch

from .measure import synchronized

#: a point whose probe ran this many times slower than the quietest is flagged
CONTENDED = 1.5
#: a budget stretches with the contention by at most this factor
MAX_STRETCH = 4.0
#: the most slowdown the others' CPU time is taken to imply
MAX_SLOWDOWN = 8.0
PROBE_SIZE = 128
#: one timed window of back-to-back products; a single ~50 us product mostly
#: times how long the thread pool takes to wake, which swings 1.5x on an idle machine
PROBE_WINDOW_S = 0.004
PROBE_WINDOWS = 3
#: the kernels count CPU time in clock ticks (10 ms on Linux): over a shorter
#: span the others' share is mostly rounding
MIN_LOAD_SPAN_S = 0.25
#: psutil.cpu_times() fields that are work, where the system has them: not idle
#: nor iowait, nor Linux's guest times (already counted in user and nice)
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal", "interrupt", "dpc")


@dataclass(frozen=True)
class CpuMark:
    """The clocks at one moment: wall time, every CPU's busy time and this
    process's own CPU time (all its threads), in seconds."""

    wall_s: float
    machine_busy_s: float | None
    own_s: float


def machine_busy_s() -> float | None:
    """Seconds of work all CPUs have done since boot; None where the system
    does not let psutil read them."""
    try:
        times = psutil.cpu_times()
    except (psutil.Error, OSError, NotImplementedError):
        return None
    return sum(getattr(times, name, 0.0) for name in BUSY_FIELDS)


def cpu_mark() -> CpuMark:
    return CpuMark(time.perf_counter(), machine_busy_s(), time.process_time())


def others_cores(start: CpuMark, end: CpuMark) -> float | None:
    """Cores' worth of other processes' work between two marks; None when the
    span is too short to say or the machine's counters are not readable."""
    span = end.wall_s - start.wall_s
    if span < MIN_LOAD_SPAN_S or start.machine_busy_s is None or end.machine_busy_s is None:
        return None
    others = (end.machine_busy_s - start.machine_busy_s) - (end.own_s - start.own_s)
    return max(0.0, others / span)


def load_slowdown(others: float, threads: int, cpus: int) -> float:
    """How much slower ``threads`` threads ran on ``cpus`` cores while other
    processes kept ``others`` of them busy (the others' usage, already cut
    down by the share they left us): threads / (cpus - others), at most
    MAX_SLOWDOWN (the others left next to nothing)."""
    free = cpus - others
    return MAX_SLOWDOWN if free * MAX_SLOWDOWN <= threads else max(1.0, threads / free)


@dataclass
class ContentionProbe:
    device: torch.device
    #: the quietest probe of the session, seconds
    quietest_s: float = float("inf")
    probes_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.a = torch.randn(PROBE_SIZE, PROBE_SIZE, generator=generator).to(self.device)
        self.product = synchronized(lambda: self.a @ self.a, self.device)
        self.product()
        self.mark = cpu_mark()
        self.last = 1.0

    @functools.cached_property
    def per_window(self) -> int:
        """Products per window, sized on first use: a CPU run that reads the
        machine's CPU times never times the probe, so it never pays for sizing it."""
        return max(1, round(PROBE_WINDOW_S / self.one_product_s()))

    def one_product_s(self) -> float:
        times = []
        for _ in range(20):
            start = time.perf_counter()
            self.product()
            times.append(time.perf_counter() - start)
        return min(times)

    def window_s(self) -> float:
        start = time.perf_counter()
        for _ in range(self.per_window):
            self.product()
        return time.perf_counter() - start

    def measure(self) -> float:
        """The probe's median window now, in seconds (the threads woken first,
        untimed), and the quietest so far."""
        self.product()
        seconds = statistics.median(self.window_s() for _ in range(PROBE_WINDOWS))
        self.probes_s.append(seconds)
        self.quietest_s = min(self.quietest_s, seconds)
        return seconds

    def contention_now(self) -> float:
        """The contention since the last call: on a CPU whose times psutil
        reads, from the other processes' CPU time in between (a span too short to say
        keeps the last figure); elsewhere the probe now over the quietest."""
        end = cpu_mark()
        if self.device.type == "cpu" and end.machine_busy_s is not None:
            others = others_cores(self.mark, end)
            if others is not None:
                cpus = os.cpu_count() or 1
                self.last = load_slowdown(others, torch.get_num_threads(), cpus)
        else:
            self.last = max(1.0, self.measure() / self.quietest_s)
        self.mark = cpu_mark()
        return self.last


def stretched_budget(budget_s: float, contention: float) -> float:
    """The seconds a point may take when the machine is ``contention`` times slower."""
    return budget_s * min(max(contention, 1.0), MAX_STRETCH)

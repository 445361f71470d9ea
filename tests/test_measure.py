"""The measurement layer: peak memory, FLOP counting, synchronised timing,
out-of-memory recognition, time limits and the scaling fits."""

from __future__ import annotations

import time

import pytest
import torch

from schema import EXTRA_INFO_KEYS, make_extra_info
from suite.measure import (
    PointTimeout,
    counted_flops,
    extrapolation_law,
    is_out_of_memory,
    log_log_slope,
    matmul_peak_flops_per_s,
    peak_memory_bytes,
    point_meters,
    running_peak,
    synchronized,
    time_limit,
    time_once,
)

CPU = torch.device("cpu")
N_BYTES = 24 * 2**20


def devices() -> list[torch.device]:
    return [CPU, *([torch.device("cuda")] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", devices(), ids=str)
def test_peak_memory_reads_a_known_allocation(device: torch.device) -> None:
    def allocate() -> int:
        block = torch.ones(N_BYTES, dtype=torch.uint8, device=device)
        return int(block[0])

    peak = peak_memory_bytes(allocate, device)
    assert abs(peak - N_BYTES) <= 0.05 * N_BYTES, peak


@pytest.mark.parametrize("device", devices(), ids=str)
def test_peak_memory_is_the_peak_not_the_sum_and_ignores_earlier_tensors(
    device: torch.device,
) -> None:
    held = torch.ones(N_BYTES, dtype=torch.uint8, device=device)

    def allocate_twice_and_free_the_held_one() -> None:
        first = torch.zeros(N_BYTES, dtype=torch.uint8, device=device)
        del first
        second = torch.zeros(N_BYTES // 2, dtype=torch.uint8, device=device)
        del second

    peak = peak_memory_bytes(allocate_twice_and_free_the_held_one, device)
    assert abs(peak - N_BYTES) <= 0.05 * N_BYTES, peak
    assert held.numel() == N_BYTES


def test_running_peak() -> None:
    assert running_peak([100, -100, 50, 30, -80]) == 100
    assert running_peak([-10, 5]) == 0
    assert running_peak([]) == 0


def test_flop_counter_counts_two_m_n_k_for_a_matmul() -> None:
    m, n, k = 24, 40, 56
    a, b = torch.randn(m, k), torch.randn(k, n)
    assert counted_flops(lambda: a @ b) == 2 * m * n * k


@pytest.mark.parametrize("device", devices(), ids=str)
def test_the_meters_count_schema_fields_from_one_call(device: torch.device) -> None:
    """What the sweep merges into a point's extra_info as it is: schema
    fields only (make_extra_info rejects any other), from one call."""
    a = torch.randn(64, 128, device=device)
    calls = []

    def step() -> torch.Tensor:
        calls.append(1)
        return a @ a.T

    metered = point_meters(step, device)
    assert len(calls) == 1
    assert set(metered) <= set(EXTRA_INFO_KEYS)
    assert make_extra_info(**metered)["flops_counted"] == 2 * 64 * 64 * 128
    assert metered["peak_mem_bytes"] >= 64 * 64 * 4  # the product it allocated


def test_flop_counter_says_none_where_it_sees_nothing() -> None:
    x = torch.randn(1024)
    assert counted_flops(lambda: torch.fft.rfft(x)) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="timer synchronisation needs CUDA")
def test_synchronized_timer_waits_for_the_kernels() -> None:
    device = torch.device("cuda")
    x = torch.randn(4096, 4096, device=device)

    def launch() -> torch.Tensor:
        for _ in range(20):
            y = x @ x
        return y

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    launch()
    end.record()
    torch.cuda.synchronize()
    kernel_s = start.elapsed_time(end) / 1000
    host_s = time_once(synchronized(launch, device))
    assert host_s >= 0.9 * kernel_s, (host_s, kernel_s)


def test_synchronized_is_the_callable_itself_on_cpu() -> None:
    def fn() -> int:
        return 1

    assert synchronized(fn, CPU) is fn


@pytest.mark.parametrize(
    "exc",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        MemoryError(),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"
        ),
    ],
    ids=["cuda", "python", "cpu-allocator"],
)
def test_out_of_memory_is_recognised(exc: BaseException) -> None:
    assert is_out_of_memory(exc)


def test_other_errors_are_not_out_of_memory() -> None:
    assert not is_out_of_memory(RuntimeError("shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of range"))


def test_time_limit_stops_a_python_loop() -> None:
    start = time.perf_counter()
    with pytest.raises(PointTimeout, match="budget of 0.2 s"), time_limit(0.2):
        while time.perf_counter() - start < 10:
            pass
    assert time.perf_counter() - start < 2


def test_time_limit_lets_a_quick_block_finish_and_disarms() -> None:
    with time_limit(0.5):
        pass
    time.sleep(0.7)  # an alarm left armed would raise here


def test_extrapolation_follows_the_two_longest_points_within_its_clamp() -> None:
    quadratic = extrapolation_law([256, 512, 1024], [1.0, 4.0, 16.0], 1.0, 3.0)
    assert quadratic.exponent == pytest.approx(2.0)
    assert quadratic(2048) == pytest.approx(64.0)
    # overhead-dominated short points look flat: the floor keeps growth linear
    flat = extrapolation_law([64, 128], [1.0, 1.0], 1.0, 3.0)
    assert flat(256) == pytest.approx(2.0)
    single = extrapolation_law([100], [3.0], 0.0, 3.0)
    assert single(1000) == pytest.approx(3.0)


def test_log_log_slope() -> None:
    xs = [512, 1024, 2048, 4096]
    assert log_log_slope(xs, [x**2 * 1e-9 for x in xs]) == pytest.approx(2.0)
    assert log_log_slope(xs, [5.0] * 4) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at least two"):
        log_log_slope([1], [1])


def test_matmul_peak_is_a_plausible_rate() -> None:
    peak = matmul_peak_flops_per_s(torch.device("cpu"), torch.float32, size=256, repeats=3)
    # any CPU of the last decades: between a megaflop and a petaflop per second
    assert 1e6 < peak < 1e15


def test_the_private_torch_apis_the_harness_wraps_still_exist() -> None:
    """suite/measure.py wraps two private torch APIs, each in one function; this
    fails loudly, naming which, when a torch upgrade moves one."""
    from torch.profiler import ProfilerActivity, profile

    from suite.measure import dispatch_counter_mode, kineto_events

    assert dispatch_counter_mode() is not None, "torch.utils.flop_counter._FlopCounterMode moved"
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        torch.ones(1024)
    names = {event.name() for event in kineto_events(prof)}
    assert "[memory]" in names, "profiler.kineto_results no longer carries allocation events"

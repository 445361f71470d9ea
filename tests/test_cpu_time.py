"""Times that survive a busy machine: with one torch thread on a CPU a round's
seconds are its timing thread's CPU seconds (schema.timed_rounds), which leave
out the waits for a core behind other work, in the suite's records and in
every time, interval and ratio of the reports."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import torch

from reports.load import point_times
from reports.spread import paired_ratio, pass_times, point_spread, pooled_rounds
from schema import cpu_pairs, timed_rounds, waited_for_cores
from suite.measure import Passes, ThreadClock, cpu_time_is_cost

#: rounds 2 and 4 waited for a core: 2.5x the wall time, the same CPU time
WALL = [1.0, 2.5, 1.1, 2.6, 0.9]
CPU = [0.99, 0.9, 1.05, 0.95, 0.88]


def test_a_points_rounds_are_its_cpu_seconds_where_saved():
    assert cpu_pairs(WALL, CPU)
    assert timed_rounds(WALL, CPU) == CPU
    assert not waited_for_cores(WALL, CPU)  # 3 of 5 rounds ran for >= 90% of their wall time
    assert waited_for_cores(WALL[1:4], CPU[1:4])


def test_without_cpu_times_that_pair_with_the_rounds_the_wall_times_stand():
    for cpu in (None, CPU[:-1], [*CPU[:-1], "x"]):
        assert not cpu_pairs(WALL, cpu)
        assert timed_rounds(WALL, cpu) == WALL
        assert not waited_for_cores(WALL, cpu)


def test_the_thread_clock_sees_a_thread_that_waits():
    """The calls' CPU seconds, whatever else the machine runs: a sleep costs
    next to none of its wall time, a spin of 20 ms of CPU all of its 20 ms."""

    def wait() -> None:
        time.sleep(0.02)

    def work() -> None:
        end = time.thread_time() + 0.02
        while time.thread_time() < end:
            pass

    for fn in (wait, work):
        clock = ThreadClock(fn)
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(2):
                clock()
            walls.append((time.perf_counter() - start) / 2)
        cpu = clock.per_round(3, 2)
        assert len(cpu) == 3
        assert all(s <= w for s, w in zip(cpu, walls, strict=True))
        if fn is wait:  # a wall clock would give >= 20 ms here
            assert all(s < 0.25 * 0.02 for s in cpu), cpu
        else:  # a clock of another thread, or of none, would give ~0
            assert all(s >= 0.02 for s in cpu), cpu
    assert ThreadClock(work).per_round(1, 1) is None  # never called


def test_cpu_time_stands_for_the_cost_with_one_thread_on_a_cpu_only():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert cpu_time_is_cost(torch.device("cpu"))
        assert not cpu_time_is_cost(torch.device("meta"))
        torch.set_num_threads(2)
        assert not cpu_time_is_cost(torch.device("cpu"))
    finally:
        torch.set_num_threads(before)


def test_passes_note_each_calls_cpu_time():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        passes = Passes({"a": lambda: time.sleep(0.005), "b": lambda: None}, torch.device("cpu"))
        for _ in range(3):
            passes()
        cpu = passes.saved_cpu_times(2)
    finally:
        torch.set_num_threads(before)
    assert set(cpu) == {"a", "b"} and all(len(v) == 2 for v in cpu.values())
    assert max(cpu["a"]) < 0.5 * min(passes.times["a"][-2:])


def rows(**columns) -> pd.DataFrame:
    frame = pd.DataFrame({"time_median_s": [9.0]})
    for name, value in columns.items():
        frame[name] = [value]
    return frame


def test_a_reports_time_and_interval_are_of_the_cpu_seconds():
    points = rows(round_times_s=WALL, round_cpu_s=CPU)
    assert point_times(points).iloc[0] == pytest.approx(np.median(CPU))
    low, high, _ = point_spread(points.iloc[0].to_dict())
    assert min(CPU) <= low <= high <= max(CPU)
    assert sorted(pooled_rounds(points)) == sorted(CPU)
    # a run without CPU times: the wall rounds; one without rounds: pytest-benchmark's median
    assert point_times(rows(round_times_s=WALL)).iloc[0] == pytest.approx(np.median(WALL))
    assert point_times(rows(round_times_s=None)).iloc[0] == 9.0


def test_interleaved_ratios_come_from_the_cpu_seconds_where_saved():
    point = {
        "interleaved_s": {"a": [2.0, 5.0, 2.2], "b": [1.0, 1.0, 2.5]},
        "interleaved_cpu_s": {"a": [2.0, 2.0, 2.2], "b": [1.0, 1.0, 1.1]},
    }
    passes = pass_times(point)
    assert passes == point["interleaved_cpu_s"]
    assert paired_ratio(passes["a"], passes["b"]).value == pytest.approx(2.0)
    assert pass_times({"interleaved_s": point["interleaved_s"]}) == point["interleaved_s"]

"""Times that survive a busy machine: on a CPU a round whose timing thread
waited for a core (its CPU seconds short of its wall seconds) is left out of
the point's time where three or more rounds ran unimpeded (schema.timed_rounds),
in the suite's records and in every time, interval and ratio of the reports."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import torch

from reports.load import point_times
from reports.spread import PassTimes, paired_ratio, point_spread, pooled_rounds, timed_pairs
from schema import timed_rounds, unimpeded, waited_for_cores
from suite.measure import Passes, ThreadClock

QUIET = [1.0, 1.1, 0.9, 1.0]
#: rounds 2 and 4 waited: they took 2.5x as long and ran a third of the time
WALL = [1.0, 2.5, 1.1, 2.6, 0.9]
CPU = [0.99, 0.9, 1.05, 0.95, 0.88]


def test_a_round_is_unimpeded_when_its_thread_ran_for_nine_tenths_of_it():
    assert unimpeded(WALL, CPU) == [True, False, True, False, True]
    assert unimpeded([1.0], [0.89]) == [False]


def test_without_cpu_times_that_pair_with_the_rounds_nothing_is_said():
    assert unimpeded(WALL, None) is None
    assert unimpeded(WALL, CPU[:-1]) is None
    assert unimpeded(WALL, [*CPU[:-1], "x"]) is None
    assert timed_rounds(WALL, None) == WALL
    assert not waited_for_cores(WALL, None)


def test_the_time_comes_from_the_unimpeded_rounds_where_three_ran():
    assert timed_rounds(WALL, CPU) == [1.0, 1.1, 0.9]
    assert not waited_for_cores(WALL, CPU)
    # two unimpeded rounds are too few to stand alone: all rounds, and it waited
    assert timed_rounds(WALL[:4], CPU[:4]) == WALL[:4]
    assert waited_for_cores(WALL[:4], CPU[:4])


def test_the_thread_clock_sees_a_thread_that_waits():
    def wait() -> None:
        time.sleep(0.02)

    def work() -> None:
        end = time.thread_time() + 0.02
        while time.thread_time() < end:
            pass

    for fn, expect in ((wait, False), (work, True)):
        clock = ThreadClock(fn)
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(2):
                clock()
            walls.append((time.perf_counter() - start) / 2)
        cpu = clock.per_round(3, 2)
        assert len(cpu) == 3
        # a sleeping call runs ~0% of its wall time; a spinning one ~100% (on an idle core)
        assert all(s < 0.5 * w for s, w in zip(cpu, walls, strict=True)) != expect
    assert ThreadClock(work).per_round(1, 1) is None  # never called


def test_passes_note_each_calls_cpu_time_on_a_cpu_only():
    passes = Passes({"a": lambda: time.sleep(0.005), "b": lambda: None}, torch.device("cpu"))
    for _ in range(3):
        passes()
    cpu = passes.saved_cpu_times(2)
    assert set(cpu) == {"a", "b"} and all(len(v) == 2 for v in cpu.values())
    assert max(cpu["a"]) < 0.5 * min(passes.times["a"][-2:])
    assert Passes({"a": lambda: None}, torch.device("meta")).saved_cpu_times(1) is None


def rows(**columns) -> pd.DataFrame:
    frame = pd.DataFrame({"time_median_s": [9.0]})
    for name, value in columns.items():
        frame[name] = [value]
    return frame


def test_a_reports_time_and_interval_leave_the_waiting_rounds_out():
    points = rows(round_times_s=WALL, round_cpu_s=CPU)
    assert point_times(points).iloc[0] == pytest.approx(1.0)
    low, high, _ = point_spread(points.iloc[0].to_dict())
    assert 0.9 <= low <= high <= 1.1
    assert sorted(pooled_rounds(points)) == [0.9, 1.0, 1.1]
    # a run without CPU times: every round; one without rounds: pytest-benchmark's median
    assert point_times(rows(round_times_s=WALL)).iloc[0] == pytest.approx(np.median(WALL))
    assert point_times(rows(round_times_s=None)).iloc[0] == 9.0


def test_a_paired_ratio_comes_from_the_passes_in_which_both_ran_unimpeded():
    mine = PassTimes([2.0, 5.0, 2.2, 2.0, 1.8], [2.0, 2.0, 2.2, 2.0, 1.8])  # pass 2 waited
    theirs = PassTimes([1.0, 1.0, 1.1, 2.5, 0.9], [1.0, 1.0, 1.1, 0.9, 0.9])  # pass 4 waited
    assert timed_pairs(mine, theirs) == [(2.0, 1.0), (2.2, 1.1), (1.8, 0.9)]
    assert paired_ratio(mine, theirs).value == pytest.approx(2.0)
    # plain lists (a run without CPU times) pair every pass
    assert len(timed_pairs(list(mine), list(theirs))) == 5
    # fewer than three calm passes: every pass
    theirs_busy = PassTimes(list(theirs), [1.0, 0.1, 0.1, 0.1, 0.9])
    assert len(timed_pairs(mine, theirs_busy)) == 5

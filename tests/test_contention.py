"""The contention witness: the slowdown that other processes' CPU time
implies, and the probe where that cannot be read."""

from __future__ import annotations

import time
from collections import namedtuple

import psutil
import pytest
import torch

from suite import contention
from suite.contention import ContentionProbe, CpuMark, load_slowdown, others_cores


def test_a_fair_share_slowdown_follows_from_the_others_usage():
    assert load_slowdown(0.0, threads=2, cpus=2) == 1.0
    # two hogs beside two threads on two cores: each side ends up with one core
    assert load_slowdown(1.0, threads=2, cpus=2) == pytest.approx(2.0)
    # one thread beside one hog on two cores runs alone on its core
    assert load_slowdown(1.0, threads=1, cpus=2) == 1.0
    assert load_slowdown(2.0, threads=2, cpus=2) == contention.MAX_SLOWDOWN


def test_the_others_share_is_the_machine_busy_time_less_this_process():
    start = CpuMark(wall_s=0.0, machine_busy_s=100.0, own_s=5.0)
    end = CpuMark(wall_s=1.0, machine_busy_s=101.5, own_s=5.9)
    assert others_cores(start, end) == pytest.approx(0.6)
    assert others_cores(start, CpuMark(0.1, 100.1, 5.1)) is None  # too short to say
    assert others_cores(CpuMark(0.0, None, 0.0), CpuMark(1.0, None, 1.0)) is None


def test_a_cpu_point_reads_the_load_and_a_short_gap_keeps_the_last(monkeypatch):
    probe = ContentionProbe(torch.device("cpu"))
    marks = iter([CpuMark(10.0, 500.0, 20.0), CpuMark(10.0, 500.0, 20.0)])
    probe.mark = CpuMark(9.0, 499.0, 19.5)  # 1 s before: others used 0.5 core
    monkeypatch.setattr(contention, "cpu_mark", lambda: next(marks))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(contention.os, "cpu_count", lambda: 2)
    assert probe.contention_now() == pytest.approx(2 / 1.5)
    assert probe.probes_s == []  # the probe is not what a CPU point trusts
    monkeypatch.setattr(contention, "cpu_mark", lambda: CpuMark(10.1, 500.5, 20.0))
    assert probe.contention_now() == pytest.approx(2 / 1.5)


def test_the_machine_busy_time_is_psutils_work_fields(monkeypatch):
    linux = namedtuple("scputimes", "user nice system idle iowait irq softirq steal guest")
    monkeypatch.setattr(psutil, "cpu_times", lambda: linux(5, 1, 2, 100, 7, 0.5, 0.25, 0.25, 3))
    assert contention.machine_busy_s() == pytest.approx(9.0)  # idle, iowait, guest left out
    macos = namedtuple("scputimes", "user nice system idle")
    monkeypatch.setattr(psutil, "cpu_times", lambda: macos(5, 1, 2, 100))
    assert contention.machine_busy_s() == pytest.approx(8.0)


def test_the_machine_busy_time_grows_with_work_here():
    before = contention.machine_busy_s()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert contention.machine_busy_s() - before >= 0.2


def test_where_psutil_cannot_read_cpu_times_the_probe_decides(monkeypatch):
    def refused():
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "cpu_times", refused)
    assert contention.machine_busy_s() is None
    probe = ContentionProbe(torch.device("cpu"))
    assert probe.contention_now() >= 1.0
    assert len(probe.probes_s) == 1

"""How much the harness adds to a measurement: the suite's timing path
(pytest-benchmark's ``pedantic`` on the same ``synchronized`` callable a
benchmark point times, with the point's rounds and iterations) against
``torch.utils.benchmark.Timer`` on that callable.

    python -m suite.harness_overhead --threads 1

The two are interleaved ``--repeats`` times so that a change in the
machine's load hits both; the table gives the medians and the harness's
overhead, (harness - Timer) / Timer.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from types import SimpleNamespace

import torch
from pytest_benchmark.fixture import BenchmarkFixture
from pytest_benchmark.utils import NameWrapper
from torch.utils.benchmark import Timer

from models.registry import list_mixers

from .options import RawOptions, resolve_options
from .workloads import Workload, build_backbone, build_workload

#: (mixer, workload, length): a fast matmul-bound call, a slower one, a
#: per-token decode step and a training step
POINTS = (
    ("attention/sdpa", "forward", 1024),
    ("retnet/chunkwise", "forward", 4096),
    ("retnet/recurrent", "decode", 1024),
    ("mamba/scan", "train_step", 1024),
)


@dataclass
class Comparison:
    point: str
    harness_s: float
    timer_s: float

    @property
    def overhead(self) -> float:
        return (self.harness_s - self.timer_s) / self.timer_s


def silent_fixture(name: str, disable_gc: bool) -> BenchmarkFixture:
    """A pytest-benchmark fixture outside pytest, with its default options
    (``disable_gc`` is --benchmark-disable-gc; torch's Timer always disables gc)."""
    quiet = SimpleNamespace(debug=lambda *a, **k: None, warning=lambda *a, **k: None)
    return BenchmarkFixture(
        node=SimpleNamespace(name=name, nodeid=name),
        disable_gc=disable_gc,
        timer=NameWrapper(time.perf_counter),
        min_rounds=5,
        min_time=0.000005,
        max_time=1.0,
        precision=None,
        confidence=None,
        warmup=False,
        warmup_iterations=100000,
        calibration_precision=10,
        add_stats=lambda stats: None,
        logger=quiet,
        warner=lambda *a, **k: None,
        disabled=False,
        cprofile=False,
        cprofile_loops=None,
        cprofile_dump=None,
    )


def harness_median(work: Workload, rounds: int, disable_gc: bool) -> float:
    """Median seconds per call as a benchmark point measures it."""
    fixture = silent_fixture("overhead", disable_gc)
    work.prepare((rounds + 2) * work.iterations)
    fixture.pedantic(work.call, rounds=rounds, warmup_rounds=1, iterations=work.iterations)
    return fixture.stats.stats.median


def timer_median(work: Workload, min_run_time: float) -> float:
    """Median seconds per call by torch's own benchmark timer."""
    # enough fresh decode states for every call blocked_autorange may make
    work.prepare(max(64, int(min_run_time / max(timed_call_s(work), 1e-6))) * 4)
    measurement = Timer(stmt="call()", globals={"call": work.call}).blocked_autorange(
        min_run_time=min_run_time
    )
    return measurement.median


def timed_call_s(work: Workload) -> float:
    start = time.perf_counter()
    work.call()
    return time.perf_counter() - start


def compare(
    name: str, workload: str, length: int, options, repeats: int, disable_gc: bool
) -> Comparison:
    model = build_backbone(name, options, options.device)
    work = build_workload(workload, model, options, length)
    work.call()
    rounds = max(options.profile.min_rounds, 10)
    min_run_time = rounds * work.iterations * timed_call_s(work)
    harness, timer = [], []
    for _ in range(repeats):
        harness.append(harness_median(work, rounds, disable_gc))
        timer.append(timer_median(work, min_run_time))
    return Comparison(
        f"{workload}[{name}-L{length}]", statistics.median(harness), statistics.median(timer)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--disable-gc", action="store_true", help="as --benchmark-disable-gc")
    parser.add_argument("--only", default="", help="run the points whose name contains this")
    args = parser.parse_args()
    names = [spec.name for spec in list_mixers()]
    options = resolve_options(
        RawOptions(profile=args.profile, device=args.device, threads=args.threads),
        names,
        cuda_available=torch.cuda.is_available(),
    )
    if options.threads:
        torch.set_num_threads(options.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    print("| point | harness median (ms) | Timer median (ms) | overhead |")
    print("|---|---|---|---|")
    for name, workload, length in POINTS:
        if name not in names or args.only not in f"{workload}[{name}-L{length}]":
            continue
        c = compare(name, workload, length, options, args.repeats, args.disable_gc)
        print(
            f"| {c.point} | {c.harness_s * 1e3:.3f} | {c.timer_s * 1e3:.3f} | {c.overhead:+.1%} |"
        )


if __name__ == "__main__":
    main()

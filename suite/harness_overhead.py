"""How much the harness adds to a measurement: the suite's timing path
(pytest-benchmark's ``benchmark.pedantic`` on the same ``synchronized``
callable a benchmark point times, with the point's rounds and iterations)
against ``torch.utils.benchmark.Timer`` on that callable.

    python -m suite.harness_overhead --threads 1

It runs itself under pytest, so that the harness side is pytest-benchmark's
public fixture and nothing else. Each point is measured ``--repeats`` times,
the harness and Timer back to back in each repeat, so that a change in the
machine's load hits both; the table gives the medians over repeats and the
harness's overhead, (harness - Timer) / Timer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.benchmark import Timer

from models.registry import get_spec

from .options import get_options
from .workloads import Workload, build_backbone, build_workload, call_for

#: (mixer, workload, length): a fast matmul-bound call, a slower one, a
#: per-token decode step and a training step
POINTS = (
    ("attention/sdpa", "forward", 1024),
    ("retnet/chunkwise", "forward", 4096),
    ("retnet/recurrent", "decode", 1024),
    ("mamba/scan", "train_step", 1024),
)


class Settings:
    """The command line's own settings, handed to the tests as a fixture."""

    def __init__(self, repeats: int, only: str) -> None:
        self.repeats, self.only = repeats, only

    @pytest.fixture
    def overhead_settings(self) -> Settings:
        return self

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "point" in metafunc.fixturenames:
            chosen = [p for p in POINTS if self.only in point_name(*p)]
            cases = [(p, r) for r in range(self.repeats) for p in chosen]
            ids = [f"{point_name(*p)}-r{r}" for p, r in cases]
            metafunc.parametrize(("point", "repeat"), cases, ids=ids)


def point_name(mixer: str, workload: str, length: int) -> str:
    return f"{workload}[{mixer}-L{length}]"


def timed_call_s(work: Workload) -> float:
    start = time.perf_counter()
    work.call()
    return time.perf_counter() - start


def timer_median(work: Workload, min_run_time: float) -> float:
    """Median seconds per call by torch's own benchmark timer."""
    # enough fresh decode states for every call blocked_autorange may make
    work.prepare(max(64, int(min_run_time / max(timed_call_s(work), 1e-6))) * 4)
    measurement = Timer(stmt="call()", globals={"call": work.call}).blocked_autorange(
        min_run_time=min_run_time
    )
    return measurement.median


def test_overhead(request, benchmark, point, repeat) -> None:
    mixer, workload, length = point
    options = get_options(request.config)
    shape = {"length": length, "batch": options.fixed("batch"), "d_model": options.fixed("d_model")}
    model = build_backbone(get_spec(mixer), shape, options, options.device)
    work = build_workload(workload, model, call_for(shape, options))
    work.call()
    rounds = max(options.profile.min_rounds, 10)
    work.prepare((rounds + 2) * work.iterations)
    benchmark.pedantic(work.call, rounds=rounds, warmup_rounds=1, iterations=work.iterations)
    min_run_time = rounds * work.iterations * timed_call_s(work)
    benchmark.extra_info.update(point=point_name(*point), timer_s=timer_median(work, min_run_time))


def overhead_table(saved: dict) -> pd.DataFrame:
    rows = [
        {
            "point": bench["extra_info"]["point"],
            "harness_ms": 1e3 * bench["stats"]["median"],
            "timer_ms": 1e3 * bench["extra_info"]["timer_s"],
        }
        for bench in saved["benchmarks"]
    ]
    table = pd.DataFrame(rows).groupby("point", sort=False).median()
    overhead = (table["harness_ms"] - table["timer_ms"]) / table["timer_ms"]
    table["overhead"] = overhead.map("{:+.1%}".format)
    return table.reset_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", default="0", help="0: torch's default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--disable-gc", action="store_true", help="as --benchmark-disable-gc")
    parser.add_argument("--only", default="", help="run the points whose name contains this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "overhead.json"
        pytest_args = [
            __file__,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--profile={args.profile}",
            f"--device={args.device}",
            f"--threads={args.threads}",
            f"--benchmark-json={saved}",
            *(["--benchmark-disable-gc"] if args.disable_gc else []),
        ]
        code = pytest.main(pytest_args, plugins=[Settings(args.repeats, args.only)])
        if code != 0 or not saved.is_file():
            return int(code) or 1
        table = overhead_table(json.loads(saved.read_text()))
    print(f"torch threads: {torch.get_num_threads()}")
    print(table.to_markdown(index=False, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The machine's own speed, timed like any point: a square matmul on the run's
device and dtype. Its achieved FLOP/s is the ceiling the reports draw the
mixers' FLOP/s against, with its spread; and it makes every run save an
autosave through pytest-benchmark's hooks, even one whose every point was
unavailable (the points that did not run are saved beside it)."""

from __future__ import annotations

import pytest
import torch

from schema import Status, Workload, make_extra_info, throughput

from .measure import synchronized
from .options import get_options

SIZE = 512
ROUNDS = 10

pytestmark = pytest.mark.benchmark(disable_gc=True)


def test_matmul(request: pytest.FixtureRequest, benchmark) -> None:
    options = get_options(request.config)
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(SIZE, SIZE, generator=generator) for _ in range(2))
    a, b = (t.to(device=options.device, dtype=options.dtype) for t in (a, b))
    benchmark.group = "calibration"
    product = synchronized(lambda: a @ b, options.device)
    benchmark.pedantic(product, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    median = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        make_extra_info(
            workload=Workload.CALIBRATION,
            seq_len=SIZE,
            batch=1,
            d_model=SIZE,
            dtype=str(options.dtype).removeprefix("torch."),
            device=options.device.type,
            flops=2 * SIZE**3,
            tokens_per_s=throughput(SIZE, median),
            status=Status.OK,
        )
    )

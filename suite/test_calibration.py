"""The machine's own speed, timed like any point: a square matmul on the run's
device and dtype. Its achieved FLOP/s is the ceiling the reports draw the
mixers' FLOP/s against, with its spread; and it makes every run save an
autosave through pytest-benchmark's hooks, even one whose every point was
unavailable (the points that did not run are saved beside it)."""

from __future__ import annotations

import pytest
import torch

from schema import Status, Workload, make_extra_info, throughput

from .measure import CUDA_PEAK_SIZE, pedantic_rounds, synchronized
from .options import get_options

#: the product's side: on a GPU as large as the peak's, where a small one times the launch
SIZE = {"cpu": 512, "cuda": CUDA_PEAK_SIZE}
ROUNDS = 10

pytestmark = pytest.mark.benchmark(disable_gc=True)


def test_matmul(request: pytest.FixtureRequest, benchmark) -> None:
    options = get_options(request.config)
    size = SIZE[options.device.type]
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator) for _ in range(2))
    a, b = (t.to(device=options.device, dtype=options.dtype) for t in (a, b))
    benchmark.group = "calibration"
    product = synchronized(lambda: a @ b, options.device)
    pedantic_rounds(benchmark, product, options.device, rounds=ROUNDS, warmup_rounds=1)
    median = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        make_extra_info(
            workload=Workload.CALIBRATION,
            seq_len=size,
            batch=1,
            d_model=size,
            dtype=str(options.dtype).removeprefix("torch."),
            device=options.device.type,
            flops=2 * size**3,
            tokens_per_s=throughput(size, median),
            status=Status.OK,
        )
    )

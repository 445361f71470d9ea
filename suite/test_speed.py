"""Speed of every selected mixer along the swept axis (``--sweep length``,
the default; or ``batch``, ``d_model``): forward (no grad), train_step
(forward, backward, AdamW step), prefill (a prompt into a state) and decode
(latency per token after a context of L), all through the shared Backbone
with an LM head. One pytest-benchmark test per point, e.g.
``test_decode[retnet/recurrent-L4096]`` or, in a batch sweep,
``test_decode[retnet/recurrent-B16-L4096]``, grouped by workload and swept
value; then, per workload, the mixers interleaved at the largest value where
every family ran (``test_interleaved[decode]``), which the ratios between them
come from; and each mixer's decode at every context length it ran, interleaved
(``test_interleaved_values[mamba/scan-decode]``), which its decode slope comes
from.

    pytest suite/test_speed.py --profile smoke --mixers 'retnet/*'
    pytest suite/test_speed.py --profile smoke --sweep batch --batches 1,4,16

What a point records and how it fails is in suite/sweep.py.
"""

from __future__ import annotations

import pytest

from models.registry import get_spec
from schema import SPEED_WORKLOADS, VALUES_INTERLEAVED, Workload

from .interleave import run_interleaved, run_interleaved_values
from .options import get_options
from .sweep import Point, run_point, sweep_points

#: no garbage collection inside timed rounds (as torch's Timer and timeit do):
#: a collection triggered by a decode loop's small objects costs ~5-10% per token
pytestmark = pytest.mark.benchmark(disable_gc=True)

WORKLOAD_OF_TEST = {
    "test_forward": Workload.FORWARD,
    "test_train_step": Workload.TRAIN_STEP,
    "test_prefill": Workload.PREFILL,
    "test_decode": Workload.DECODE,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    workload = WORKLOAD_OF_TEST.get(metafunc.function.__name__)
    if workload is not None and "point" in metafunc.fixturenames:
        points = sweep_points(get_options(metafunc.config), workload)
        metafunc.parametrize("point", points, ids=[p.id for p in points])
    if "mixer" in metafunc.fixturenames:
        mixers = [m for m in get_options(metafunc.config).mixers if not get_spec(m).reference]
        metafunc.parametrize("mixer", mixers)


def test_forward(request: pytest.FixtureRequest, benchmark, point: Point) -> None:
    run_point(request, benchmark, point)


def test_train_step(request: pytest.FixtureRequest, benchmark, point: Point) -> None:
    run_point(request, benchmark, point)


def test_prefill(request: pytest.FixtureRequest, benchmark, point: Point) -> None:
    run_point(request, benchmark, point)


def test_decode(request: pytest.FixtureRequest, benchmark, point: Point) -> None:
    run_point(request, benchmark, point)


@pytest.mark.parametrize("workload", SPEED_WORKLOADS)
def test_interleaved(request: pytest.FixtureRequest, benchmark, workload: str) -> None:
    """After the sweeps: the mixers side by side, interleaved (suite/interleave.py)."""
    run_interleaved(request, benchmark, workload)


@pytest.mark.parametrize("workload", VALUES_INTERLEAVED)
def test_interleaved_values(request: pytest.FixtureRequest, benchmark, workload, mixer) -> None:
    """After the sweeps: each mixer at every value it ran, interleaved, for its slope."""
    run_interleaved_values(request, benchmark, workload, mixer)

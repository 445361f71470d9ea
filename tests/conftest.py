"""Fixtures shared by the correctness tests, and how they share the cores:
scripts/test.sh runs them with pytest-xdist, ``--dist loadfile`` (a file's
tests run in order on one worker, its module fixtures built once)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import torch
from filelock import FileLock

#: what pytest-xdist sets in a worker; pytest-benchmark disables itself where
#: PYTEST_XDIST_WORKER is set, so a suite run a test starts would save nothing
XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny shapes: extra intra-op threads only synchronise, and on a busy
    machine spinning threads slow each small op down many times over. A module
    opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def alone_in_its_xdist_group(request: pytest.FixtureRequest, tmp_path_factory):
    """Tests marked ``xdist_group(name)`` that sit in different files never run
    at the same time (a Ray cluster each, say): each holds the group's lock, a
    file in the folder the run's workers share. xdist's own ``--dist
    loadgroup`` cannot do it under pytest 9.2 (it renames node ids through an
    attribute pytest no longer reads)."""
    mark = request.node.get_closest_marker("xdist_group")
    if mark is None or not hasattr(request.config, "workerinput"):
        yield
        return
    name = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
    with FileLock(tmp_path_factory.getbasetemp().parent / f"xdist-group-{name}.lock"):
        yield


def pytest_configure(config: pytest.Config) -> None:
    """In an xdist worker: the suite runs its tests start see no xdist."""
    if hasattr(config, "workerinput"):
        for name in XDIST_VARIABLES:
            os.environ.pop(name, None)


def heavy_files_first(items: list[pytest.Item]) -> None:
    """The order an xdist worker's collection deals the files in (scripts/test.sh
    passes --no-loadscope-reorder): files holding a ``slow`` test first, then the
    others by their number of tests, most first, so that no long file is dealt
    last while the other workers have nothing left. A file's tests keep their order."""
    count = Counter(item.path for item in items)
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.path not in slow, -count[item.path]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``gpu`` tests need a CUDA device: on a CPU they are skipped, saying so."""
    if hasattr(config, "workerinput"):
        heavy_files_first(items)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run pytest tests -m gpu on a GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

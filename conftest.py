"""pytest-benchmark's public hooks for suite/ and tests/: the options
(declared once in suite/options.py), machine info, and what a saved run
carries besides the benchmarks (schema.py's top-level keys).

Every run saves through pytest-benchmark itself: suite/test_calibration.py
always times one benchmark, so a run whose every point failed or was
unavailable still has a file to hold them.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import pytest
import torch

from models import mamba_fused
from schema import FAILURES_KEY, OPTIONS_KEY, PARTIAL_KEY
from suite.measure import gpu_machine_info, matmul_peak_flops_per_s
from suite.options import add_options, apply_threads, get_options
from suite.records import recorded_failures
from suite.shard import deal, shard_group
from suite.storage import check_storage, handle_failed_save, keep_results

_INTERRUPTED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    # resolve the options now, so that a bad value stops the run with a usage error
    apply_threads(get_options(config))
    check_storage(config)  # a storage the run could not be saved to: before the first point
    config.pluginmanager.register(InterruptWatcher(config), "mixbench-interrupt-watcher")


class InterruptWatcher:
    """Marks the run interrupted on Ctrl-C: pytest-benchmark still saves what
    ran, and the saved file says that it is not the whole run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo) -> None:
        self.config.stash[_INTERRUPTED] = True


@pytest.fixture(scope="session")
def profile_name(request: pytest.FixtureRequest) -> str:
    return get_options(request.config).profile.name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    options = get_options(config)
    if options.shard is None:
        return
    mine = deal(items, options, options.shard)
    kept = {id(item) for item in mine}
    config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
    items[:] = mine


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info.update(torch_machine_info())
    options = get_options(config)
    machine_info["matmul_peak_flops_per_s"] = matmul_peak_flops_per_s(options.device, options.dtype)
    machine_info["matmul_peak_dtype"] = str(options.dtype).removeprefix("torch.")
    # the GPU's driver, clocks and power limit (NVML) move its figures as much as its name
    machine_info.update(gpu_machine_info(options.device))
    # mamba/fused's figures depend on how its C scan was built (or why it was not)
    machine_info["mamba_fused_build"] = mamba_fused.build_description()


def torch_machine_info() -> dict[str, Any]:
    cuda = torch.cuda.is_available()
    return {
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "gpu_name": torch.cuda.get_device_name() if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


@pytest.hookimpl(wrapper=True)
def pytest_benchmark_generate_json(config, benchmarks, include_data, machine_info, commit_info):
    """A point that Ctrl-C stopped before its first round finished has no
    times, on which pytest-benchmark's writer fails and saves nothing: it is
    left out, as pytest-benchmark leaves out a benchmark that raised (the file
    is marked partial)."""
    for bench in benchmarks:
        if not bench:
            bench.fixture.has_error = True
    return (yield)


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict
) -> None:
    """Points that did not run (oom, timeout, unavailable, failed, ...) go into
    the saved file beside the benchmarks, with the run's options."""
    output_json[FAILURES_KEY] = list(recorded_failures(config))
    options = get_options(config)
    output_json[OPTIONS_KEY] = options.summary()
    if options.shard is not None:
        output_json[OPTIONS_KEY]["shard_group"] = shard_group(options)
    output_json[PARTIAL_KEY] = config.stash.get(_INTERRUPTED, False)
    keep_results(config, output_json)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """pytest-benchmark saves in its own pytest_sessionfinish: a save that fails
    (the disk filled up during the run) is a one-line error saying where the
    results went instead, not a traceback that loses them."""
    try:
        return (yield)
    except OSError as error:
        handle_failed_save(session, error)

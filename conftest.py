"""Command-line options, profiles, shared fixtures and machine info for suite/ and tests/.

The options and profiles live in suite/options.py; the points that did not
run are written to the saved JSON here (suite/records.py keeps them).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import pytest
import torch

from suite.measure import matmul_peak_flops_per_s
from suite.options import add_options, apply_threads, get_options
from suite.records import FAILURES_JSON_KEY, recorded_failures


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    # resolve the options now, so that a bad value stops the run with a usage error
    apply_threads(get_options(config))


@pytest.fixture(scope="session")
def profile_name(request: pytest.FixtureRequest) -> str:
    return get_options(request.config).profile.name


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info.update(torch_machine_info())
    options = get_options(config)
    machine_info["matmul_peak_flops_per_s"] = matmul_peak_flops_per_s(options.device, options.dtype)
    machine_info["matmul_peak_dtype"] = str(options.dtype).removeprefix("torch.")


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


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict
) -> None:
    """Points that did not run (oom, timeout, unavailable, failed, ...) go into
    the saved file beside the benchmarks, with the run's options."""
    output_json[FAILURES_JSON_KEY] = list(recorded_failures(config))
    output_json["mixbench_options"] = options_summary(config)


def options_summary(config: pytest.Config) -> dict[str, Any]:
    options = get_options(config)
    return {
        "profile": options.profile.name,
        "device": options.device.type,
        "dtype": str(options.dtype).removeprefix("torch."),
        "mixers": options.mixers,
        "lengths": list(options.lengths),
        "decode_lengths": list(options.decode_lengths),
        "decode_tokens": options.profile.decode_tokens,
        "batch": options.batch,
        "d_model": options.d_model,
        "n_layers": options.n_layers,
        "time_budget_s": options.time_budget_s,
        "threads": torch.get_num_threads(),
    }


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """pytest-benchmark saves nothing when no benchmark ran; save the points
    that did not run anyway (e.g. a sweep whose every point was unavailable)."""
    config = session.config
    bench_session = getattr(config, "_benchmarksession", None)
    if bench_session is None or bench_session.benchmarks or not recorded_failures(config):
        return
    save = bench_session.save or bench_session.autosave
    if not (save or bench_session.json):
        return
    commit_info = config.hook.pytest_benchmark_generate_commit_info(config=config)
    output_json = config.hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=[],
        include_data=False,
        machine_info=bench_session.get_machine_info(),
        commit_info=commit_info,
    )
    pytest_benchmark_update_json(config, [], output_json)
    if bench_session.json:
        bench_session.save_json(output_json)
    if save:
        bench_session.storage.save(output_json, save)

"""Accuracy of one variant per family on the profile's tasks: synthetic recall
(MQAR, selective copying), small generated LRA tasks (ListOps, Pathfinder) and
the LRA release's tasks found under --data-dir (or MIXBENCH_DATA). One benchmark per
(task, mixer), e.g. ``test_accuracy[mqar-attention/sdpa]``; its time is the
training run (benchmark.pedantic, one round), its extra_info the accuracy on
the held-out split, tokens_per_s and status.

    pytest suite/ -k accuracy --profile default
    pytest suite/test_accuracy.py --profile smoke --mixers 'mamba/*'

Budgets (sizes, steps, learning rates) live in tasks/accuracy.py. Runs that
cannot start (unavailable mixer, LRA files missing) and runs that diverge are
recorded under "mixbench_failures" and skipped; a run that ran out of its time
budget keeps its accuracy, with status "timeout" and the steps it made in reason.
"""

from __future__ import annotations

import glob
from typing import Any

import pytest
import torch

from models.registry import MixerUnavailable, get_spec
from schema import make_extra_info
from tasks.accuracy import (
    DEFAULT_MIXERS,
    SANITY_BARS,
    AccuracyRun,
    get_profile,
    run_accuracy,
)

from .options import RunOptions, get_options
from .records import record_failure

WORKLOAD = "accuracy"


def accuracy_mixers(options: RunOptions, patterns: str) -> list[str]:
    """One variant per selected family (its DEFAULT_MIXERS variant when selected,
    else the first selected), plus every variant named exactly in --mixers."""
    named = {p.strip() for p in patterns.split(",") if p.strip() and not glob.has_magic(p)}
    chosen: dict[str, str] = {}
    for name in options.mixers:
        family = name.split("/", 1)[0]
        if name in DEFAULT_MIXERS:
            chosen[family] = name
        else:
            chosen.setdefault(family, name)
    picked = set(chosen.values()) | (named & set(options.mixers))
    return [name for name in options.mixers if name in picked]


def accuracy_points(config: pytest.Config) -> list[tuple[str, str]]:
    options = get_options(config)
    mixers = accuracy_mixers(options, config.getoption("--mixers"))
    tasks = get_profile(options.profile.name).task_names()
    # task-major order: each task's data is built once and shared by its mixers
    return [(task, mixer) for task in tasks for mixer in mixers]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.function.__name__ == "test_accuracy":
        points = accuracy_points(metafunc.config)
        metafunc.parametrize(("task", "mixer"), points, ids=[f"{t}-{m}" for t, m in points])


def autocast_mode(options: RunOptions) -> str:
    """bf16 autocast when the run asks for a half precision (fp16 trains as bf16:
    no loss scaling needed), full precision otherwise."""
    return "bf16" if options.dtype in (torch.bfloat16, torch.float16) else "off"


def base_info(options: RunOptions, task: str, mixer: str) -> dict[str, Any]:
    return {
        "mixer": mixer,
        "workload": WORKLOAD,
        "task": task,
        "device": options.device.type,
        "dtype": "bfloat16" if autocast_mode(options) == "bf16" else "float32",
    }


def run_info(run: AccuracyRun) -> dict[str, Any]:
    result = run.result
    return {
        "seq_len": run.seq_len,
        "batch": run.batch,
        "d_model": run.model.d_model,
        "n_layers": run.model.n_layers,
        "mixer_config": run.model.mixer_config,
        "params": result.params,
        "tokens_per_s": result.tokens_per_s,
        "accuracy": result.accuracy,
        "status": result.status,
        "reason": result.reason,
    }


def not_run(request: pytest.FixtureRequest, benchmark, info: dict[str, Any], message: str):
    """Record a point that did not give an accuracy and skip its test."""
    benchmark.has_error = True  # never saved as a benchmark
    record_failure(request, request.node.name, info, group=f"{WORKLOAD}-{info['task']}")
    pytest.skip(message)


@pytest.fixture
def accuracy_threads(request: pytest.FixtureRequest):
    """One intra-op thread on a CPU unless --threads says otherwise: at these tiny
    shapes more threads only synchronise, and on a busy machine spinning threads
    made a 100-step run 30x slower (measured on the 2-core CI box)."""
    options = get_options(request.config)
    explicit = request.config.getoption("--threads") is not None
    before = torch.get_num_threads()
    if options.device.type == "cpu" and not explicit:
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("accuracy_threads")
def test_accuracy(request: pytest.FixtureRequest, benchmark, task: str, mixer: str) -> None:
    from tasks.lra import DataMissing

    options = get_options(request.config)
    benchmark.group = f"{WORKLOAD}-{task}"
    info = base_info(options, task, mixer)
    reason = get_spec(mixer).unavailable_reason()
    if reason is not None:
        not_run(
            request,
            benchmark,
            {**info, "status": "unavailable", "reason": reason},
            f"{mixer}: unavailable: {reason}",
        )
    try:
        run = run_accuracy(
            mixer,
            task,
            options.profile.name,
            device=str(options.device),
            data_dir=options.data_dir,
            autocast=autocast_mode(options),
            timer=lambda fit: benchmark.pedantic(fit, rounds=1, iterations=1),
        )
    except DataMissing as missing:
        not_run(
            request,
            benchmark,
            {**info, "status": "skipped", "reason": str(missing)},
            f"{task}: {missing}",
        )
    except MixerUnavailable as unavailable:
        not_run(
            request,
            benchmark,
            {**info, "status": "unavailable", "reason": str(unavailable)},
            str(unavailable),
        )
    except Exception as exc:
        benchmark.has_error = True
        record_failure(
            request,
            request.node.name,
            {**info, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"},
            group=f"{WORKLOAD}-{task}",
        )
        raise

    info.update(run_info(run))
    # a run out of time still measured an accuracy (after fewer steps): it stays a
    # benchmark with status "timeout"; a diverged run has nothing to show
    if run.result.status == "diverged":
        not_run(
            request, benchmark, info, f"{mixer} on {task}: {run.result.status}: {run.result.reason}"
        )
    benchmark.extra_info.update(make_extra_info(**info))
    check_sanity_bar(options.profile.name, task, mixer, run)


def check_sanity_bar(profile: str, task: str, mixer: str, run: AccuracyRun) -> None:
    bar = SANITY_BARS.get((profile, task, mixer.split("/", 1)[0]))
    if bar is not None and run.result.status == "ok" and run.result.accuracy < bar:
        pytest.fail(
            f"{mixer} reached {run.result.accuracy:.3f} on {task} after the full budget; it "
            f"must reach {bar} (the loop or the budget in tasks/accuracy.py is wrong)",
            pytrace=False,
        )

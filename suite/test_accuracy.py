"""Accuracy of one variant per family on the profile's tasks: synthetic recall
(MQAR swept over length and pairs, selective copying, induction), small
generated LRA tasks (ListOps) and the LRA release's tasks found under --data-dir (or
MIXBENCH_DATA). One benchmark per (task, mixer), e.g.
``test_accuracy[mqar-L32-kv4-attention/sdpa]``.

The protocol, the same for every mixer (tasks/catalog.py holds the budgets):

1. the variant passes the reference check the speed points pass (forward
   against its family reference, prefill + step, causality) before any training;
2. its model is sized to within 5% of the attention model's parameters;
3. seed 0 trains at every (learning rate, weight decay) pair of the task's grid,
   for the same steps on the same tokens; the pair with the best validation
   accuracy is chosen (never test);
4. seeds 1..N-1 (``--seeds N``) train at the chosen pair;
5. the point records the mean test accuracy over the seeds, every seed's
   accuracy, the grid with its validation scores and the task's chance level.

The runs train in this process, or as Ray tasks with ``--workers``
(suite/grid.py); the records are the same either way. The benchmark's time
is the point's whole training (all its runs), ``step_s`` the median seconds
per training step.

    pytest suite/ -k accuracy --profile default
    pytest suite/test_accuracy.py --profile smoke --mixers 'mamba/*' --workers 2
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from models.registry import get_spec
from schema import Status
from tasks.catalog import SANITY_BARS, get_profile, get_task
from tasks.record import RunKey, choose_run, first_keys, point_extra_info, seed_keys
from tasks.sizing import REFERENCE_MIXER, family_defaults

from .grid import GridContext, InProcess, RayGrid
from .modes import runs_here
from .options import RunOptions, get_options
from .records import record_failure
from .sweep import PointNotRun, checked_reference_error, session_history


def accuracy_mixers(options: RunOptions, patterns: str) -> list[str]:
    """One variant per selected family (``family_defaults``: its best-ranked
    variant, Mixer.accuracy_rank, that runs in this run), plus every variant named
    exactly in --mixers."""
    named = {p.strip() for p in patterns.split(",") if p.strip() and not glob.has_magic(p)}
    chosen = family_defaults(options.mixers, lambda name: runs_here(options, name))
    picked = set(chosen.values()) | (named & set(options.mixers))
    return [name for name in options.mixers if name in picked]


def accuracy_points(config: pytest.Config) -> list[tuple[str, str]]:
    options = get_options(config)
    mixers = accuracy_mixers(options, config.getoption("mixbench_mixers") or "*")
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


def first_runs(task: str, mixer: str, profile: str) -> list[RunKey]:
    return first_keys(task, mixer, get_task(task, profile).budget)


# -- the grid of this session's runs --------------------------------------------------
@dataclass
class SessionGrid:
    executor: InProcess | RayGrid
    seeds: int


_GRID_KEY = pytest.StashKey[SessionGrid]()


def session_grid(request: pytest.FixtureRequest) -> SessionGrid:
    """Made at the first accuracy test: every collected point's first phase
    (seed 0 at each pair of its grid) is submitted at once, so that workers stay
    busy while the tests wait in turn."""
    config = request.config
    if _GRID_KEY in config.stash:
        return config.stash[_GRID_KEY]
    options = get_options(config)
    points = [
        (item.callspec.params["task"], item.callspec.params["mixer"])
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_accuracy"
    ]
    runnable = {(t, m) for t, m in points if not_runnable_reason(request, m) is None}
    profile = options.profile.name
    total = sum(len(first_runs(t, m, profile)) + options.seeds - 1 for t, m in runnable)
    context = GridContext(
        profile=profile,
        device=str(options.device),
        data_dir=str(options.data_dir) if options.data_dir else None,
        autocast=autocast_mode(options),
        threads=accuracy_threads(options, config),
        mixer_options={pattern: dict(knobs) for pattern, knobs in options.mixer_option.items()},
    )
    if options.workers or options.ray_address:
        gpus = 1 if options.device.type == "cuda" else 0
        try:
            executor = RayGrid(context, total, options.workers or 1, options.ray_address, gpus)
        except ConnectionError as error:  # --ray-address auto and no cluster: once, not per test
            where = options.ray_address or "RAY_ADDRESS"
            pytest.exit(f"Ray at {where}: {error}", pytest.ExitCode.USAGE_ERROR)
    else:
        executor = InProcess(context, total)
    grid = SessionGrid(executor, options.seeds)
    config.add_cleanup(executor.close)  # also after Ctrl-C: nothing left running
    executor.submit([key for t, m in points if (t, m) in runnable
                     for key in first_runs(t, m, profile)])  # fmt: skip
    config.stash[_GRID_KEY] = grid
    return grid


def accuracy_threads(options: RunOptions, config: pytest.Config) -> int:
    """One intra-op thread per run on a CPU unless --threads says otherwise: at
    these tiny shapes more threads only synchronise, and on a busy machine
    spinning threads made a 100-step run 30x slower (measured on the 2-core box)."""
    if "threads" in options.given:
        return options.threads
    return 1 if options.device.type == "cpu" else 0


def not_runnable_reason(request: pytest.FixtureRequest, mixer: str) -> PointNotRun | None:
    """Why a mixer cannot train at all: unavailable, or its reference check failed."""
    spec = get_spec(mixer)
    options = get_options(request.config)
    reason = spec.unavailable_reason(options.device, options.dtype)
    if reason is not None:
        return PointNotRun(Status.UNAVAILABLE, reason)
    try:
        checked_reference_error(session_history(request.config), options, spec)
    except PointNotRun as failed:
        return failed
    return None


@pytest.fixture
def accuracy_point(request: pytest.FixtureRequest):
    yield
    accuracy_items = [
        item
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_accuracy"
    ]
    grid = request.config.stash.get(_GRID_KEY, None)
    if grid is not None and request.node is accuracy_items[-1]:
        # the speed files come next: nothing of the grid may still hold a core
        grid.executor.close()


# -- one point ------------------------------------------------------------------------
def train_point(grid: SessionGrid, task: str, mixer: str, profile: str) -> dict[str, Any]:
    first = [grid.executor.result(key) for key in first_runs(task, mixer, profile)]
    chosen = choose_run(first)
    if chosen is None:
        return {"first": first, "seeds": []}
    others = seed_keys(chosen.key, grid.seeds)
    grid.executor.submit(others)
    return {"first": first, "seeds": [chosen, *(grid.executor.result(k) for k in others)]}


def not_run(request: pytest.FixtureRequest, benchmark, info: dict[str, Any], message: str):
    """Record a point that did not give an accuracy and skip its test."""
    benchmark.has_error = True  # never saved as a benchmark
    record_failure(request, request.node.name, info, group=f"accuracy-{info['task']}")
    if info["status"] in (Status.FAILED, Status.REFERENCE_FAILED):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.mark.usefixtures("accuracy_point")
def test_accuracy(request: pytest.FixtureRequest, benchmark, task: str, mixer: str) -> None:
    options = get_options(request.config)
    benchmark.group = f"accuracy-{task}"
    run = {
        "device": options.device.type,
        "dtype": "bfloat16" if autocast_mode(options) == "bf16" else "float32",
    }
    blocked = not_runnable_reason(request, mixer)
    if blocked is not None:
        info = point_extra_info(mixer, task, [], [], **run)
        not_run(request, benchmark, {**info, "status": blocked.status, "reason": blocked.reason},
                f"{mixer} on {task}: {blocked}")  # fmt: skip
    grid = session_grid(request)
    runs = benchmark.pedantic(
        lambda: train_point(grid, task, mixer, options.profile.name), rounds=1, iterations=1
    )
    info = point_extra_info(mixer, task, runs["first"], runs["seeds"], **run)
    if info["accuracy"] is None:
        not_run(request, benchmark, info, f"{mixer} on {task}: {info['status']}: {info['reason']}")
    benchmark.extra_info.update(info)
    check_sanity_bar(options.profile.name, task, mixer, info)


def check_sanity_bar(profile: str, task: str, mixer: str, info: dict[str, Any]) -> None:
    reference_family = get_spec(mixer).family == get_spec(REFERENCE_MIXER).family
    bar = SANITY_BARS.get((profile, task)) if reference_family else None
    if bar is not None and info["status"] == Status.OK and info["accuracy"] < bar:
        pytest.fail(
            f"{mixer} reached {info['accuracy']:.3f} on {task} (mean over seeds) after the full "
            f"budget; it must reach {bar} (the loop or the budget in tasks/catalog.py is wrong)",
            pytrace=False,
        )

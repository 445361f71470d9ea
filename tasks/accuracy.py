"""Accuracy runs: which tasks each profile trains, at what size and for how
many steps, and ``run_accuracy`` that the suite (suite/test_accuracy.py) times.

Budgets are sized so that a profile's whole accuracy sweep (4 families x its
tasks) fits its purpose: ``smoke`` seconds, ``default`` under 10 minutes on a
2-core CPU, ``paper`` a GPU. Generated tasks need no download; LRA tasks read
from disk (``MIXBENCH_DATA``) are added at the profile's size and raise
``DataMissing`` when their files are absent.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch.utils.data import Subset

from models.registry import get_spec

from .base import TaskData
from .lra import load_task, make_listops, make_pathfinder
from .model import ModelConfig, build_model
from .synthetic import make_mqar, make_selective_copy
from .train import FitOutcome, TrainConfig, TrainResult, evaluate_fit, prepare_fit, run_fit

#: one variant per family: the fast path each family would be used with
DEFAULT_MIXERS = ("attention/sdpa", "retnet/chunkwise", "hyena/fft", "mamba/scan")
LRA_PREFIX = "lra-"
#: the six LRA tasks read from disk, by their name in tasks.lra.load_task
LRA_DISK_TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")


#: (profile, task, family) -> the accuracy a full-budget run must reach; below it
#: the training loop, not the mixer, is at fault (measured: attention reaches 1.00)
SANITY_BARS: dict[tuple[str, str, str], float] = {("default", "mqar", "attention"): 0.95}


@dataclass(frozen=True)
class Budget:
    """How one task is trained in one profile."""

    steps: int
    batch_size: int
    lr: float
    d_model: int
    n_layers: int
    n_heads: int = 4
    chunk_size: int = 32
    #: a run past this many seconds of training stops with status "timeout" (and
    #: keeps the accuracy it reached): the default profile's guard against slow
    #: variants (mamba/scan trains ~5x slower per step than attention on a CPU)
    time_budget_s: float = 45.0
    weight_decay: float = 0.1
    #: evaluate on at most this many test examples (LRA test splits are large)
    max_test_examples: int = 1000


@dataclass(frozen=True)
class GeneratedTask:
    budget: Budget
    #: seed -> TaskData
    make: Callable[[int], TaskData]


@dataclass(frozen=True)
class AccuracyProfile:
    name: str
    generated: dict[str, GeneratedTask]
    #: budget of every LRA task read from disk
    disk: Budget
    #: load_task options per LRA task (shorter max_length on small profiles)
    disk_options: dict[str, dict] = field(default_factory=dict)
    #: LRA tasks too long for this profile's machine
    disk_excluded: tuple[str, ...] = ()

    def task_names(self) -> list[str]:
        disk = [LRA_PREFIX + t for t in LRA_DISK_TASKS if t not in self.disk_excluded]
        return [*self.generated, *disk]


def _listops(n_train: int, n_test: int, max_len: int, max_depth: int):
    return lambda seed: make_listops(
        n_train, n_test, min_len=max_len // 4, max_len=max_len, seed=seed, max_depth=max_depth
    )


def _pathfinder(n_train: int, n_test: int, image_size: int):
    return lambda seed: make_pathfinder(n_train, n_test, image_size=image_size, seed=seed)


def _mqar(n_train: int, n_test: int, **config):
    return lambda seed: make_mqar(n_train, n_test, seed=seed, **config)


def _selective_copy(n_train: int, n_test: int, **config):
    return lambda seed: make_selective_copy(n_train, n_test, seed=seed, **config)


def _truncated(max_length: int) -> dict[str, dict]:
    return {name: {"max_length": max_length} for name in ("listops", "text", "retrieval")}


PROFILES: dict[str, AccuracyProfile] = {
    "smoke": AccuracyProfile(
        name="smoke",
        generated={
            "mqar": GeneratedTask(
                Budget(steps=15, batch_size=16, lr=3e-3, d_model=32, n_layers=1, n_heads=2),
                _mqar(256, 64, seq_len=32, vocab_size=32, num_kv_pairs=2),
            ),
            "selective_copy": GeneratedTask(
                Budget(steps=15, batch_size=16, lr=3e-3, d_model=32, n_layers=1, n_heads=2),
                _selective_copy(256, 64, seq_len=32, vocab_size=12, n_copy=4),
            ),
        },
        disk=Budget(
            steps=2,
            batch_size=4,
            lr=1e-3,
            d_model=32,
            n_layers=1,
            n_heads=2,
            time_budget_s=10.0,
            max_test_examples=16,
        ),
        disk_options=_truncated(128),
        disk_excluded=("pathx",),
    ),
    "default": AccuracyProfile(
        name="default",
        generated={
            # vocab 32: attention crosses MQAR's plateau in ~250 steps (vocab 64: ~450)
            "mqar": GeneratedTask(
                Budget(steps=400, batch_size=32, lr=3e-3, d_model=64, n_layers=2),
                _mqar(8000, 500, seq_len=64, vocab_size=32, num_kv_pairs=4),
            ),
            "selective_copy": GeneratedTask(
                Budget(steps=400, batch_size=32, lr=3e-3, d_model=64, n_layers=2),
                _selective_copy(8000, 500, seq_len=64, vocab_size=16, n_copy=8),
            ),
            "listops": GeneratedTask(
                Budget(steps=200, batch_size=32, lr=1e-3, d_model=64, n_layers=2),
                _listops(3000, 300, max_len=128, max_depth=4),
            ),
            "pathfinder": GeneratedTask(
                Budget(steps=50, batch_size=8, lr=1e-3, d_model=32, n_layers=1, chunk_size=64),
                _pathfinder(400, 100, image_size=32),
            ),
        },
        disk=Budget(
            steps=100,
            batch_size=8,
            lr=1e-3,
            d_model=64,
            n_layers=2,
            chunk_size=64,
            max_test_examples=200,
        ),
        disk_options=_truncated(512),
        disk_excluded=("pathx",),
    ),
    "paper": AccuracyProfile(
        name="paper",
        generated={
            "mqar": GeneratedTask(
                Budget(
                    steps=5000,
                    batch_size=64,
                    lr=1e-3,
                    d_model=128,
                    n_layers=2,
                    chunk_size=128,
                    time_budget_s=1800,
                ),
                _mqar(100_000, 3000, seq_len=512, vocab_size=8192, num_kv_pairs=64),
            ),
            "selective_copy": GeneratedTask(
                Budget(
                    steps=5000,
                    batch_size=64,
                    lr=1e-3,
                    d_model=128,
                    n_layers=2,
                    chunk_size=128,
                    time_budget_s=1800,
                ),
                _selective_copy(100_000, 3000, seq_len=4096, vocab_size=16, n_copy=16),
            ),
        },
        disk=Budget(
            steps=5000,
            batch_size=32,
            lr=5e-4,
            d_model=256,
            n_layers=4,
            chunk_size=256,
            time_budget_s=3600,
            max_test_examples=10_000,
        ),
    ),
}
# the GPU smoke profile checks the GPU path at smoke sizes
PROFILES["gpu-smoke"] = replace(PROFILES["smoke"], name="gpu-smoke")


def get_profile(name: str) -> AccuracyProfile:
    if name not in PROFILES:
        raise ValueError(f"no accuracy budgets for profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]


@functools.lru_cache(maxsize=8)
def task_data(task: str, profile: str, data_dir: str | None, seed: int) -> TaskData:
    """The task's data, built once per process and shared by every mixer;
    raises tasks.lra.DataMissing for an LRA task whose files are absent."""
    prof = get_profile(profile)
    if task in prof.generated:
        return prof.generated[task].make(seed)
    lra_name = task.removeprefix(LRA_PREFIX)
    if not task.startswith(LRA_PREFIX) or lra_name in prof.disk_excluded:
        raise ValueError(f"unknown task {task!r} in profile {profile}; known: {prof.task_names()}")
    data = load_task(lra_name, data_dir, **prof.disk_options.get(lra_name, {}))
    keep = min(len(data.test), prof.disk.max_test_examples)
    return replace(data, test=Subset(data.test, range(keep)))


def budget_of(task: str, profile: str) -> Budget:
    prof = get_profile(profile)
    return prof.generated[task].budget if task in prof.generated else prof.disk


def family_knobs(mixer: str, budget: Budget, seq_len: int) -> dict[str, int]:
    """The knobs this variant's constructor takes: heads (attention, RetNet), chunk
    size (chunkwise modes) and l_max (Hyena's filter length: the sequence)."""
    values = {"n_heads": budget.n_heads, "chunk_size": budget.chunk_size, "l_max": seq_len}
    named = inspect.signature(get_spec(mixer).cls).parameters
    return {knob: value for knob, value in values.items() if knob in named}


@dataclass
class AccuracyRun:
    """One mixer trained on one task: the result and what it was trained with."""

    mixer: str
    task: str
    seq_len: int
    batch: int
    model: ModelConfig
    result: TrainResult


def default_timer(run: Callable[[], FitOutcome]) -> FitOutcome:
    return run()


def run_accuracy(
    mixer: str,
    task: str,
    profile: str,
    *,
    device: str = "cpu",
    data_dir: str | Path | None = None,
    seed: int = 0,
    autocast: str = "auto",
    timer: Callable[[Callable[[], FitOutcome]], FitOutcome] = default_timer,
    progress: bool | None = None,
) -> AccuracyRun:
    """Train ``mixer`` on ``task`` within ``profile``'s budget and measure accuracy.

    ``timer`` calls the training steps (not data generation, model building,
    optimizer set-up or evaluation) and returns its outcome: the suite passes
    ``lambda run: benchmark.pedantic(run, rounds=1, iterations=1)``. ``autocast``
    is TrainConfig's: "auto" (bf16 on CUDA), "bf16" or "off".
    Raises MixerUnavailable and tasks.lra.DataMissing for runs that cannot start.
    """
    budget = budget_of(task, profile)
    data = task_data(task, profile, str(data_dir) if data_dir else None, seed)
    seq_len = data.spec.seq_len
    model_cfg = ModelConfig(
        mixer,
        d_model=budget.d_model,
        n_layers=budget.n_layers,
        mixer_config=family_knobs(mixer, budget, seq_len),
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = build_model(data.spec, model_cfg)
    train_cfg = TrainConfig(
        steps=budget.steps,
        batch_size=budget.batch_size,
        lr=budget.lr,
        weight_decay=budget.weight_decay,
        seed=seed,
        device=str(device),
        time_budget_s=budget.time_budget_s,
        autocast=autocast,
        progress=progress,
    )
    state = prepare_fit(model, train_cfg)
    outcome = timer(lambda: run_fit(state, data.train, train_cfg))
    result = evaluate_fit(model, data, train_cfg, outcome)
    return AccuracyRun(mixer, task, seq_len, budget.batch_size, model_cfg, result)

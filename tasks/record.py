"""A finished accuracy run as the suite saves it: ``record_run`` turns a run
(tasks.accuracy.AccuracyRun) into a plain ``RunRecord`` (the same whether it ran
here or on a Ray worker), and ``point_extra_info`` turns an accuracy point's
records (seed 0 at each (learning rate, weight decay) pair, then every seed at the
chosen one) into its saved fields (schema.make_extra_info). The suite's grid
(suite/grid.py, suite/test_accuracy.py) and ``python -m tasks train`` both go
through them; ``first_keys``, ``choose_run`` and ``seed_keys`` are the protocol's
choice between the two phases.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from schema import REACHED_STATUSES, Status, Workload, make_extra_info

if TYPE_CHECKING:
    from .accuracy import AccuracyRun
    from .budget import Budget


@dataclass(frozen=True)
class RunKey:
    task: str
    mixer: str
    seed: int
    lr: float
    #: None: the task budget's own weight decay
    weight_decay: float | None = None

    def __str__(self) -> str:
        name = f"{self.task}-{self.mixer}-seed{self.seed}-lr{self.lr:g}"
        return name if self.weight_decay is None else f"{name}-wd{self.weight_decay:g}"


@dataclass(frozen=True)
class RunRecord:
    """One run's outcome, plain values (picklable: it travels back from workers);
    a run that could not start or broke has its status and reason alone."""

    key: RunKey
    status: str
    reason: str | None = None
    accuracy: float | None = None
    val_accuracy: float | None = None
    chance_accuracy: float | None = None
    #: the weight decay the run trained at (its key's, or the budget's)
    weight_decay: float | None = None
    params: int | None = None
    target_params: int | None = None
    seq_len: int | None = None
    batch: int | None = None
    d_model: int | None = None
    n_layers: int | None = None
    mixer_config: dict | None = None
    task_config: dict | None = None
    state_bytes: int | None = None
    steps: int | None = None
    tokens_seen: int | None = None
    tokens_per_s: float | None = None
    train_s: float | None = None
    #: CPU seconds of the training steps (the process's)
    train_cpu_s: float | None = None
    #: [{step, val_accuracy, cpu_s, flops}] (tasks.train.CurvePoint)
    curve: list[dict] | None = None
    #: length-extrapolation tasks: [{seq_len, accuracy}] at each longer length
    extrapolation: list[dict] | None = None

    @property
    def step_s(self) -> float | None:
        return self.train_s / self.steps if self.train_s and self.steps else None

    @property
    def trained_weight_decay(self) -> float | None:
        """The weight decay the run trained at, or the one it was meant to (a run
        that never started records its key alone)."""
        return self.key.weight_decay if self.weight_decay is None else self.weight_decay

    @property
    def reached(self) -> bool:
        """Whether the run has an accuracy that counts (a run out of time still reached one)."""
        return self.status in REACHED_STATUSES and self.accuracy is not None


def record_run(key: RunKey, run: AccuracyRun) -> RunRecord:
    """The finished ``run`` (trained as ``key`` says) as a plain record."""
    result = run.result
    return RunRecord(
        key,
        str(result.status),
        result.reason,
        accuracy=result.accuracy,
        val_accuracy=result.val_accuracy,
        chance_accuracy=run.chance_accuracy,
        weight_decay=run.weight_decay,
        params=result.params,
        target_params=run.target_params,
        seq_len=run.seq_len,
        batch=run.batch,
        d_model=run.model.d_model,
        n_layers=run.model.n_layers,
        mixer_config=dict(run.model.mixer_config),
        task_config=run.task_config,
        state_bytes=run.state_bytes,
        steps=result.steps,
        tokens_seen=result.steps * run.batch * run.seq_len,
        tokens_per_s=result.tokens_per_s,
        train_s=result.train_time_s,
        train_cpu_s=result.train_cpu_s,
        curve=list(result.curve),
        extrapolation=list(run.extrapolation),
    )


def first_keys(task: str, mixer: str, budget: Budget) -> list[RunKey]:
    """The protocol's first phase: seed 0 at every (lr, weight decay) pair of the
    task's grid (``Budget.grid``)."""
    return [RunKey(task, mixer, 0, lr, wd) for lr, wd in budget.grid]


def choose_run(records: list[RunRecord]) -> RunRecord | None:
    """The first phase's run with the best validation accuracy (never test): its
    (lr, weight decay) pair is the point's; ties go to the grid's order. None when
    no run reached one."""
    scored = [r for r in records if r.status in REACHED_STATUSES and r.val_accuracy is not None]
    return max(scored, key=lambda r: r.val_accuracy) if scored else None


def seed_keys(chosen: RunKey, seeds: int) -> list[RunKey]:
    """The second phase: seeds 1..``seeds``-1 at the chosen run's pair."""
    return [replace(chosen, seed=seed) for seed in range(1, seeds)]


def point_status(first: list[RunRecord], seeds: list[RunRecord]) -> Status:
    """The point's status: when no rate gave a run to carry on with (``seeds``
    empty), the one status every first run shares, else failed; otherwise ok when
    every seed is, timeout when each reached an accuracy, else failed or diverged."""
    if not seeds:
        statuses = {r.status for r in first}
        for status in (Status.SKIPPED, Status.UNAVAILABLE, Status.DIVERGED):
            if statuses == {status}:
                return status
        return Status.FAILED
    statuses = {r.status for r in seeds}
    if statuses <= {Status.OK}:
        return Status.OK
    if statuses <= set(REACHED_STATUSES):
        return Status.TIMEOUT
    return Status.FAILED if Status.FAILED in statuses else Status.DIVERGED


def point_extra_info(
    mixer: str,
    task: str,
    first: list[RunRecord],
    seeds: list[RunRecord],
    *,
    device: str,
    dtype: str,
) -> dict[str, Any]:
    """The saved fields of an accuracy point: ``first`` holds seed 0's run at each
    (learning rate, weight decay) pair of the grid, ``seeds`` every seed's run at the
    chosen pair (the chosen run first; empty when none reached an accuracy). The
    accuracy is the mean over the seeds that reached one; the shape, sizes and
    settings are the first run's (None for a point that trained no run: both lists
    empty, its status then the caller's to set); the mixer's class, whether its
    state is fixed and its positional encoding come from the registry. Every seed's
    learning curve and length-extrapolation accuracies are kept (``per_seed``)."""
    from models.registry import get_spec

    spec = get_spec(mixer)
    reached = [r for r in seeds if r.reached]
    shape = next(iter(seeds or first), RunRecord(RunKey(task, mixer, 0, 0.0), Status.FAILED))
    reasons = sorted({f"{r.key}: {r.reason}" for r in (*first, *seeds) if r.reason})
    return make_extra_info(
        mixer=mixer,
        mixer_class=spec.class_path,
        fixed_state=spec.cls.fixed_state,
        positional=spec.cls.positional or None,
        workload=Workload.ACCURACY,
        task=task,
        device=device,
        dtype=dtype,
        seq_len=shape.seq_len,
        batch=shape.batch,
        d_model=shape.d_model,
        n_layers=shape.n_layers,
        mixer_config=shape.mixer_config,
        task_config=shape.task_config,
        state_bytes=shape.state_bytes,
        params=shape.params,
        params_target=shape.target_params,
        accuracy=statistics.fmean(r.accuracy for r in reached) if reached else None,
        val_accuracy=seeds[0].val_accuracy if seeds else None,
        seed_accuracies=[
            {"seed": r.key.seed, "accuracy": r.accuracy, "status": str(r.status)} for r in seeds
        ],
        lr=seeds[0].key.lr if seeds else None,
        weight_decay=seeds[0].trained_weight_decay if seeds else None,
        lr_grid=[
            {
                "lr": r.key.lr,
                "weight_decay": r.trained_weight_decay,
                "val_accuracy": r.val_accuracy,
                "status": str(r.status),
            }
            for r in first
        ],
        curve=per_seed(seeds, "curve", "points"),
        extrapolation=per_seed(seeds, "extrapolation", "accuracies"),
        chance_accuracy=shape.chance_accuracy,
        tokens_seen=shape.tokens_seen,
        tokens_per_s=median_of(r.tokens_per_s for r in seeds),
        step_s=median_of(r.step_s for r in seeds),
        status=point_status(first, seeds),
        reason="; ".join(reasons) or None,
    )


def per_seed(seeds: list[RunRecord], attribute: str, key: str) -> list[dict] | None:
    """[{seed, <key>: the run's <attribute>}] for every seed that recorded one;
    None when none did (a task without extrapolation, a run that broke)."""
    kept = [{"seed": r.key.seed, key: getattr(r, attribute)} for r in seeds]
    kept = [entry for entry in kept if entry[key]]
    return kept or None


def median_of(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None

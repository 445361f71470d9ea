"""The training loop every accuracy run uses: AdamW, linear warm-up then cosine
decay, gradient clipping, bf16 autocast on GPU, checkpoints that resume to the
same result (and refuse another run's), and accuracy on the validation and test
splits. ``train`` is the one way through: set-up, the steps, evaluation.

A run that produces a NaN/inf loss or gradient stops and comes back with
``status="diverged"``: divergence is a finding about a mixer, not a crash.

With ``curve_points`` set, the run records its learning curve: validation accuracy
on the first ``curve_examples`` examples of the validation split at that many
evenly spaced steps (the last one the final step), each with the CPU seconds and
the FLOPs its training steps had spent by then (``CurvePoint``).

Data-parallel: when a process group of more than one process is up (``torchrun``
and ``with distributed(device)``, or any ``init_process_group``), ``train`` wraps
the model in DistributedDataParallel and each rank takes its ``1/world_size``
slice of every step's global batch (``cfg.batch_size``, which the world size must
divide): the same examples one process sees, the loss and its gradient those of
the whole batch (DDP averages the gradients). Only rank 0 shows progress and
writes checkpoints; every rank reads the checkpoint to resume, so it must lie
where all of them see it. Evaluation is split by rank and summed. Without a
process group (or with one process) nothing of this runs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import Dataset, Subset, TensorDataset
from tqdm.auto import tqdm

from models.backbone import count_params

from .base import IGNORE_INDEX, TaskData

Status = Literal["ok", "diverged", "timeout"]

#: the fields of TrainConfig that shape the trajectory: a checkpoint only
#: resumes a run that agrees on all of them (and on the task and the model)
TRAJECTORY_FIELDS = (
    "steps",
    "batch_size",
    "lr",
    "weight_decay",
    "betas",
    "warmup_steps",
    "min_lr_ratio",
    "grad_clip",
    "seed",
)


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    #: None: 10% of the steps
    warmup_steps: int | None = None
    #: the cosine decays from lr to lr * min_lr_ratio
    min_lr_ratio: float = 0.1
    #: max global gradient norm; None turns clipping off
    grad_clip: float | None = 1.0
    seed: int = 0
    device: str = "cpu"
    #: "auto": bf16 autocast on CUDA, full precision elsewhere
    autocast: Literal["auto", "bf16", "off"] = "auto"
    eval_batch_size: int = 128
    #: save here every ``checkpoint_every`` steps and at the end; resume from it if it
    #: exists (CheckpointError when it is unreadable or belongs to another run)
    checkpoint_path: str | Path | None = None
    checkpoint_every: int = 100
    #: stop training after this many seconds (status "timeout"), then evaluate
    time_budget_s: float | None = None
    #: None: show a progress bar only when stderr is a terminal
    progress: bool | None = None
    #: learning-curve points along the run (0: none); each evaluates the first
    #: ``curve_examples`` validation examples, so the curve costs little
    curve_points: int = 0
    curve_examples: int = 128

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("curve_points", "curve_examples"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        check_weight_decay(self.weight_decay)
        if self.autocast not in ("auto", "bf16", "off"):
            raise ValueError(
                f"autocast must be 'auto', 'bf16' or 'off', got {self.autocast!r} "
                "(fp16 would need loss scaling; bf16 does not)"
            )
        if self.warmup_steps is not None and not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps={self.steps}]")
        self.betas = tuple(self.betas)

    @property
    def warmup(self) -> int:
        return self.steps // 10 if self.warmup_steps is None else self.warmup_steps

    def trajectory(self) -> dict:
        fields = asdict(self)
        return {name: fields[name] for name in TRAJECTORY_FIELDS}

    def curve_steps(self) -> set[int]:
        """The steps the learning curve is measured at: ``curve_points`` evenly
        spaced steps ending at the last (fewer when the run has fewer steps)."""
        n = min(self.curve_points, self.steps)
        return {round(k * self.steps / n) for k in range(1, n + 1)} if n else set()


def check_weight_decay(value: object) -> float:
    """``value`` when it is a weight decay AdamW takes (a finite number >= 0), else a
    one-line ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ValueError(
            f"weight decay must be a finite number >= 0 (0.1, or 0 for none), got {value!r}"
        )
    return float(value)


@dataclass
class CurvePoint:
    """One point of a learning curve."""

    step: int
    #: on the curve's validation subset (TrainConfig.curve_examples)
    val_accuracy: float
    #: CPU seconds of the training steps so far (the process's; evaluation excluded)
    cpu_s: float
    #: analytic FLOPs of the training steps so far; None where the model has no count
    flops: float | None


@dataclass
class TrainResult:
    status: Status
    #: on the test split; None when the run diverged
    accuracy: float | None
    train_time_s: float
    eval_time_s: float
    tokens_per_s: float | None
    steps: int
    final_loss: float | None
    params: int
    reason: str | None = None
    #: on the validation split (what learning rates are chosen on); None when the
    #: run diverged or the task has no validation split
    val_accuracy: float | None = None
    #: the training loss at every step done (across resumes)
    losses: list[float] = field(default_factory=list, repr=False)
    #: CPU seconds of the training steps (the process's, across resumes)
    train_cpu_s: float = 0.0
    #: the learning curve, as plain dicts (CurvePoint's fields); empty unless asked
    curve: list[dict] = field(default_factory=list)


@dataclass
class Progress:
    """What a checkpoint carries besides the model and optimizer."""

    step: int = 0
    train_time_s: float = 0.0
    tokens_seen: int = 0
    losses: list[float] = field(default_factory=list)
    # defaults, so that a checkpoint written before they existed still resumes
    train_cpu_s: float = 0.0
    curve: list[dict] = field(default_factory=list)


# -- the schedule and the optimizer -------------------------------------------
def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up from ~0 to 1, then a cosine from 1 to ``min_lr_ratio``."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    decay_steps = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / decay_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine


#: devices AdamW's fused kernel runs on (one kernel for every parameter)
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    # decaying biases and norm gains only shrinks them towards zero for no gain
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # the fused step: at the accuracy runs' widths the default CPU AdamW loops over
    # the parameters (5.0 ms a step under torch.profiler, attention on induction at
    # L32, ~8% of the step); fused, 2.7 ms
    fused = torch.device(cfg.device).type in FUSED_ADAMW_DEVICES
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, cfg=cfg))


# -- data ----------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    # a function of (seed, epoch) alone, so a resumed run sees the same batches
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def batch_indices(step: int, batch_size: int, n: int, seed: int) -> torch.Tensor:
    """The examples of ``step``: consecutive slices of per-epoch shuffles, so every
    example is seen once per epoch."""
    picked: list[torch.Tensor] = []
    position, needed = step * batch_size, batch_size
    while needed:
        epoch, offset = divmod(position, n)
        take = epoch_order(n, epoch, seed)[offset : offset + needed]
        picked.append(take)
        position, needed = position + len(take), needed - len(take)
    return torch.cat(picked)


def fetch_batch(dataset: Dataset, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(dataset, TensorDataset):  # fast path: one gather per tensor
        tokens, target = dataset.tensors
        return tokens[indices], target[indices]
    examples = [dataset[i] for i in indices.tolist()]
    return torch.stack([e[0] for e in examples]), torch.stack(
        [torch.as_tensor(e[1]) for e in examples]
    )


def head(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` examples of ``dataset`` (a TensorDataset stays one: one
    gather a batch, not one lookup an example)."""
    if isinstance(dataset, TensorDataset):
        return TensorDataset(*(t[:n] for t in dataset.tensors))
    return Subset(dataset, range(min(n, len(dataset))))


# -- data-parallel -------------------------------------------------------------------
@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel run (a process group of more than one)."""

    rank: int
    world_size: int
    #: the device this rank trains on: "cpu", or "cuda:<local rank>" under torchrun
    device: str

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that shows progress, writes checkpoints and results."""
        return self.rank == 0

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch (world_size divides it)."""
        per_rank = len(indices) // self.world_size
        return indices[self.rank * per_rank : (self.rank + 1) * per_rank]

    def sum(self, values: list[float], dtype: torch.dtype = torch.float64) -> list[float]:
        """``values`` summed over the ranks (every rank gets the sums)."""
        summed = torch.tensor(values, dtype=dtype, device=self.device)
        dist.all_reduce(summed)
        return summed.tolist()

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one: a decision all ranks share (a
        rank that stopped alone would leave the others waiting in DDP's all-reduce)."""
        return bool(self.sum([float(flag)])[0])


def launched_world_size() -> int:
    """How many processes torchrun started (its WORLD_SIZE; 1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE") or 1)


def launched_rank() -> int:
    """This process's rank as torchrun set it (RANK; 0 outside torchrun)."""
    return int(os.environ.get("RANK") or 0)


def backend_for(device: str) -> str:
    """The collective backend for ``device``: nccl on CUDA, gloo on the CPU."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def current_distributed(device: str) -> Distributed | None:
    """The data-parallel run this process is part of, or None when no process group
    of more than one process is up (then training is a single process's, unchanged)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return Distributed(dist.get_rank(), dist.get_world_size(), device)


@contextlib.contextmanager
def distributed(device: str = "cpu") -> Iterator[Distributed | None]:
    """Join torchrun's process group for the block and leave it after: gloo on the
    CPU, nccl on CUDA with each rank on ``cuda:<LOCAL_RANK>``; train in the block
    on ``Distributed.device``. Gives None outside torchrun or with one process
    (nothing is set up), and the group already up when the caller made one."""
    if dist.is_available() and dist.is_initialized():
        yield current_distributed(device)
        return
    if launched_world_size() < 2:
        yield None
        return
    kwargs: dict[str, Any] = {}
    if torch.device(device).type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK") or 0)
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
        kwargs["device_id"] = torch.device(device)
    dist.init_process_group(backend_for(device), **kwargs)
    try:
        yield current_distributed(device)
    finally:
        dist.destroy_process_group()


def world_size_problem(batch_size: int, world_size: int) -> str | None:
    """Why ``world_size`` processes cannot share a global batch of ``batch_size``
    (None when they can): each rank takes batch_size / world_size examples a step."""
    if batch_size % world_size == 0:
        return None
    fits = [n for n in range(1, batch_size + 1) if batch_size % n == 0]
    return (
        f"the global batch of {batch_size} cannot be split evenly over {world_size} "
        f"processes; run a number of processes that divides it "
        f"(torchrun --nproc_per_node {' or '.join(map(str, fits[:6]))})"
    )


# -- evaluation ----------------------------------------------------------------------
def autocast_dtype(cfg: TrainConfig) -> torch.dtype | None:
    if cfg.autocast == "bf16" or (cfg.autocast == "auto" and cfg.device.startswith("cuda")):
        return torch.bfloat16
    return None


def autocast(device: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def task_loss(
    logits: torch.Tensor, target: torch.Tensor, reduction: Literal["mean", "sum"] = "mean"
) -> torch.Tensor:
    """Mean (or summed) cross-entropy over the predicted positions: classes on the
    last axis of ``logits``; ``target`` is IGNORE_INDEX where nothing is predicted."""
    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        target.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction=reduction,
    )


def global_batch_loss(
    logits: torch.Tensor, target: torch.Tensor, ddp: Distributed
) -> tuple[torch.Tensor, float]:
    """This rank's part of the global batch's mean loss, and that mean. The part is
    scaled so that DDP's average of the ranks' gradients is the gradient of the
    mean over every predicted position of the global batch, as one process computes
    it, even when the ranks' slices hold different numbers of predicted positions."""
    local_sum = task_loss(logits, target, reduction="sum")
    loss_sum, count = ddp.sum([local_sum.item(), float((target != IGNORE_INDEX).sum())])
    if count == 0:  # one process's mean is NaN too: the run is reported diverged
        return local_sum * math.nan, math.nan
    return local_sum * (ddp.world_size / count), loss_sum / count


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Dataset,
    cfg: TrainConfig,
    split: str = "test",
    ddp: Distributed | None = None,
) -> float:
    """Accuracy over every predicted position (per_token) or example (classify, pair);
    with ``ddp`` each rank scores every world_size-th batch and the counts are summed."""
    model.eval()
    correct = total = 0
    dtype = autocast_dtype(cfg)
    starts = range(0, len(dataset), cfg.eval_batch_size)
    if ddp is not None:
        starts = starts[ddp.rank :: ddp.world_size]
    for start in starts:
        stop = min(start + cfg.eval_batch_size, len(dataset))
        tokens, target = fetch_batch(dataset, torch.arange(start, stop))
        tokens, target = tokens.to(cfg.device), target.to(cfg.device)
        with autocast(cfg.device, dtype):
            predicted = model(tokens).argmax(dim=-1)
        scored = target != IGNORE_INDEX
        correct += int((predicted == target)[scored].sum())
        total += int(scored.sum())
    model.train()
    if ddp is not None:
        correct, total = (int(n) for n in ddp.sum([correct, total], dtype=torch.int64))
    if total == 0:
        raise ValueError(
            f"the {split} split has no predicted positions (every target is IGNORE_INDEX); "
            "its examples must mark at least one position to predict"
        )
    return correct / total


def check_splits(data: TaskData) -> None:
    """Refuse a task whose train, val or test split is empty (a header-only TSV, a
    folder of empty images) before any step: it would otherwise divide by zero."""
    for split in ("train", "val", "test"):
        dataset = getattr(data, split)
        if dataset is not None and len(dataset) == 0:
            raise ValueError(
                f"task {data.spec.name}: the {split} split has no examples; regenerate or "
                "re-download its files (python -m tasks check shows every split's size)"
            )


# -- checkpoints -------------------------------------------------------------------
class CheckpointError(ValueError):
    """A checkpoint that cannot resume this run: unreadable, or from another run."""


def rng_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def run_identity(model: nn.Module, data: TaskData, cfg: TrainConfig) -> dict[str, Any]:
    """What a checkpoint must agree on to resume this run, flat (``task.name``,
    ``model.d_model``, ``lr``): the trajectory's fields, the task (its spec and
    training-set size) and the model (its config when it has one, else its class,
    and always its parameters' names and shapes)."""
    identity: dict[str, Any] = dict(cfg.trajectory())
    task = {**asdict(data.spec), "n_train": len(data.train)}
    identity.update({f"task.{k}": v for k, v in task.items()})
    config = getattr(model, "config", None)
    described = asdict(config) if is_dataclass(config) else {"class": type(model).__qualname__}
    layout = ";".join(f"{n}:{tuple(p.shape)}" for n, p in model.state_dict().items())
    described["layout"] = hashlib.sha1(layout.encode()).hexdigest()[:12]
    identity.update({f"model.{k}": v for k, v in described.items()})
    return {k: _plain(v) for k, v in identity.items()}


def _plain(value: Any) -> Any:
    # tuples come back from a checkpoint as lists or tuples: compare them as lists
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def save_checkpoint(run: Run, cfg: TrainConfig) -> None:
    assert run.checkpoint is not None
    payload = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "progress": asdict(run.progress),
        "rng": rng_state(),
        "identity": run.identity,
    }
    path = run.checkpoint
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)  # a run killed while saving leaves the last good checkpoint


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "progress", "rng", "identity")


def read_checkpoint(path: Path, device: str) -> dict:
    """The checkpoint's payload; CheckpointError naming ``path`` when it is cut off,
    empty or not a mixbench checkpoint."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
        missing = [k for k in CHECKPOINT_KEYS if k not in payload]
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        detail = str(error).split(". ")[0].splitlines()[0][:120] if str(error) else ""
        problem = type(error).__name__ + (f": {detail}" if detail else "")
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({problem}); it is truncated or not a "
            "mixbench checkpoint: delete it (the run then starts from step 0)"
        ) from error
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {', '.join(missing)} (an older mixbench or another "
            "program wrote it): delete it or choose another checkpoint folder"
        )
    return payload


def load_checkpoint(run: Run, cfg: TrainConfig) -> None:
    """Restore ``run`` from its checkpoint; CheckpointError when it belongs to another
    run (another task, model, or optimizer/schedule setting)."""
    path = run.checkpoint
    assert path is not None
    payload = read_checkpoint(path, cfg.device)
    saved = _plain(payload["identity"])
    differing = [
        f"{k}: checkpoint {saved.get(k)!r} vs now {v!r}"
        for k, v in run.identity.items()
        if saved.get(k) != v
    ]
    if differing:
        raise CheckpointError(
            f"checkpoint {path} belongs to a different run ({'; '.join(differing)}); "
            "delete it or use another folder for checkpoint_path"
        )
    run.model.load_state_dict(payload["model"])
    run.optimizer.load_state_dict(payload["optimizer"])
    run.scheduler.load_state_dict(payload["scheduler"])
    set_rng_state({k: _to_cpu(v) for k, v in payload["rng"].items()})
    run.progress = Progress(**payload["progress"])


def _to_cpu(state: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    # RNG states must be CPU byte tensors, whatever map_location did
    return [s.cpu() for s in state] if isinstance(state, list) else state.cpu()


# -- the loop ------------------------------------------------------------------------
def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def show_progress(cfg: TrainConfig) -> bool:
    return sys.stderr.isatty() if cfg.progress is None else cfg.progress


@dataclass
class Run:
    """A run ready to step: the model, its optimizer and schedule, and how far it got
    (restored from the checkpoint when there is one)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    progress: Progress
    checkpoint: Path | None
    identity: dict[str, Any]
    #: the data-parallel run this is a rank of; None: one process
    dist: Distributed | None = None
    #: what the steps call: ``model`` wrapped in DistributedDataParallel under
    #: ``dist``, else ``model`` itself
    net: nn.Module | None = None
    #: the validation examples the learning curve is measured on; None: no curve
    curve_set: Dataset | None = None
    #: analytic FLOPs of one training step; None: unknown
    step_flops: int | None = None

    @property
    def writes(self) -> bool:
        """Whether this process writes checkpoints (one process, or rank 0)."""
        return self.dist is None or self.dist.is_main


@dataclass
class StepsOutcome:
    """What ``run_steps`` ends with: why it stopped and the progress it made."""

    status: Status
    reason: str | None
    progress: Progress


def call(steps: Callable[[], StepsOutcome]) -> StepsOutcome:
    return steps()


def train(
    model: nn.Module,
    data: TaskData,
    cfg: TrainConfig,
    *,
    timer: Callable[[Callable[[], StepsOutcome]], StepsOutcome] = call,
    step_flops: int | None = None,
) -> TrainResult:
    """Train ``model`` (logits with the class axis last) on ``data.train`` for
    ``cfg.steps`` steps, then measure accuracy on ``data.val`` and ``data.test``.

    Resumes from ``cfg.checkpoint_path`` when it exists (and refuses one from another
    run); stops early on divergence (status "diverged", no accuracy) or when the time
    budget runs out (status "timeout", evaluated all the same). ``timer`` calls the
    steps and returns their outcome, so that a benchmark times the steps alone, not
    the optimizer's set-up (its first construction imports torch._dynamo) or evaluation
    (the learning curve's few evaluations happen among the steps). ``step_flops``: the
    analytic FLOPs of one training step, for the learning curve's cost axis.

    Inside a process group of more than one process this is one rank of a
    data-parallel run (the module docstring says how); ValueError when the world
    size does not divide ``cfg.batch_size``.
    """
    check_splits(data)
    ddp = current_distributed(cfg.device)
    if ddp is not None:
        problem = world_size_problem(cfg.batch_size, ddp.world_size)
        if problem is not None:
            raise ValueError(problem)
    run = start_run(model, data, cfg, ddp)
    run.step_flops = step_flops
    outcome = timer(functools.partial(run_steps, run, data.train, cfg))
    return finish(run, data, cfg, outcome)


def start_run(
    model: nn.Module, data: TaskData, cfg: TrainConfig, ddp: Distributed | None = None
) -> Run:
    model.to(cfg.device).train()
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    checkpoint = Path(cfg.checkpoint_path) if cfg.checkpoint_path else None
    identity = run_identity(model, data, cfg)
    run = Run(model, optimizer, scheduler, Progress(), checkpoint, identity, dist=ddp, net=model)
    if cfg.curve_points and data.val is not None:
        run.curve_set = head(data.val, cfg.curve_examples)
    if checkpoint is not None and checkpoint.exists():
        load_checkpoint(run, cfg)
    else:
        torch.manual_seed(cfg.seed)
    if ddp is not None:
        check_ranks_agree(run)
        # DDP broadcasts rank 0's parameters and buffers: every rank starts alike
        device = torch.device(cfg.device)
        cuda = device.type == "cuda"
        device_ids = [device.index or torch.cuda.current_device()] if cuda else None
        run.net = DistributedDataParallel(model, device_ids=device_ids)
    return run


def check_ranks_agree(run: Run) -> None:
    """CheckpointError unless every rank resumes from the same step: a checkpoint
    only rank 0's machine sees would leave the other ranks' optimizers behind."""
    assert run.dist is not None
    mine = (run.checkpoint is not None and run.checkpoint.exists(), run.progress.step)
    everyone: list[Any] = [None] * run.dist.world_size
    dist.all_gather_object(everyone, mine)
    if len({tuple(x) for x in everyone}) > 1:
        seen = "; ".join(
            f"rank {rank}: " + (f"resumes at step {step}" if found else "finds none")
            for rank, (found, step) in enumerate(everyone)
        )
        raise CheckpointError(
            f"the ranks disagree on checkpoint {run.checkpoint} ({seen}); put "
            "checkpoint_path on storage every rank reads (rank 0 alone writes it)"
        )


def finish(run: Run, data: TaskData, cfg: TrainConfig, outcome: StepsOutcome) -> TrainResult:
    """Accuracy on val and test (None for a diverged run, whose weights mean nothing)."""
    if run.dist is not None:
        dist.barrier()  # no rank leaves before rank 0's last checkpoint is written
    eval_start = time.perf_counter()
    accuracy = val_accuracy = None
    if outcome.status != "diverged":
        if data.val is not None:
            val_accuracy = evaluate(run.model, data.val, cfg, "val", run.dist)
        accuracy = evaluate(run.model, data.test, cfg, "test", run.dist)
    eval_time_s = time.perf_counter() - eval_start
    progress = outcome.progress
    train_time_s = progress.train_time_s
    return TrainResult(
        status=outcome.status,
        accuracy=accuracy,
        val_accuracy=val_accuracy,
        train_time_s=train_time_s,
        eval_time_s=eval_time_s,
        tokens_per_s=progress.tokens_seen / train_time_s if train_time_s > 0 else None,
        steps=progress.step,
        final_loss=progress.losses[-1] if progress.losses else None,
        params=count_params(run.model),
        reason=outcome.reason,
        losses=progress.losses,
        train_cpu_s=progress.train_cpu_s,
        curve=progress.curve,
    )


def run_steps(run: Run, dataset: Dataset, cfg: TrainConfig) -> StepsOutcome:
    """Steps from ``run.progress.step`` to ``cfg.steps``, updating the progress in
    place. Only the steps count towards ``train_time_s``, not checkpointing.

    Under ``run.dist`` each rank steps on its slice of the global batch; the loss
    recorded is the global batch's, and ``tokens_seen`` counts every rank's tokens."""
    model, progress, ddp = run.model, run.progress, run.dist
    net = run.net or model
    world_size = 1 if ddp is None else ddp.world_size
    dtype = autocast_dtype(cfg)
    shown = show_progress(cfg) and run.writes
    bar = tqdm(total=cfg.steps, initial=progress.step, disable=not shown, desc="train")
    curve_steps = cfg.curve_steps() if run.curve_set is not None else set()
    with bar:
        while progress.step < cfg.steps:
            step_start, cpu_start = time.perf_counter(), time.process_time()
            indices = batch_indices(progress.step, cfg.batch_size, len(dataset), cfg.seed)
            if ddp is not None:
                indices = ddp.shard(indices)
            tokens, target = (t.to(cfg.device) for t in fetch_batch(dataset, indices))
            with autocast(cfg.device, dtype):
                logits = net(tokens)
            if ddp is None:
                loss = task_loss(logits, target)
                loss_value = loss.item()
            else:
                loss, loss_value = global_batch_loss(logits, target, ddp)
            if not math.isfinite(loss_value):
                return StepsOutcome(
                    "diverged", f"loss is {loss_value} at step {progress.step}", progress
                )
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = clip_gradients(model, cfg.grad_clip)
            if not math.isfinite(grad_norm):
                return StepsOutcome(
                    "diverged", f"gradient norm is {grad_norm} at step {progress.step}", progress
                )
            run.optimizer.step()
            run.scheduler.step()
            synchronize(cfg.device)

            progress.step += 1
            progress.tokens_seen += tokens.numel() * world_size
            progress.losses.append(loss_value)
            progress.train_time_s += time.perf_counter() - step_start
            progress.train_cpu_s += time.process_time() - cpu_start
            if progress.step in curve_steps:
                progress.curve.append(asdict(curve_point(run, cfg)))
            bar.update(1)
            if progress.step % 10 == 0:
                bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
            if (
                run.checkpoint is not None
                and run.writes
                and (progress.step % cfg.checkpoint_every == 0 or progress.step == cfg.steps)
            ):
                save_checkpoint(run, cfg)
            out_of_time = (
                cfg.time_budget_s is not None and progress.train_time_s > cfg.time_budget_s
            )
            if ddp is not None and cfg.time_budget_s is not None:
                out_of_time = ddp.any(out_of_time)  # every rank stops at the same step
            if out_of_time and progress.step < cfg.steps:
                reason = f"time budget {cfg.time_budget_s:g} s ran out at step {progress.step}"
                return StepsOutcome("timeout", reason, progress)
    return StepsOutcome("ok", None, progress)


def curve_point(run: Run, cfg: TrainConfig) -> CurvePoint:
    """The learning curve at the run's current step."""
    progress = run.progress
    accuracy = evaluate(run.model, run.curve_set, cfg, "val", run.dist)
    flops = None if run.step_flops is None else float(run.step_flops * progress.step)
    return CurvePoint(progress.step, accuracy, progress.train_cpu_s, flops)


def clip_gradients(model: nn.Module, max_norm: float | None) -> float:
    """Clip to ``max_norm`` (when set) and return the global norm before clipping;
    every parameter's norm in one foreach call (not one call a parameter)."""
    params = [p for p in model.parameters() if p.grad is not None]
    if max_norm is None:
        grads = [p.grad.detach() for p in params]
        return float(torch.nn.utils.get_total_norm(grads, foreach=True))
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True))

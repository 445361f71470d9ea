"""One accuracy run: ``run_accuracy`` trains one mixer on one task of a profile
(tasks/catalog.py) within its budget (tasks/budget.py), the model matched to the
reference model's parameters (tasks/sizing.py), and measures validation accuracy
(what a learning rate is chosen on) and test accuracy (what is reported), with the
task's majority-class accuracy to read them against, the task's settings and the
trained model's decoding-state bytes. Every run records its learning curve
(``CURVE_POINTS`` validation points on ``CURVE_EXAMPLES`` examples, with the CPU
seconds and analytic FLOPs spent by each); a length-extrapolation task's run is
also tested at each of its longer lengths (``length_accuracies``).
tasks/record.py turns the run into the suite's saved fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset

from models.backbone import BackboneConfig
from models.base import matmul_flops, train_flops

from .base import IGNORE_INDEX, RECONSTRUCT, TaskData, TaskSpec
from .budget import train_config
from .catalog import get_task
from .model import ModelConfig, build_model
from .sizing import matched_sizing, model_config
from .train import StepsOutcome, TrainConfig, TrainResult, autocast_dtype, evaluate, train

#: learning-curve points per run, and the validation examples each is measured on.
#: Measured on one thread at L32: 8 evaluations of 128 examples take ~0.35 s, ~4.5% of
#: a 250-step run; the fused AdamW step (tasks/train.py) saves ~2.3 ms a step, ~0.6 s
CURVE_POINTS = 8
CURVE_EXAMPLES = 128


@dataclass
class AccuracyRun:
    """One mixer trained on one task: the result and what it was trained with."""

    mixer: str
    task: str
    seq_len: int
    batch: int
    #: d_model is the matched width (Sizing), not necessarily the budget's
    model: ModelConfig
    result: TrainResult
    #: the reference (attention) model's parameters that ``model`` was sized to
    target_params: int | None = None
    #: the test accuracy of always predicting the most common target
    chance_accuracy: float | None = None
    #: the learning rate trained at
    lr: float | None = None
    #: the weight decay trained at
    weight_decay: float | None = None
    #: the task's settings, plain values (catalog.Task.config)
    task_config: dict | None = None
    #: the trained model's decoding state after seq_len tokens at batch 1, all layers
    #: (``decoding_state_bytes``); None where a mixer does not say
    state_bytes: int | None = None
    #: length-extrapolation tasks: [{seq_len, accuracy}] at each longer test length
    extrapolation: list[dict] = field(default_factory=list)


def majority_accuracy(dataset: Dataset) -> float:
    """The accuracy of always predicting the most common target of ``dataset`` (over
    predicted positions for per_token tasks): the chance level a result is read
    against. Reads labels without inputs where the dataset keeps them apart."""
    targets = torch.as_tensor(target_array(dataset)).reshape(-1)
    targets = targets[targets != IGNORE_INDEX]
    if targets.numel() == 0:
        raise ValueError("the split has no predicted positions")
    return float(targets.bincount().max()) / targets.numel()


def target_array(dataset: Dataset) -> torch.Tensor | np.ndarray:
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[1]
    if isinstance(dataset, Subset):
        return target_array(dataset.dataset)[np.asarray(dataset.indices)]
    labels = getattr(dataset, "labels", None)
    if labels is not None:
        return np.asarray(labels)
    return torch.stack([torch.as_tensor(dataset[i][1]) for i in range(len(dataset))])


def default_timer(run: Callable[[], StepsOutcome]) -> StepsOutcome:
    return run()


def decoding_state_bytes(model: nn.Module, seq_len: int, dtype: torch.dtype) -> int | None:
    """Bytes of ``model``'s decoding state after ``seq_len`` tokens at batch 1: the sum
    of ``state_bytes(1, seq_len, dtype)`` over its mixers (as suite/workloads.py's
    model_state_bytes). A two-tower model counts its one encoder, which both
    documents share. None where a mixer does not implement it."""
    try:
        return sum(m.state_bytes(1, seq_len, dtype) for m in model.backbone.mixers)
    except NotImplementedError:
        return None


def training_step_flops(model: nn.Module, spec: TaskSpec, batch: int) -> int | None:
    """Analytic FLOPs of one training step of a task model (forward and backward,
    models.base.train_flops): its mixers' ``flops`` and the blocks' MLPs over every
    token, and the head (``head_flops``); None where a mixer has no analytic count.
    A pair task's two documents go through the backbone as two sequences each."""
    backbone = model.backbone
    cfg = backbone.cfg
    sequences = batch * (2 if spec.kind == "pair" else 1)
    tokens = sequences * spec.seq_len
    try:
        mixers = sum(m.flops(sequences, spec.seq_len) for m in backbone.mixers)
    except NotImplementedError:
        return None
    mlp = 2 * matmul_flops(tokens, cfg.mlp_ratio * cfg.d_model, cfg.d_model)
    return train_flops(mixers + cfg.n_layers * mlp + head_flops(spec, cfg, batch, tokens))


def head_flops(spec: TaskSpec, cfg: BackboneConfig, batch: int, tokens: int) -> int:
    """Forward FLOPs of a task model's head: an LM head over every token, a
    classifier over each sequence, a reconstruct decoder (two d x d layers and the
    vocabulary projection) over every position."""
    d = cfg.d_model
    if spec.kind == RECONSTRUCT:
        return 2 * matmul_flops(tokens, d, d) + matmul_flops(tokens, spec.vocab_size, d)
    if cfg.head == "lm":
        return matmul_flops(tokens, cfg.vocab_size, d)
    return matmul_flops(batch, cfg.n_classes, d)


def length_accuracies(model: nn.Module, data: TaskData, cfg: TrainConfig) -> list[dict]:
    """Test accuracy at each of ``data.length_tests``' lengths, [{seq_len, accuracy}]
    in order of length; each batch holds about as many tokens as at the training
    length (a batch of 128 at 64x the length would not fit)."""
    train_len = data.spec.seq_len
    measured = []
    for length, dataset in sorted(data.length_tests.items()):
        batch = max(1, cfg.eval_batch_size * train_len // length)
        at_length = replace(cfg, eval_batch_size=batch)
        accuracy = evaluate(model, dataset, at_length, f"test at length {length}")
        measured.append({"seq_len": length, "accuracy": accuracy})
    return measured


def run_accuracy(
    mixer: str,
    task: str,
    profile: str,
    *,
    device: str = "cpu",
    data_dir: str | Path | None = None,
    seed: int = 0,
    lr: float | None = None,
    weight_decay: float | None = None,
    autocast: str = "auto",
    timer: Callable[[Callable[[], StepsOutcome]], StepsOutcome] = default_timer,
    progress: bool | None = None,
    options: Mapping[str, Any] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
) -> AccuracyRun:
    """Train ``mixer`` on ``task`` within ``profile``'s budget and measure accuracy on
    the validation and test splits, the model sized to the attention model's
    parameters (``matched_sizing``).

    ``timer`` calls the training steps (not data generation, model building,
    optimizer set-up or evaluation) and returns their outcome: the suite passes
    ``lambda run: benchmark.pedantic(run, rounds=1, iterations=1)``. ``autocast``
    is TrainConfig's: "auto" (bf16 on CUDA), "bf16" or "off". ``lr`` and
    ``weight_decay`` override the budget's (the suite trains each pair of
    ``budget.grid`` and chooses on validation).
    ``options`` are the user's knobs for this mixer (models.registry.mixer_config).
    ``checkpoint``: a file saved every ``checkpoint_every`` steps and resumed from
    when it exists (tasks.train.CheckpointError for another run's).
    ``task`` may be an alias of the profile's (``AccuracyProfile.aliases``); the run
    records the task it stands for. A length-extrapolation task's mixers are built
    for its longest test length (a Hyena filter is defined up to its l_max).
    Raises MixerUnavailable and tasks.lra.DataMissing for runs that cannot start.
    """
    the_task = get_task(task, profile)
    budget = the_task.budget
    data = the_task.data(seed, str(data_dir) if data_dir else None)
    seq_len = data.spec.seq_len
    sizing = matched_sizing(mixer, data.spec, budget, options)
    longest = max(data.length_tests, default=seq_len)
    model_cfg = model_config(mixer, sizing.d_model, budget, longest, options or {})
    torch.manual_seed(seed)
    with torch.device(device):
        model = build_model(data.spec, model_cfg)
    train_cfg = train_config(
        budget,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        device=device,
        autocast=autocast,
        progress=progress,
        checkpoint_path=str(checkpoint) if checkpoint else None,
        checkpoint_every=checkpoint_every,
    )
    train_cfg = replace(train_cfg, curve_points=CURVE_POINTS, curve_examples=CURVE_EXAMPLES)
    step_flops = training_step_flops(model, data.spec, budget.batch_size)
    result = train(model, data, train_cfg, timer=timer, step_flops=step_flops)
    reached = result.status != "diverged"
    state_dtype = autocast_dtype(train_cfg) or next(model.parameters()).dtype
    return AccuracyRun(
        mixer,
        the_task.name,
        seq_len,
        budget.batch_size,
        model_cfg,
        result,
        target_params=sizing.target_params,
        chance_accuracy=majority_accuracy(data.test),
        lr=train_cfg.lr,
        weight_decay=train_cfg.weight_decay,
        task_config=dict(the_task.config),
        state_bytes=decoding_state_bytes(model, seq_len, state_dtype),
        extrapolation=length_accuracies(model, data, train_cfg) if reached else [],
    )

"""Accuracy runs: which tasks each profile trains, at what size and for how
many steps, and ``run_accuracy`` that the suite (suite/test_accuracy.py) times.

Budgets are sized so that a profile's whole accuracy sweep (4 families x its
tasks x its seeds and learning rates) fits its purpose: ``smoke`` seconds,
``default`` at most ~10 minutes on a 2-core CPU with two Ray workers (~9 alone on
the machine; the comment above ``DEFAULT_MQAR_POINTS`` gives the measured costs),
``paper`` a GPU, with each LRA task's published set-up (``LRA_PAPER_SETUPS``,
sources named).
Generated tasks need no download; LRA tasks read from disk (``MIXBENCH_DATA``)
are added at the profile's size and raise ``DataMissing`` when their files are
absent.

Every mixer's model on a task is sized to within 5% of the attention model's
parameters (``matched_sizing``); a run reports validation accuracy (what a
learning rate is chosen on) and test accuracy (what is reported), and the
task's majority-class accuracy to read them against, the task's settings
(``task_config``) and the trained model's decoding-state bytes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset

from models.backbone import count_params
from models.registry import get_spec

from .base import IGNORE_INDEX, TaskData, TaskSpec
from .lra import load_task, make_listops
from .lra.listops import listops_spec
from .lra.registry import task_spec as lra_task_spec
from .model import ModelConfig, build_model
from .synthetic import (
    InductionConfig,
    MQARConfig,
    SelectiveCopyConfig,
    make_induction,
    make_mqar,
    make_selective_copy,
)
from .train import StepsOutcome, TrainConfig, TrainResult, autocast_dtype, train

#: the variants the accuracy runs train with, each family's fastest first: a
#: family trains with the first of these that runs (``family_defaults``);
#: mamba/fused needs a C compiler and the CPU, mamba/scan runs anywhere
DEFAULT_MIXERS = ("attention/sdpa", "retnet/chunkwise", "hyena/fft", "mamba/fused", "mamba/scan")
#: every model of a task is sized to within PARAMS_TOLERANCE of this mixer's model
#: at the task's Budget.d_model (DESIGN.md: "models within +-5% of the attention
#: model's parameters, per task")
REFERENCE_MIXER = "attention/sdpa"
PARAMS_TOLERANCE = 0.05
LRA_PREFIX = "lra-"
#: the six LRA tasks read from disk, by their name in tasks.lra.load_task
LRA_DISK_TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")


#: (profile, task, family) -> the mean accuracy over seeds a full-budget run must
#: reach; below it the training loop or the budget, not the mixer, is at fault
SANITY_BARS: dict[tuple[str, str, str], float] = {
    # measured 0.994-0.998 on seeds 0-2 (attention crosses MQAR's plateau by step 180)
    ("default", "mqar-L32-kv4", "attention"): 0.95,
    # measured 0.87-1.00 on seeds 0-2 (mean 0.94); the bar leaves room for another
    # machine's numerics
    ("default", "induction", "attention"): 0.8,
}


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
    #: keeps the accuracy it reached): a safety net only; the default profile's
    #: budgets are sized so that no run on a 2-core CPU comes near it
    time_budget_s: float = 45.0
    weight_decay: float = 0.1
    #: evaluate on at most this many validation and test examples each (LRA's
    #: splits are large)
    max_test_examples: int = 1000
    #: the learning rates to choose from on validation accuracy; empty: ``lr`` alone
    lr_grid: tuple[float, ...] = ()
    #: linear warm-up steps before the cosine decay; None: TrainConfig's (10% of the steps)
    warmup_steps: int | None = None
    #: max global gradient norm; None turns clipping off
    grad_clip: float | None = 1.0
    #: every block's MLP width over d_model
    mlp_ratio: int = 4

    def __post_init__(self) -> None:
        if self.warmup_steps is not None and not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(
                f"warmup_steps must be in [0, steps={self.steps}], got {self.warmup_steps}"
            )
        if self.lr_grid and self.lr not in self.lr_grid:
            raise ValueError(f"lr {self.lr:g} must be one of lr_grid {self.lr_grid}")

    @property
    def lrs(self) -> tuple[float, ...]:
        """The learning rates an accuracy point trains at (``lr_grid`` or ``lr``)."""
        return self.lr_grid or (self.lr,)


# -- the LRA paper's set-ups ----------------------------------------------------------
#: where the hyper-parameters below come from: the LRA repository at this commit
#: (its HEAD, 2022-09-14); each task names its config files under lra_benchmarks/
LRA_REPOSITORY = "google-research/long-range-arena"
LRA_COMMIT = "cd31e5c6b8e5bceabd28de2d2afb23f7ae5d36d8"
#: where the released sequence lengths come from
LRA_PAPER = (
    "Tay et al., Long Range Arena: A Benchmark for Efficient Transformers, ICLR 2021 "
    "(arXiv:2011.04006), its task descriptions"
)


@dataclass(frozen=True)
class PaperSetup:
    """One LRA task as the LRA release trains its Transformer baseline: the
    sequence length as released and the config's hyper-parameters, verbatim
    (``source`` names the files). ``budget()`` turns it into this suite's Budget.

    What our loop cannot follow, and how it is mapped:
    - the schedule: ListOps, Text and Retrieval use ``constant * linear_warmup *
      rsqrt_decay`` (lr * min(1, t / warmup) / sqrt(max(t, warmup))); our loop warms
      up linearly and then decays by a cosine, so we take that schedule's peak
      (``peak_lr``) as our rate. Image and Pathfinder use linear warm-up and a cosine,
      as we do; their base rate is the peak;
    - ``qkv_dim`` (attention width) differs from ``emb_dim`` on Pathfinder/Path-X; our
      mixers work at d_model, so the width is ``emb_dim`` and ``mlp_ratio`` is
      mlp_dim // emb_dim (at least 1);
    - dropout and CLS pooling: our models have no dropout and pool by the mean (a
      causal mixer's first token sees nothing), for every mixer alike;
    - Retrieval warms up over 8000 steps but trains 5000: our warm-up is capped at
      the steps (our loop requires it), so the rate peaks at step 5000 as there, at
      ``peak_lr``.
    """

    #: the task's name in tasks.lra.load_task
    task: str
    #: tokens per sequence (per document for Retrieval), as released
    seq_len: int
    n_layers: int
    #: emb_dim
    d_model: int
    n_heads: int
    qkv_dim: int
    mlp_dim: int
    batch_size: int
    steps: int
    #: the config's learning_rate (the rsqrt schedule's constant for ListOps/Text/Retrieval)
    lr: float
    #: the config's ``factors``
    schedule: str
    warmup_steps: int
    weight_decay: float
    grad_clip: float | None
    #: classifier_pool / pooling_mode
    pooling: str
    dropout: float
    #: the config files, under lra_benchmarks/ of LRA_REPOSITORY at LRA_COMMIT
    source: str
    #: where ``seq_len`` comes from
    length_source: str = LRA_PAPER
    #: Budget fields where ours must differ from the published set-up, and why
    adjusted: dict = field(default_factory=dict)
    adjusted_why: str = ""

    @property
    def peak_lr(self) -> float:
        """The highest rate the config's schedule reaches within its steps."""
        if "rsqrt_decay" in self.schedule:
            top = min(self.steps, self.warmup_steps)
            return self.lr * (top / self.warmup_steps) / math.sqrt(self.warmup_steps)
        return self.lr

    def budget(self, *, time_budget_s: float = 24 * 3600.0) -> Budget:
        """This set-up as a Budget: the published width, depth, heads, batch, steps,
        weight decay, clipping and warm-up (capped at the steps), the peak rate, and a
        grid of half, once and twice it; every test example is evaluated. Fields in
        ``adjusted`` replace the published ones (``adjusted_why`` says why)."""
        lr = float(f"{self.peak_lr:.3g}")
        budget = Budget(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=lr,
            lr_grid=(lr / 2, lr, 2 * lr),
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            chunk_size=256,
            time_budget_s=time_budget_s,
            weight_decay=self.weight_decay,
            max_test_examples=1_000_000,
            warmup_steps=min(self.warmup_steps, self.steps),
            grad_clip=self.grad_clip,
            mlp_ratio=max(1, self.mlp_dim // self.d_model),
        )
        return replace(budget, **self.adjusted)

    def loader_options(self) -> dict:
        """load_task options that give the released length."""
        if self.task in ("listops", "text", "retrieval"):
            return {"max_length": self.seq_len}
        if self.task in ("pathfinder", "pathx"):
            return {"resolution": math.isqrt(self.seq_len)}
        return {}


def _image_steps(train_examples: int, batch_size: int, epochs: int = 200) -> int:
    # the image configs: num_train_steps = (TRAIN_EXAMPLES // batch_size) * NUM_EPOCHS
    return (train_examples // batch_size) * epochs


#: what the three text tasks' configs share (their base configs' optimiser, and the
#: dropout of lra_benchmarks/models/transformer/transformer.py, which they leave unset)
_TEXT_SETUP = dict(
    lr=0.05,
    schedule="constant * linear_warmup * rsqrt_decay",
    weight_decay=0.1,
    grad_clip=None,
    pooling="CLS",
    dropout=0.1,
)
#: what the image tasks' configs share
_IMAGE_SCHEDULE = dict(schedule="constant * linear_warmup * cosine_decay", weight_decay=0.0)

#: each LRA task's published set-up (LRA_REPOSITORY at LRA_COMMIT, files named per task)
LRA_PAPER_SETUPS: dict[str, PaperSetup] = {
    "listops": PaperSetup(
        task="listops",
        seq_len=2000,
        n_layers=4,
        d_model=512,
        n_heads=8,
        qkv_dim=512,
        mlp_dim=1024,
        batch_size=32,
        steps=5000,
        warmup_steps=1000,
        **_TEXT_SETUP,
        source="listops/configs/base_listops_config.py, listops/configs/transformer_base.py",
    ),
    "text": PaperSetup(
        task="text",
        # the paper's 4K bytes; base_tc_config.py itself sets max_length = 1000
        seq_len=4096,
        n_layers=4,
        d_model=256,
        n_heads=4,
        qkv_dim=256,
        mlp_dim=1024,
        batch_size=32,
        steps=20000,
        warmup_steps=8000,
        **_TEXT_SETUP,
        source=(
            "text_classification/configs/base_tc_config.py, "
            "text_classification/configs/transformer_base.py"
        ),
        length_source=LRA_PAPER + " (4K; the config's max_length is 1000)",
    ),
    "retrieval": PaperSetup(
        task="retrieval",
        seq_len=4000,
        n_layers=4,
        d_model=128,
        n_heads=4,
        qkv_dim=128,
        mlp_dim=512,
        batch_size=32,
        steps=5000,
        warmup_steps=8000,
        **_TEXT_SETUP,
        source="matching/configs/base_match_config.py, matching/configs/transformer_base.py",
    ),
    "image": PaperSetup(
        task="image",
        seq_len=1024,
        n_layers=1,
        d_model=32,
        n_heads=1,
        qkv_dim=32,
        mlp_dim=64,
        batch_size=256,
        steps=_image_steps(45_000, 256),
        lr=5e-4,
        warmup_steps=45_000 // 256,
        **_IMAGE_SCHEDULE,
        grad_clip=None,
        pooling="CLS",
        dropout=0.3,
        source=(
            "image/configs/cifar10/base_cifar10_config.py, "
            "image/configs/cifar10/transformer_base.py"
        ),
    ),
    "pathfinder": PaperSetup(
        task="pathfinder",
        seq_len=32 * 32,
        n_layers=4,
        d_model=32,
        n_heads=4,
        qkv_dim=16,
        mlp_dim=32,
        batch_size=512,
        steps=_image_steps(160_000, 512),
        lr=1e-3,
        warmup_steps=160_000 // 512,
        **_IMAGE_SCHEDULE,
        grad_clip=None,
        pooling="MEAN",
        dropout=0.2,
        source=(
            "image/configs/pathfinder32/base_pathfinder32_config.py, "
            "image/configs/pathfinder32/transformer_base.py"
        ),
        adjusted={"n_heads": 1, "mlp_ratio": 2},
        adjusted_why=(
            "at the published 4 heads and MLP of 32 no RetNet or Hyena model lies within "
            "5% of the attention model's parameters (RetNet's widths step by 2 x heads, "
            "and Hyena's implicit filters alone hold more than the whole 32-wide MLP model)"
        ),
    ),
    "pathx": PaperSetup(
        task="pathx",
        seq_len=128 * 128,
        n_layers=1,
        d_model=32,
        n_heads=2,
        qkv_dim=16,
        mlp_dim=32,
        batch_size=64,
        steps=_image_steps(160_000, 64),
        lr=1e-3,
        warmup_steps=160_000 // 64,
        **_IMAGE_SCHEDULE,
        grad_clip=1.0,
        pooling="MEAN",
        dropout=0.1,
        source=(
            "image/configs/pathfinder128/base_pathfinder128_config.py, "
            "image/configs/pathfinder128/transformer_base.py"
        ),
    ),
}


# -- tasks and profiles ---------------------------------------------------------------
@dataclass(frozen=True)
class GeneratedTask:
    budget: Budget
    #: seed -> TaskData
    make: Callable[[int], TaskData]
    #: the spec ``make`` gives, known without generating (models are sized by it)
    spec: TaskSpec
    #: the generator and its settings, plain values (AccuracyRun.task_config)
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AccuracyProfile:
    name: str
    generated: dict[str, GeneratedTask]
    #: budget of every LRA task read from disk that ``disk_budgets`` does not name
    disk: Budget
    #: load_task options per LRA task (shorter max_length on small profiles)
    disk_options: dict[str, dict] = field(default_factory=dict)
    #: LRA tasks too long for this profile's machine
    disk_excluded: tuple[str, ...] = ()
    #: training seeds per accuracy point (0, 1, ...): the learning rate is chosen on
    #: seed 0's validation accuracy, then every seed trains at it
    seeds: int = 1
    #: per LRA task, a budget that replaces ``disk`` (the paper profile's set-ups)
    disk_budgets: dict[str, Budget] = field(default_factory=dict)
    #: per LRA task, the published set-up its budget follows
    paper_setups: dict[str, PaperSetup] = field(default_factory=dict)
    #: other names a task answers to (never run twice): e.g. "mqar" -> "mqar-L32-kv4"
    aliases: dict[str, str] = field(default_factory=dict)

    def task_names(self) -> list[str]:
        disk = [LRA_PREFIX + t for t in LRA_DISK_TASKS if t not in self.disk_excluded]
        return [*self.generated, *disk]

    def accepted_names(self) -> list[str]:
        """Every name a task answers to: ``task_names()`` and the aliases."""
        return [*self.task_names(), *self.aliases]

    def resolve(self, task: str) -> str:
        """The task's own name (an alias gives the task it stands for)."""
        return self.aliases.get(task, task)


def _plain(value):
    """JSON-ready: tuples as lists, nested dataclass dicts kept."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _listops(budget: Budget, n_train: int, n_test: int, max_len: int, max_depth: int):
    min_len = max_len // 4

    def make(seed: int) -> TaskData:
        return make_listops(
            n_train, n_test, min_len=min_len, max_len=max_len, seed=seed, max_depth=max_depth
        )

    config = {
        "generator": "listops",
        "min_len": min_len,
        "max_len": max_len,
        "max_depth": max_depth,
        "max_args": 10,
        "n_train": n_train,
        "n_test": n_test,
    }
    spec = listops_spec(max_len, f"listops-gen{min_len}-{max_len}")
    return GeneratedTask(budget, make, spec, config)


def _synthetic(
    generator: str, make_task, config_cls, budget: Budget, n_train: int, n_test: int, **config
):
    def make(seed: int) -> TaskData:
        return make_task(n_train, n_test, seed=seed, **config)

    settings = asdict(config_cls(**config))
    plain = {"generator": generator, **_plain(settings), "n_train": n_train, "n_test": n_test}
    return GeneratedTask(budget, make, config_cls(**config).spec(), plain)


_mqar = functools.partial(_synthetic, "mqar", make_mqar, MQARConfig)
_selective_copy = functools.partial(
    _synthetic, "selective_copy", make_selective_copy, SelectiveCopyConfig
)
_induction = functools.partial(_synthetic, "induction", make_induction, InductionConfig)


def family_defaults(names: Iterable[str], runs: Callable[[str], bool]) -> dict[str, str]:
    """Per family among ``names``: its first DEFAULT_MIXERS variant in ``names``
    that ``runs``, else its first DEFAULT_MIXERS variant (which then says why
    it cannot run), else the family's first name."""
    names = list(names)
    chosen: dict[str, str] = {}
    for name in (m for m in DEFAULT_MIXERS if m in names):
        family = name.split("/", 1)[0]
        if family not in chosen or (not runs(chosen[family]) and runs(name)):
            chosen[family] = name
    for name in names:
        chosen.setdefault(name.split("/", 1)[0], name)
    return chosen


def mqar_task_name(seq_len: int, num_kv_pairs: int) -> str:
    """The name of an MQAR sweep point: ``mqar-L{seq_len}-kv{pairs}``."""
    return f"mqar-L{seq_len}-kv{num_kv_pairs}"


def mqar_sweep(
    budget_for: Callable[[int, int], Budget],
    points: list[tuple[int, int]],
    vocab_for: Callable[[int, int], int],
    n_train_for: Callable[[int, int], int],
    n_test: int,
) -> dict[str, GeneratedTask]:
    """One MQAR task per (seq_len, num_kv_pairs), named by ``mqar_task_name``."""
    return {
        mqar_task_name(L, kv): _mqar(
            budget_for(L, kv),
            n_train_for(L, kv),
            n_test,
            seq_len=L,
            num_kv_pairs=kv,
            vocab_size=vocab_for(L, kv),
        )
        for L, kv in points
    }


def _truncated(max_length: int) -> dict[str, dict]:
    return {name: {"max_length": max_length} for name in ("listops", "text", "retrieval")}


#: the default profile's learning-rate grid: every task's seed 0 trains at both rates
DEFAULT_LRS = (1e-3, 3e-3)


def _default_budget(steps: int, batch_size: int, **options) -> Budget:
    base = dict(lr=3e-3, lr_grid=DEFAULT_LRS, d_model=64, n_layers=2)
    return Budget(steps=steps, batch_size=batch_size, **(base | options))


# The default profile's budgets, sized for a 2-core CPU running the grid on two Ray
# workers (one torch thread each): 3 seeds x 2 rates = 4 runs per point, 4 mixers,
# 6 tasks, 96 runs. Measured (two runs at once, mamba/scan as of 8d07edb), CPU time
# per step at 1024 tokens (batch 32 x L32): attention ~25 ms, RetNet ~35, Hyena ~30,
# Mamba ~55; a point of 250 steps at 1024 tokens costs ~150 s of its 16 runs. The
# profile's workers spent ~810 CPU seconds in all (training, evaluation, data) when
# every MQAR point trained 250 steps, so the phase took ~7 minutes alone on the
# machine; with two MQAR points at 500 steps (below) it takes ~9. The longest runs
# (Mamba: 250 steps ~15 s, 500 steps ~31 s) take a third of their guard.
#
# MQAR: every point trains steps of 1024 tokens (batch 1024 // L); the
# vocabulary is 4x the pairs (keys from its lower half, values from its upper
# half). Attention crosses MQAR's plateau (recall of "one of the values seen", at
# 1/pairs) after ~180 steps at L32-kv4 on every seed tried; at L32-kv8 on one seed
# of three and at L64-kv4 on none within 250 steps, so those two train 500 (seed 0
# at lr 3e-3: 1.00 and 0.99; at half the batch, 500 steps stay on the plateau);
# with vocab 32 at L64-kv4 (the earlier default) seed 1 never crossed in 400
# steps; at L128-kv4 attention stays on the plateau for 1000 steps, at L64-kv8 for
# 500, and at L256-kv16 at chance for 300-400: longer points belong to the paper
# profile. Mamba's 500 steps take ~31 s of one core: their guard is 90 s.
#
# Pathfinder is not in this profile: at 16x16 with the shortest contours (2 paddles,
# no distractors) attention stayed at chance (0.51-0.58) for 300 steps of batch 32
# and needed ~450 steps to reach 0.78 (0.92 after 900) at ~90 ms a step: its 16 runs
# alone would take more than half of the profile's budget; with 4-paddle contours,
# or at 12x12, it stayed at chance for 300-600 steps.
DEFAULT_MQAR_POINTS = [(32, 4), (32, 8), (64, 4)]
#: the points past the plateau's reach within 250 steps (above)
LONG_MQAR_POINTS = {(32, 8), (64, 4)}


def _default_mqar_budget(seq_len: int, num_kv_pairs: int) -> Budget:
    if (seq_len, num_kv_pairs) in LONG_MQAR_POINTS:
        return _default_budget(steps=500, batch_size=1024 // seq_len, time_budget_s=90.0)
    return _default_budget(steps=250, batch_size=1024 // seq_len)


PROFILES: dict[str, AccuracyProfile] = {
    "smoke": AccuracyProfile(
        name="smoke",
        generated={
            "mqar": _mqar(
                Budget(steps=15, batch_size=16, lr=3e-3, d_model=32, n_layers=1, n_heads=2),
                256,
                64,
                seq_len=32,
                vocab_size=32,
                num_kv_pairs=2,
            ),
            "selective_copy": _selective_copy(
                Budget(steps=15, batch_size=16, lr=3e-3, d_model=32, n_layers=1, n_heads=2),
                256,
                64,
                seq_len=32,
                vocab_size=12,
                n_copy=4,
            ),
            "induction": _induction(
                Budget(steps=15, batch_size=16, lr=3e-3, d_model=32, n_layers=2, n_heads=2),
                256,
                64,
                seq_len=16,
                vocab_size=10,
            ),
        },
        disk=Budget(
            steps=2,
            batch_size=4,
            lr=1e-3,
            # d_model 64 with 2 heads: every family's model gets within 5% of
            # attention's on every LRA task (at 32 RetNet's widths skip Retrieval's)
            d_model=64,
            n_layers=1,
            n_heads=2,
            time_budget_s=10.0,
            max_test_examples=16,
        ),
        disk_options=_truncated(128),
        disk_excluded=("pathx",),
        seeds=1,
    ),
    "default": AccuracyProfile(
        name="default",
        generated={
            **mqar_sweep(
                _default_mqar_budget,
                DEFAULT_MQAR_POINTS,
                vocab_for=lambda L, kv: 4 * kv,
                n_train_for=lambda L, kv: 8000,
                n_test=500,
            ),
            # Mamba's task (content-aware skipping); in 120 steps of batch 16 attention
            # and RetNet reach ~0.26 (chance ~0.08), Mamba stays at chance
            "selective_copy": _selective_copy(
                _default_budget(steps=120, batch_size=16),
                8000,
                500,
                seq_len=64,
                vocab_size=16,
                n_copy=8,
            ),
            # induction needs two layers; at L32 with 8 content tokens (chance ~0.14)
            # attention crosses its plateau near step 200 and ends at 0.87-1.00 after
            # 250 steps on seeds 0-2 (Hyena and Mamba ~0.99)
            "induction": _induction(
                _default_budget(steps=250, batch_size=32),
                8000,
                500,
                seq_len=32,
                vocab_size=10,
            ),
            # attention ~0.36 after 100 steps of batch 16 (chance ~0.18)
            "listops": _listops(
                _default_budget(steps=100, batch_size=16),
                3000,
                300,
                max_len=128,
                max_depth=4,
            ),
        },
        disk=Budget(
            steps=100,
            batch_size=8,
            lr=1e-3,
            lr_grid=(1e-3, 3e-3),
            d_model=64,
            n_layers=2,
            # 2 heads: RetNet's widths (multiples of 2 * n_heads) reach within 5% of
            # attention's Retrieval model (with 4 heads the nearest is 8.6% off)
            n_heads=2,
            chunk_size=64,
            max_test_examples=200,
        ),
        disk_options=_truncated(512),
        disk_excluded=("pathx",),
        seeds=3,
        # the earlier default's one MQAR task, and the sweep's sanity point
        aliases={"mqar": mqar_task_name(32, 4)},
    ),
    "paper": AccuracyProfile(
        name="paper",
        generated={
            # Zoology's MQAR (Arora et al., 2023: vocab 8192, pairs up to L/4, lengths
            # to 2K and beyond); fewer training examples past L1024 (the same tokens)
            **mqar_sweep(
                lambda L, kv: Budget(
                    steps=5000,
                    batch_size=64,
                    lr=1e-3,
                    lr_grid=(5e-4, 1e-3, 2e-3),
                    d_model=128,
                    n_layers=2,
                    chunk_size=128,
                    time_budget_s=3600,
                ),
                [
                    (512, 32),
                    (512, 64),
                    (1024, 64),
                    (1024, 128),
                    (2048, 128),
                    (2048, 256),
                    (4096, 256),
                ],  # fmt: skip
                vocab_for=lambda L, kv: 8192,
                n_train_for=lambda L, kv: 100_000 * 1024 // max(L, 1024),
                n_test=3000,
            ),
            "selective_copy": _selective_copy(
                Budget(
                    steps=5000,
                    batch_size=64,
                    lr=1e-3,
                    lr_grid=(5e-4, 1e-3, 2e-3),
                    d_model=128,
                    n_layers=2,
                    chunk_size=128,
                    time_budget_s=1800,
                ),
                # 25k examples of 4096 tokens: ~0.8 GB a split tensor
                25_000,
                3000,
                seq_len=4096,
                vocab_size=16,
                n_copy=16,
            ),
        },
        # unused: every LRA task has its published set-up below
        disk=LRA_PAPER_SETUPS["listops"].budget(),
        disk_budgets={name: setup.budget() for name, setup in LRA_PAPER_SETUPS.items()},
        disk_options={name: setup.loader_options() for name, setup in LRA_PAPER_SETUPS.items()},
        paper_setups=LRA_PAPER_SETUPS,
        seeds=3,
        aliases={"mqar": mqar_task_name(1024, 64)},
    ),
}
# the GPU smoke profile checks the GPU path at smoke sizes
PROFILES["gpu-smoke"] = replace(PROFILES["smoke"], name="gpu-smoke")


def get_profile(name: str) -> AccuracyProfile:
    if name not in PROFILES:
        raise ValueError(f"no accuracy budgets for profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]


def _lra_name(prof: AccuracyProfile, task: str) -> str:
    """The LRA task behind ``task`` ("lra-listops" -> "listops"); ValueError naming
    the profile's tasks when it is none of them."""
    lra_name = task.removeprefix(LRA_PREFIX)
    if (
        not task.startswith(LRA_PREFIX)
        or lra_name not in LRA_DISK_TASKS
        or (lra_name in prof.disk_excluded)
    ):
        known = prof.accepted_names()
        raise ValueError(f"unknown task {task!r} in profile {prof.name}; known: {known}")
    return lra_name


@functools.lru_cache(maxsize=8)
def task_data(task: str, profile: str, data_dir: str | None, seed: int) -> TaskData:
    """The task's data, built once per process and shared by every mixer;
    raises tasks.lra.DataMissing for an LRA task whose files are absent."""
    prof = get_profile(profile)
    task = prof.resolve(task)
    if task in prof.generated:
        generated = prof.generated[task]
        data = generated.make(seed)
        if data.spec != generated.spec:  # the profile's table and its generator disagree
            raise AssertionError(f"{task}: generated {data.spec}, declared {generated.spec}")
        return data
    lra_name = _lra_name(prof, task)
    data = load_task(lra_name, data_dir, **prof.disk_options.get(lra_name, {}))
    cap = budget_of(task, profile).max_test_examples
    return replace(
        data,
        val=Subset(data.val, range(min(len(data.val), cap))),
        test=Subset(data.test, range(min(len(data.test), cap))),
    )


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


def budget_of(task: str, profile: str) -> Budget:
    prof = get_profile(profile)
    task = prof.resolve(task)
    if task in prof.generated:
        return prof.generated[task].budget
    lra_name = _lra_name(prof, task)
    return prof.disk_budgets.get(lra_name, prof.disk)


def task_spec(task: str, profile: str) -> TaskSpec:
    """The task's spec, known without its data (no files read, nothing generated)."""
    prof = get_profile(profile)
    task = prof.resolve(task)
    if task in prof.generated:
        return prof.generated[task].spec
    lra_name = _lra_name(prof, task)
    return lra_task_spec(lra_name, **prof.disk_options.get(lra_name, {}))


def task_config(task: str, profile: str) -> dict:
    """The task's settings as plain values (what AccuracyRun.task_config records): a
    generated task's generator and its every setting with the split sizes, e.g.
    ``{"generator": "mqar", "seq_len": 64, "num_kv_pairs": 4, "vocab_size": 16, ...}``;
    an LRA task read from disk, its load_task options, e.g.
    ``{"lra_task": "listops", "max_length": 512}``."""
    prof = get_profile(profile)
    task = prof.resolve(task)
    if task in prof.generated:
        return dict(prof.generated[task].config)
    lra_name = _lra_name(prof, task)
    return {"lra_task": lra_name, **_plain(prof.disk_options.get(lra_name, {}))}


def family_knobs(mixer: str, budget: Budget, seq_len: int) -> dict[str, int]:
    """The family knobs this variant's constructor takes (Mixer.knobs_from): heads
    (attention, RetNet), chunk size (chunkwise modes) and l_max (Hyena's filter
    length: the sequence)."""
    return get_spec(mixer).cls.knobs_from(
        n_heads=budget.n_heads, chunk_size=budget.chunk_size, l_max=seq_len
    )


def model_config(mixer: str, d_model: int, budget: Budget, knobs: dict) -> ModelConfig:
    """The model a budget builds for ``mixer`` at ``d_model`` (its depth and MLP ratio)."""
    return ModelConfig(
        mixer, d_model, budget.n_layers, mlp_ratio=budget.mlp_ratio, mixer_config=dict(knobs)
    )


def model_params(spec: TaskSpec, cfg: ModelConfig) -> int:
    """Parameters of the task's model, built on the meta device (no memory, no compute)."""
    with torch.device("meta"):
        return count_params(build_model(spec, cfg))


@dataclass(frozen=True)
class Sizing:
    """The width a mixer's model gets on a task, and how it compares with the
    reference (attention) model's parameters."""

    d_model: int
    params: int
    target_params: int

    @property
    def rel_diff(self) -> float:
        return self.params / self.target_params - 1


@functools.lru_cache(maxsize=256)
def matched_sizing(mixer: str, spec: TaskSpec, budget: Budget) -> Sizing:
    """The d_model whose model has the parameter count closest to the reference
    mixer's model at ``budget.d_model`` (within PARAMS_TOLERANCE, else ValueError).

    Whole models are matched, not mixers alone (the embedding, MLPs and head are most
    of the parameters at these sizes, so ``models.backbone.width_for_params``, which
    sizes a mixer, would leave the models far apart). Widths are multiples of
    2 * n_heads for mixers with heads (so that heads stay even) and of 2 otherwise,
    and must be accepted by the mixer (Mixer.config_problem)."""
    cls = get_spec(mixer).cls
    knobs = family_knobs(mixer, budget, spec.seq_len)

    def params_at(name: str, d_model: int, config: dict) -> int:
        return model_params(spec, model_config(name, d_model, budget, config))

    reference_knobs = family_knobs(REFERENCE_MIXER, budget, spec.seq_len)
    problem = get_spec(REFERENCE_MIXER).cls.config_problem(budget.d_model, **reference_knobs)
    if problem is not None:
        raise ValueError(
            f"the budget's d_model={budget.d_model} does not fit {REFERENCE_MIXER}: {problem}"
        )
    target = params_at(REFERENCE_MIXER, budget.d_model, reference_knobs)
    if mixer == REFERENCE_MIXER:
        return Sizing(budget.d_model, target, target)
    step = 2 * knobs["n_heads"] if "n_heads" in knobs else 2
    widths = range(step, 8 * budget.d_model + 1, step)

    @functools.cache
    def accepted(i: int) -> bool:
        return cls.config_problem(widths[i], **knobs) is None

    @functools.cache
    def sizing_at(i: int) -> Sizing:
        return Sizing(widths[i], params_at(mixer, widths[i], knobs), target)

    def accepted_from(i: int, direction: int) -> int | None:
        while 0 <= i < len(widths):
            if accepted(i):
                return i
            i += direction
        return None

    # parameters grow with the width: bisect for the first accepted width at or
    # above the target, then compare it with the accepted width below it
    lo, hi = 0, len(widths) - 1
    while lo < hi:
        mid = accepted_from((lo + hi) // 2, +1)
        if mid is None or mid > hi:
            hi = (lo + hi) // 2
        elif sizing_at(mid).params < target:
            lo = mid + 1
        else:
            hi = mid
    near = {accepted_from(lo, +1), accepted_from(lo - 1, -1)} - {None}
    candidates = [sizing_at(i) for i in near]
    best = min(candidates, key=lambda c: abs(c.rel_diff), default=None)
    if best is None or abs(best.rel_diff) > PARAMS_TOLERANCE:
        closest = (
            "none fits"
            if best is None
            else (f"closest: d_model {best.d_model} with {best.params}, {best.rel_diff:+.1%}")
        )
        raise ValueError(
            f"{mixer} on {spec.name}: no d_model (a multiple of {step}) gives a model within "
            f"{PARAMS_TOLERANCE:.0%} of {REFERENCE_MIXER}'s {target} parameters ({closest}); "
            "change the task's Budget (d_model, n_heads) in tasks/accuracy.py"
        )
    return best


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
    #: the task's settings, plain values (``task_config``)
    task_config: dict | None = None
    #: the trained model's decoding state after seq_len tokens at batch 1, all layers
    #: (``decoding_state_bytes``); None where a mixer does not say
    state_bytes: int | None = None


def default_timer(run: Callable[[], StepsOutcome]) -> StepsOutcome:
    return run()


def train_config(
    budget: Budget,
    *,
    lr: float | None = None,
    seed: int = 0,
    device: str = "cpu",
    autocast: str = "auto",
    progress: bool | None = None,
) -> TrainConfig:
    """The training loop's settings for one run of ``budget`` (``lr`` overrides its rate)."""
    return TrainConfig(
        steps=budget.steps,
        batch_size=budget.batch_size,
        lr=budget.lr if lr is None else lr,
        weight_decay=budget.weight_decay,
        warmup_steps=budget.warmup_steps,
        grad_clip=budget.grad_clip,
        seed=seed,
        device=str(device),
        time_budget_s=budget.time_budget_s,
        autocast=autocast,
        progress=progress,
    )


def decoding_state_bytes(model: nn.Module, seq_len: int, dtype: torch.dtype) -> int | None:
    """Bytes of ``model``'s decoding state after ``seq_len`` tokens at batch 1: the sum
    of ``state_bytes(1, seq_len, dtype)`` over its mixers (as suite/workloads.py's
    model_state_bytes). A two-tower model counts its one encoder, which both
    documents share. None where a mixer does not implement it."""
    try:
        return sum(m.state_bytes(1, seq_len, dtype) for m in model.backbone.mixers)
    except NotImplementedError:
        return None


def run_accuracy(
    mixer: str,
    task: str,
    profile: str,
    *,
    device: str = "cpu",
    data_dir: str | Path | None = None,
    seed: int = 0,
    lr: float | None = None,
    autocast: str = "auto",
    timer: Callable[[Callable[[], StepsOutcome]], StepsOutcome] = default_timer,
    progress: bool | None = None,
) -> AccuracyRun:
    """Train ``mixer`` on ``task`` within ``profile``'s budget and measure accuracy on
    the validation and test splits, the model sized to the attention model's
    parameters (``matched_sizing``).

    ``timer`` calls the training steps (not data generation, model building,
    optimizer set-up or evaluation) and returns their outcome: the suite passes
    ``lambda run: benchmark.pedantic(run, rounds=1, iterations=1)``. ``autocast``
    is TrainConfig's: "auto" (bf16 on CUDA), "bf16" or "off". ``lr`` overrides the
    budget's (the suite trains each of ``budget.lrs`` and chooses on validation).
    ``task`` may be an alias of the profile's (``AccuracyProfile.aliases``); the run
    records the task it stands for. Raises MixerUnavailable and tasks.lra.DataMissing
    for runs that cannot start.
    """
    task = get_profile(profile).resolve(task)
    budget = budget_of(task, profile)
    data = task_data(task, profile, str(data_dir) if data_dir else None, seed)
    seq_len = data.spec.seq_len
    sizing = matched_sizing(mixer, data.spec, budget)
    model_cfg = model_config(mixer, sizing.d_model, budget, family_knobs(mixer, budget, seq_len))
    torch.manual_seed(seed)
    with torch.device(device):
        model = build_model(data.spec, model_cfg)
    train_cfg = train_config(
        budget, lr=lr, seed=seed, device=device, autocast=autocast, progress=progress
    )
    result = train(model, data, train_cfg, timer=timer)
    state_dtype = autocast_dtype(train_cfg) or next(model.parameters()).dtype
    return AccuracyRun(
        mixer,
        task,
        seq_len,
        budget.batch_size,
        model_cfg,
        result,
        target_params=sizing.target_params,
        chance_accuracy=majority_accuracy(data.test),
        lr=train_cfg.lr,
        task_config=task_config(task, profile),
        state_bytes=decoding_state_bytes(model, seq_len, state_dtype),
    )

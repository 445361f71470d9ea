"""MAD's settings (Poli et al., 2024, "Mechanistic Design and Scaling of Hybrid
Architectures", athms/mad-lab) for the four tasks this suite had not: fuzzy
recall, noisy recall, compression and memorization (MAD's in-context recall is
MQAR here, its selective copying tasks.synthetic.selective_copy).

MAD varies a task's difficulty one knob at a time: the baseline, then each
value of each knob under ``changes`` with the others at the baseline (mad/configs.py
``make_benchmark_mad_configs``, lines 157-186). A task's MAD score is the mean over
those settings of the best test accuracy over the learning-rate x weight-decay
grid (mad/analysis.py ``compute_model_mad_scores``, lines 165-201, over the runs
``subset_model_results_to_best_sweep_runs`` keeps, lines 120-160). Every config
below carries its setting in ``difficulty``, in MAD's names: ``"baseline"``,
``"seq_len=256"``, ``"num_train_examples=800"``, ...

Every number below is mad-lab's at ``MAD_COMMIT``; ``source`` names the file and lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..base import TaskData
from .compression import CompressionConfig, make_compression
from .fuzzy_recall import FuzzyRecallConfig, make_fuzzy_recall
from .memorization import MemorizationConfig, make_memorization
from .noisy_recall import NoisyRecallConfig, make_noisy_recall

MAD_REPOSITORY = "athms/mad-lab"
MAD_COMMIT = "0f49a452b84ca0d13f8eb9c1ffa649032376fb1b"

#: MAD's field names -> this suite's config fields; ``num_train_examples`` is the
#: training split's size, an argument of the generators rather than a config field
FIELD_NAMES = {
    "vocab_size": "vocab_size",
    "seq_len": "seq_len",
    "noise_vocab_size": "noise_vocab_size",
    "frac_noise": "frac_noise",
    "k_motif_size": "key_motif_size",
    "v_motif_size": "value_motif_size",
}
TRAIN_SIZE = "num_train_examples"


@dataclass(frozen=True)
class MADTraining:
    """How MAD trains every setting (its defaults, benchmark.py and mad/configs.py)."""

    #: benchmark.py:23 (``--dim``, 128)
    d_model: int = 128
    #: benchmark.py:22: mixer, SwiGLU, mixer, SwiGLU (two of this suite's blocks)
    n_layers: int = 2
    #: mad/configs.py:52
    batch_size: int = 128
    #: mad/configs.py:53
    epochs: int = 200
    #: mad/configs.py:160
    lrs: tuple[float, ...] = (1e-4, 5e-4, 1e-3)
    #: mad/configs.py:161
    weight_decays: tuple[float, ...] = (0.0, 0.1)
    #: mad/configs.py:55, MADConfig's own weight decay (the grid's first); the paper
    #: profile trains every (lr, weight decay) pair and keeps the best on validation
    weight_decay: float = 0.0
    #: mad/configs.py:44
    n_test: int = 1280
    #: mad/configs.py:56-58: AdamW, a cosine schedule down to 1e-6; the schedule
    #: has no warm-up (mad/model/pl_model_wrapper.py:116-121, CosineAnnealingLR) and
    #: the trainer clips no gradient (train.py:217-225 sets no gradient_clip_val)
    optimizer: str = "adamw, cosine to min_lr 1e-6, no warm-up, no clipping"
    source: str = (
        "benchmark.py:22-23, mad/configs.py:44,52-58,160-161, "
        "mad/model/pl_model_wrapper.py:116-121, train.py:217-225"
    )

    def steps(self, n_train: int) -> int:
        """MAD trains ``epochs`` passes over the training split (the last batch
        of a pass may be short)."""
        return self.epochs * math.ceil(n_train / self.batch_size)


MAD_TRAINING = MADTraining()


@dataclass(frozen=True)
class MADTask:
    """One MAD task: this suite's generator and config, mad-lab's baseline and
    its changes (MAD's field names, ``num_train_examples`` among them)."""

    #: the generator's name in this suite (tasks.synthetic.make_<name>)
    name: str
    #: the task's name in mad-lab's registry (mad/registry.py)
    mad_name: str
    config_cls: type
    #: the generator: ``make(n_train, n_test, seed=..., **config fields)``
    make: Callable[..., TaskData]
    baseline: dict[str, Any]
    changes: dict[str, tuple]
    #: the settings file and its lines, under MAD_REPOSITORY at MAD_COMMIT
    source: str


@dataclass(frozen=True)
class MADSetting:
    """One difficulty setting: the config (its ``difficulty`` names the setting)
    and the training split's size."""

    task: str
    config: Any
    n_train: int

    @property
    def difficulty(self) -> str:
        return self.config.difficulty

    @property
    def name(self) -> str:
        """The accuracy task's name, ``mad-<task>-<difficulty>`` with ``=`` as ``-``:
        e.g. ``mad-noisy-recall-frac_noise-0.4``."""
        return f"mad-{self.task.replace('_', '-')}-{self.difficulty.replace('=', '-')}"


MAD_TASKS: dict[str, MADTask] = {
    task.name: task
    for task in (
        MADTask(
            "fuzzy_recall",
            "fuzzy-in-context-recall",
            FuzzyRecallConfig,
            make_fuzzy_recall,
            # multi_query: True (line 5) is how this generator always labels
            baseline=dict(
                vocab_size=16,
                seq_len=128,
                num_train_examples=12800,
                k_motif_size=3,
                v_motif_size=3,
            ),
            changes=dict(
                vocab_size=(32, 64, 128),
                seq_len=(256, 512, 1024),
                num_train_examples=(6400, 3200, 1600, 800),
            ),
            source="configs/tasks/fuzzy-in-context-recall.yml:1-12",
        ),
        MADTask(
            "noisy_recall",
            "noisy-in-context-recall",
            NoisyRecallConfig,
            make_noisy_recall,
            baseline=dict(
                vocab_size=32,
                noise_vocab_size=16,
                seq_len=128,
                num_train_examples=12800,
                frac_noise=0.2,
            ),
            changes=dict(
                # "adding 16 for noise vocab!" (line 10): keys and values as 32, 64, 128
                vocab_size=(48, 80, 144),
                seq_len=(256, 512, 1024),
                num_train_examples=(6400, 3200, 1600, 800),
                frac_noise=(0.4, 0.6, 0.8),
            ),
            source="configs/tasks/noisy-in-context-recall.yml:1-13",
        ),
        MADTask(
            "compression",
            "compression",
            CompressionConfig,
            make_compression,
            baseline=dict(vocab_size=16, seq_len=32, num_train_examples=12800),
            changes=dict(
                vocab_size=(32, 64, 128),
                seq_len=(64, 128, 256),
                num_train_examples=(6400, 3200, 1600, 800),
            ),
            source="configs/tasks/compression.yml:1-9",
        ),
        MADTask(
            "memorization",
            "memorization",
            MemorizationConfig,
            make_memorization,
            baseline=dict(vocab_size=256, seq_len=32, num_train_examples=256),
            changes=dict(vocab_size=(512, 1024, 2048, 4096, 8192)),
            source="configs/tasks/memorization.yml:1-7",
        ),
    )
}


def setting(task: MADTask, fields: dict[str, Any], difficulty: str) -> MADSetting:
    """``fields`` in MAD's names as one of this suite's settings."""
    unknown = set(fields) - set(FIELD_NAMES) - {TRAIN_SIZE}
    if unknown:
        raise ValueError(
            f"MAD field(s) {sorted(unknown)} have no counterpart here; known: "
            f"{', '.join([*FIELD_NAMES, TRAIN_SIZE])}"
        )
    config = {FIELD_NAMES[k]: v for k, v in fields.items() if k != TRAIN_SIZE}
    return MADSetting(
        task.name, task.config_cls(**config, difficulty=difficulty), fields[TRAIN_SIZE]
    )


def mad_settings(name: str) -> list[MADSetting]:
    """Task ``name``'s MAD settings: the baseline, then each change alone."""
    if name not in MAD_TASKS:
        raise ValueError(f"no MAD task {name!r}; known: {', '.join(MAD_TASKS)}")
    task = MAD_TASKS[name]
    settings = [setting(task, task.baseline, "baseline")]
    for key, values in task.changes.items():
        settings += [setting(task, task.baseline | {key: v}, f"{key}={v}") for v in values]
    return settings


def reduced(base: MADSetting, n_train: int, **fields) -> MADSetting:
    """``base`` at smaller sizes (this suite's field names), its difficulty ``reduced``:
    one point a 2-core CPU can train, scored as the task's only setting."""
    return MADSetting(base.task, replace(base.config, difficulty="reduced", **fields), n_train)


#: the default profile's points: MAD's baselines shortened for a 2-core CPU (MAD's
#: vocabularies and noise; its lengths, training sizes and, for memorization, its
#: vocabulary cut so that a point trains in about a hundred steps of 512 tokens).
#: Compression keeps MAD's vocabulary of 16 at length 8: 7 tokens to reconstruct from
#: one vector, which attention, Hyena and Mamba took from chance (0.08) to 0.16-0.23
#: in 50 steps of batch 16 at lr 3e-3 (seed 0, width 64); at length 16 attention
#: reached 0.15 (chance 0.08)
REDUCED_SETTINGS: dict[str, MADSetting] = {
    "noisy_recall": reduced(mad_settings("noisy_recall")[0], n_train=4000, seq_len=32),
    "fuzzy_recall": reduced(mad_settings("fuzzy_recall")[0], n_train=4000, seq_len=32),
    "memorization": reduced(mad_settings("memorization")[0], n_train=256, vocab_size=64),
    "compression": reduced(mad_settings("compression")[0], n_train=4000, seq_len=8),
}

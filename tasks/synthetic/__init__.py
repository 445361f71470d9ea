"""Synthetic recall tasks: multi-query associative recall, selective copying,
induction heads, and MAD's fuzzy recall, noisy recall, compression and
memorization. Each returns ``TaskData`` (targets are ``IGNORE_INDEX`` where
nothing is predicted), deterministic under its seed; ``extrapolation_splits``
adds test splits at longer lengths to induction and MQAR."""

from .compression import CompressionConfig, make_compression
from .extrapolation import ExtrapolationData, extrapolation_splits
from .fuzzy_recall import FuzzyRecallConfig, make_fuzzy_recall
from .induction import InductionConfig, make_induction
from .mad import MAD_TASKS, MAD_TRAINING, REDUCED_SETTINGS, MADSetting, mad_settings
from .memorization import MemorizationConfig, make_memorization
from .mqar import MQARConfig, make_mqar
from .noisy_recall import NoisyRecallConfig, make_noisy_recall
from .selective_copy import SelectiveCopyConfig, make_selective_copy

__all__ = [
    "MAD_TASKS",
    "MAD_TRAINING",
    "REDUCED_SETTINGS",
    "CompressionConfig",
    "ExtrapolationData",
    "FuzzyRecallConfig",
    "InductionConfig",
    "MADSetting",
    "MQARConfig",
    "MemorizationConfig",
    "NoisyRecallConfig",
    "SelectiveCopyConfig",
    "extrapolation_splits",
    "mad_settings",
    "make_compression",
    "make_fuzzy_recall",
    "make_induction",
    "make_memorization",
    "make_mqar",
    "make_noisy_recall",
    "make_selective_copy",
]

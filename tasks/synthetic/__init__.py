"""Synthetic recall tasks: multi-query associative recall, selective copying,
induction heads. Each returns ``TaskData`` of kind ``per_token`` (targets are
``IGNORE_INDEX`` where nothing is predicted), deterministic under its seed."""

from .induction import InductionConfig, make_induction
from .mqar import MQARConfig, make_mqar
from .selective_copy import SelectiveCopyConfig, make_selective_copy

__all__ = [
    "InductionConfig",
    "MQARConfig",
    "SelectiveCopyConfig",
    "make_induction",
    "make_mqar",
    "make_selective_copy",
]

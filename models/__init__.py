"""Sequence mixers and the shared backbone."""

from .base import Mixer
from .registry import (
    MixerUnavailable,
    build_mixer,
    get_spec,
    list_mixers,
    reference_of,
    register_mixer,
)

__all__ = [
    "Mixer",
    "MixerUnavailable",
    "build_mixer",
    "get_spec",
    "list_mixers",
    "reference_of",
    "register_mixer",
]

"""Sequence mixers and the shared backbone."""

from .base import Mixer
from .registry import (
    MixerUnavailable,
    PluginError,
    build_mixer,
    get_spec,
    list_mixers,
    mixer_config,
    mixer_options_for,
    parse_mixer_options,
    reference_of,
    register_mixer,
    reload_plugins,
)

__all__ = [
    "Mixer",
    "MixerUnavailable",
    "PluginError",
    "build_mixer",
    "get_spec",
    "list_mixers",
    "mixer_config",
    "mixer_options_for",
    "parse_mixer_options",
    "reference_of",
    "register_mixer",
    "reload_plugins",
]

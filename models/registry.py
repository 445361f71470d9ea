"""The mixer registry: ``family/variant`` names to mixer classes.

Mixers register with ``@register_mixer``; third-party mixers are found through
the ``mixbench.mixers`` entry-point group and the ``MIXBENCH_PLUGINS``
environment variable (comma-separated module paths), imported on first use.
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from importlib.metadata import entry_points

from .base import Mixer

ENTRY_POINT_GROUP = "mixbench.mixers"
PLUGINS_ENV = "MIXBENCH_PLUGINS"
BUILTIN_MODULES = ("models.retnet", "models.attention", "models.hyena", "models.mamba")


class MixerUnavailable(RuntimeError):
    """A registered variant that cannot run here (missing package, needs CUDA)."""


@dataclass(frozen=True)
class MixerSpec:
    name: str
    cls: type[Mixer]
    #: the variant the family's other variants are checked against
    reference: bool = False

    @property
    def family(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def variant(self) -> str:
        return self.name.split("/", 1)[1]

    def unavailable_reason(self) -> str | None:
        return self.cls.unavailable_reason()


_REGISTRY: dict[str, MixerSpec] = {}
_loaded_sources: set[str] = set()


def register_mixer(name: str, *, reference: bool = False):
    """Class decorator: ``@register_mixer("family/variant")``."""
    family, sep, variant = name.partition("/")
    if not sep or not family or not variant or "/" in variant:
        raise ValueError(f"mixer name must be 'family/variant', got {name!r}")

    def decorate(cls: type[Mixer]) -> type[Mixer]:
        if not (isinstance(cls, type) and issubclass(cls, Mixer)):
            raise TypeError(f"{name}: registered mixers must subclass models.base.Mixer")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"mixer {name!r} is already registered by {existing.cls!r}")
        cls.family, cls.variant = family, variant
        _REGISTRY[name] = MixerSpec(name, cls, reference)
        return cls

    return decorate


def _import_once(module: str) -> None:
    if module not in _loaded_sources:
        _loaded_sources.add(module)
        importlib.import_module(module)


def load_plugins() -> None:
    """Import the built-in mixers, entry-point plugins and ``MIXBENCH_PLUGINS``."""
    for module in BUILTIN_MODULES:
        _import_once(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        key = f"entry-point:{ep.value}"
        if key not in _loaded_sources:
            _loaded_sources.add(key)
            ep.load()
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            _import_once(module)
        except ImportError as err:
            _loaded_sources.discard(module)
            raise ImportError(
                f"{PLUGINS_ENV} names module {module!r}, which cannot be imported ({err}); "
                "put its folder on PYTHONPATH or fix the name"
            ) from err


def list_mixers() -> list[MixerSpec]:
    load_plugins()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_spec(name: str) -> MixerSpec:
    load_plugins()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ValueError(
            f"unknown mixer {name!r}; {hint}known mixers: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def reference_of(family: str) -> MixerSpec:
    """The family's reference variant (the plain implementation others must match)."""
    specs = [s for s in list_mixers() if s.family == family]
    if not specs:
        raise ValueError(f"unknown mixer family {family!r}")
    refs = [s for s in specs if s.reference]
    return refs[0] if refs else specs[0]


def build_mixer(name: str, d_model: int, **config) -> Mixer:
    """Build a mixer by its ``family/variant`` name, e.g.
    ``build_mixer("retnet/chunkwise", 512, n_heads=4, chunk_size=64)``."""
    spec = get_spec(name)
    reason = spec.unavailable_reason()
    if reason is not None:
        raise MixerUnavailable(f"{name} is unavailable: {reason}")
    return spec.cls(d_model=d_model, **config)

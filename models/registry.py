"""The mixer registry: ``family/variant`` names to mixer classes.

Mixers register with ``@register_mixer``; third-party mixers are found through
the ``mixbench.mixers`` entry-point group and the ``MIXBENCH_PLUGINS``
environment variable (comma-separated module paths).

Plugins load on first use and stay loaded: ``list_mixers``/``get_spec`` scan
the entry points and import the plugin modules again only when
``MIXBENCH_PLUGINS`` changed or a source failed the last time (a failed
source is retried, so its error is raised again until it is fixed);
``reload_plugins`` forces a scan, e.g. after ``sys.path`` changed. A plugin
that cannot be imported, or whose name is taken by another class, raises
``PluginError`` naming the source and the fix.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import torch

from .base import REQUIRED, Mixer, check_positive

ENTRY_POINT_GROUP = "mixbench.mixers"
PLUGINS_ENV = "MIXBENCH_PLUGINS"
BUILTIN_MODULES = (
    "models.retnet",
    "models.attention",
    "models.hyena",
    "models.mamba",
    "models.mamba2",
    "models.mamba2_fla",
    "models.retnet_fla",
)


class MixerUnavailable(RuntimeError):
    """A registered variant that cannot run here (missing package, needs CUDA)."""


class PluginError(ValueError):
    """A plugin mixer that cannot be loaded or registered: a ``MIXBENCH_PLUGINS``
    module that is missing or fails at import, an entry point that fails at
    import, or a name already taken by another class. The message is one line
    that names the source and the fix; ``source`` names the source alone."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


def class_path(cls: type) -> str:
    """``package.module:QualName``, which tells two classes of one name apart."""
    return f"{cls.__module__}:{cls.__qualname__}"


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

    @property
    def class_path(self) -> str:
        """The registered class as ``package.module:QualName``."""
        return class_path(self.cls)

    def unavailable_reason(
        self, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> str | None:
        """Why the variant cannot run on this machine, or, given a run's device
        and dtype, in that run; None when it can."""
        reason = self.cls.unavailable_reason()
        if reason is None and device is not None and dtype is not None:
            return self.cls.run_problem(device, dtype)
        return reason


_REGISTRY: dict[str, MixerSpec] = {}
#: plugin sources imported without error: MIXBENCH_PLUGINS module names and
#: ``entry-point:<name>=<value>`` keys; never imported twice
_loaded_sources: set[str] = set()
#: MIXBENCH_PLUGINS as it was at the last scan in which every source loaded;
#: None until then, and again after a failure, so the next call scans again
_scanned_env: str | None = None
_builtins_loaded = False


#: a family or a variant: what --mixers patterns, test ids and file names take as is
NAME_PART = re.compile(r"[a-z0-9][a-z0-9_.-]{0,47}", re.IGNORECASE)


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a mixer (None when it can): two parts, family and
    variant, each letters, digits, '.', '_' or '-' (a comma, a glob character, a
    space or a tag in a name would break --mixers, test ids and reports)."""
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) != 2 or not all(NAME_PART.fullmatch(part) for part in parts):
        return (
            f"mixer name must be 'family/variant', each part 1-48 letters, digits, '.', '_' "
            f"or '-' starting with a letter or digit (e.g. 'mine/fast'), got {name!r}"
        )
    return None


def register_mixer(name: str, *, reference: bool = False):
    """Class decorator: ``@register_mixer("family/variant")``.

    A name already registered by another class (compared by module and
    qualified name) raises ``PluginError``; the same class registered again,
    e.g. after ``importlib.reload`` of its module, replaces the old entry."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    family, variant = name.split("/")

    def decorate(cls: type[Mixer]) -> type[Mixer]:
        if not (isinstance(cls, type) and issubclass(cls, Mixer)):
            raise TypeError(f"{name}: registered mixers must subclass models.base.Mixer")
        # the listing and every run build a variant from its defaults and what they set
        undefaulted = [knob for knob, default in cls.knobs().items() if default is REQUIRED]
        if undefaulted:
            raise TypeError(
                f"{name}: every knob needs a default, {', '.join(undefaulted)} has none; "
                "give it one in the constructor"
            )
        if cls.__module__ not in BUILTIN_MODULES:
            # the built-ins register first, so a clash always names the plugin
            _import_builtins()
        existing = _REGISTRY.get(name)
        if existing is not None and existing.class_path != class_path(cls):
            raise PluginError(
                f"mixer name {name!r} is already registered by {existing.class_path}, so "
                f"{class_path(cls)} cannot take it; register it under a family/variant "
                "name of its own",
                source=cls.__module__,
            )
        cls.family, cls.variant = family, variant
        _REGISTRY[name] = MixerSpec(name, cls, reference)
        return cls

    return decorate


def _import_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_missing(err: BaseException, module: str) -> bool:
    """Whether ``err`` says that ``module`` itself (or a package above it) does
    not exist, as opposed to a module it imports."""
    missing = getattr(err, "name", None)
    return (
        isinstance(err, ModuleNotFoundError)
        and bool(missing)
        and (module == missing or module.startswith(missing + "."))
    )


def _where(err: BaseException) -> str:
    """`` (file:line)`` of the innermost frame outside importlib, or nothing."""
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith("<frozen")
    ]
    return f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _plugin_failure(source: str, module: str, err: Exception, fix: str, fix_missing: str):
    """One line that says which source failed, how, and how to fix it."""
    if isinstance(err, PluginError):
        message = f"{source}: {err}"
    elif _is_missing(err, module):
        message = f"{source} cannot be imported: there is no module {module!r}; {fix_missing}"
    else:
        message = (
            f"{source} raised {type(err).__name__} at import{_where(err)}: "
            f"{_one_line(str(err)) or '(no message)'}; {fix}"
        )
    return PluginError(message, source=source)


@dataclass(frozen=True)
class _Source:
    """One plugin source: how to import it and what to tell its user."""

    key: str  # in _loaded_sources once it imported
    module: str
    load: Callable[[], object]
    description: str
    fix: str
    fix_missing: str

    def load_once(self) -> PluginError | None:
        """Import unless it loaded before; the PluginError if it fails."""
        if self.key in _loaded_sources:
            return None
        try:
            self.load()
        except Exception as err:  # whatever a plugin raises at import is the plugin's error
            failure = _plugin_failure(
                self.description, self.module, err, self.fix, self.fix_missing
            )
            failure.__cause__ = err
            return failure
        _loaded_sources.add(self.key)
        return None


def _entry_point_source(ep: EntryPoint) -> _Source:
    dist_name = getattr(getattr(ep, "dist", None), "name", None)
    owner = f" of distribution {dist_name!r}" if dist_name else ""
    uninstall = f"pip uninstall {dist_name}" if dist_name else "uninstall its distribution"
    return _Source(
        key=f"entry-point:{ep.name}={ep.value}",
        module=ep.module,
        load=ep.load,
        description=f"entry point {ep.name!r} ({ep.value}){owner} in group {ENTRY_POINT_GROUP!r}",
        fix=f"fix the plugin or uninstall it ({uninstall})",
        fix_missing=f"reinstall the plugin or uninstall it ({uninstall})",
    )


def _env_source(module: str, env: str) -> _Source:
    return _Source(
        key=module,
        module=module,
        load=lambda: importlib.import_module(module),
        description=f"module {module!r} named in {PLUGINS_ENV}={env!r}",
        fix=f"fix the module or take it out of {PLUGINS_ENV}",
        fix_missing=(
            f"put its folder on PYTHONPATH (or install its package) or fix the name in "
            f"{PLUGINS_ENV}"
        ),
    )


def plugin_modules() -> list[str]:
    """The module paths ``MIXBENCH_PLUGINS`` names, in order."""
    return [m for m in (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",")) if m]


def load_plugins() -> None:
    """Import the built-in mixers, entry-point plugins and ``MIXBENCH_PLUGINS``.

    A no-op after a clean scan while ``MIXBENCH_PLUGINS`` stays the same.
    Every source is tried; sources that failed raise one ``PluginError``
    together and are tried again on the next call."""
    global _scanned_env
    _import_builtins()
    env = os.environ.get(PLUGINS_ENV, "")
    if env == _scanned_env:
        return
    _scanned_env = None
    sources = [_entry_point_source(ep) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    sources += [_env_source(module, env) for module in plugin_modules()]
    failures = [f for f in (source.load_once() for source in sources) if f is not None]
    if failures:
        error = PluginError("; and ".join(map(str, failures)), source=failures[0].source)
        raise error from failures[0].__cause__
    _scanned_env = env


def reload_plugins() -> None:
    """Scan the entry points and ``MIXBENCH_PLUGINS`` again now (after
    ``sys.path`` or the installed distributions changed); sources that loaded
    before are not imported again."""
    global _scanned_env
    _scanned_env = None
    load_plugins()


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
    if reason is None:
        return spec.cls(d_model=d_model, **config)
    raise MixerUnavailable(f"{name} is unavailable: {reason}")


# -- knobs ----------------------------------------------------------------------
MIXER_OPTION_USAGE = (
    "PATTERN:knob=value[,knob=value], e.g. mamba/scan:d_state=32,expand=4 or retnet:n_heads=8"
)
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_mixer_options(texts: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["mamba*/*:d_state=32,expand=4", "retnet:n_heads=8"]`` ->
    ``{"mamba*/*": {"d_state": "32", "expand": "4"}, "retnet": {"n_heads": "8"}}``;
    a later setting of one pattern's knob wins. PATTERN is a mixer name, a
    family, or a glob of names (``mixer_options_for`` matches them)."""
    parsed: dict[str, dict[str, str]] = {}
    for text in texts:
        pattern, sep, settings = text.partition(":")
        pairs = [pair.partition("=") for pair in settings.split(",")]
        if not (sep and pattern.strip() and all(k.strip() and eq for k, eq, _ in pairs)):
            raise ValueError(f"{text!r} is not {MIXER_OPTION_USAGE}")
        knobs = parsed.setdefault(pattern.strip(), {})
        knobs.update({knob.strip(): value.strip() for knob, _, value in pairs})
    return parsed


def pattern_matches(pattern: str, name: str) -> bool:
    """A mixer name, its family, or a glob of family/variant names."""
    return pattern == name.partition("/")[0] or fnmatch.fnmatchcase(name, pattern)


def mixer_options_for(name: str, by_pattern: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The knobs set for ``name`` by every pattern that matches it, later
    patterns over earlier ones."""
    options: dict[str, Any] = {}
    for pattern, knobs in by_pattern.items():
        if pattern_matches(pattern, name):
            options.update(knobs)
    return options


def knob_value(value: Any, default: Any) -> Any:
    """A knob's value in its default's type where the default is a bool, int or
    float and the value is text (from a command line); other text that reads
    as a number becomes that number (a default of None or "auto")."""
    if not isinstance(value, str):
        return value
    if isinstance(default, bool):
        if value.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise ValueError(f"{value!r} is not true or false")
        return value.lower() in TRUE_WORDS
    if isinstance(default, int | float):
        return type(default)(value)
    for number in (int, float):
        try:
            return number(value)
        except ValueError:
            pass
    return value


def described_knobs(knobs: Mapping[str, Any]) -> str:
    """``d_state=16, d_conv=4, ...``"""
    return ", ".join(f"{name}={default!r}" for name, default in knobs.items())


def mixer_config(
    name: str, d_model: int, offered: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments that build ``name`` at ``d_model`` (after it):
    the ``offered`` shared values of a run (n_heads, chunk_size, l_max ...)
    that its constructor names, and over them the user's ``options`` for this
    mixer, each of which must be one of its knobs (else ValueError naming the
    knob, the mixer and its knobs), converted to its default's type."""
    check_positive("d_model", d_model)
    spec = get_spec(name)
    knobs = spec.cls.knobs()
    config = spec.cls.knobs_from(**offered)
    for knob, value in options.items():
        if knob not in knobs:
            close = difflib.get_close_matches(knob, knobs, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(
                f"{name} has no knob {knob!r}{hint}; its knobs: {', '.join(knobs) or 'none'}"
            )
        try:
            config[knob] = knob_value(value, knobs[knob])
        except ValueError:
            kind = type(knobs[knob]).__name__
            raise ValueError(f"{name}'s knob {knob} must be {kind}, got {value!r}") from None
    return config

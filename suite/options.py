"""The command-line options of the benchmark suite, declared once in
``OPTIONS``: the pytest flags, their parsing, their defaults from the
profile (suite/profiles.py) and the JSON summary of a run's options all come
from that one table. ``get_options(config)`` resolves them once per pytest run
into the ``RunOptions`` every benchmark file reads:

    options = get_options(metafunc.config)
    for name in options.mixers: ...

Every bad value is a ``pytest.UsageError`` that names the flag and what would
be right, never a traceback.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from models.registry import (
    MIXER_OPTION_USAGE,
    get_spec,
    list_mixers,
    mixer_config,
    mixer_options_for,
    parse_mixer_options,
    pattern_matches,
)
from schema import AXES, DEFAULT_AXIS, SPEED_WORKLOADS, Workload

from .grid import ray_address_problem
from .profiles import AXIS_FLAGS, PROFILES, Profile

DEVICES = ("auto", "cpu", "cuda")
#: --workers beyond this many per core (or GPU) only queue and thrash
MAX_WORKERS_PER_CORE = 4
#: --warmup-s on CUDA when not given: Triton kernels compile and autotune on their first calls
CUDA_WARMUP_S = 1.0
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "float64": torch.float64,
    "fp64": torch.float64,
}


class OptionError(ValueError):
    """A value that cannot be used; the message says what would be right."""


@dataclass(frozen=True)
class Context:
    """What parsing a value may depend on besides its text."""

    profile: Profile
    known_mixers: Sequence[str]
    cuda_available: bool


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    #: the given text (a list of texts where ``repeated``) -> its value; raises OptionError
    parse: Callable[[Any, Context], Any]
    #: the value when the flag is not given
    default: Callable[[Context], Any]
    #: the flag may be given more than once
    repeated: bool = False
    #: the flag takes no value: given, its text is "on"
    switch: bool = False

    @property
    def dest(self) -> str:
        return dest_of(self.flag)


def dest_of(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


# -- parsers ----------------------------------------------------------------------------
def positive_int(text: str, context: Context | None = None) -> int:
    value = scaled_int(text)
    if value <= 0:
        raise OptionError(f"must be a positive integer, got {text!r}")
    return value


def scaled_int(text: str) -> int:
    """'4096' or '4k' (x1024); ASCII digits only ('²' is a digit to str.isdigit)."""
    match = re.fullmatch(r"\s*([0-9]+)([kK]?)\s*", text)
    if not match:
        raise OptionError(f"{text!r} is not a whole number such as 512 or 4k")
    return int(match.group(1)) * (1024 if match.group(2) else 1)


def int_list(text: str, context: Context | None = None) -> tuple[int, ...]:
    """'512,1k,4K' -> (512, 1024, 4096), sorted ascending so that each point can be
    predicted from the smaller ones measured before it."""
    items = [part for part in (p.strip() for p in text.split(",")) if part]
    if not items:
        raise OptionError("is empty; give comma-separated values such as '512,1k,4k'")
    return tuple(sorted({positive_int(item) for item in items}))


def positive_float(text: str, context: Context | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{text!r} is not a number of seconds such as 15 or 2.5") from None
    if not value > 0 or value == float("inf"):
        raise OptionError(f"must be a positive number of seconds, got {text!r}")
    return value


def seconds_or_zero(text: str, context: Context | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{text!r} is not a number of seconds such as 0, 1 or 2.5") from None
    if not 0 <= value < float("inf"):
        raise OptionError(f"must be 0 or a positive number of seconds, got {text!r}")
    return value


def switched_on(text: str, context: Context | None = None) -> bool:
    return text == "on"


def thread_count(text: str, context: Context | None = None) -> int:
    value = scaled_int(text)
    if value < 0:
        raise OptionError(f"must be 0 (torch's default) or positive, got {text!r}")
    return value


def one_of(choices: Sequence[str]) -> Callable[[str, Context], str]:
    def parse(text: str, context: Context | None = None) -> str:
        if text not in choices:
            raise OptionError(f"unknown value {text!r}; choose one of {', '.join(choices)}")
        return text

    return parse


def device(text: str, context: Context) -> torch.device:
    one_of(DEVICES)(text)
    if text == "cuda" and not context.cuda_available:
        profile = context.profile
        hint = " (it is meant for a GPU)" if profile.needs_cuda else ""
        raise OptionError(
            f"cuda (profile {profile.name}{hint}) but torch sees no CUDA device; run on a GPU "
            "machine, or pass --device cpu (or a CPU profile: smoke, default)"
        )
    if text == "auto":
        return torch.device("cuda" if context.cuda_available else "cpu")
    return torch.device(text)


def dtype(text: str, context: Context | None = None) -> torch.dtype:
    return DTYPES[one_of(tuple(DTYPES))(text)]


def mixer_globs(text: str, context: Context) -> list[str]:
    """Registered names matching any comma-separated glob, in registry order;
    a pattern that matches nothing is an error naming the valid names."""
    known = context.known_mixers
    selected: list[str] = []
    for pattern in filter(None, (p.strip() for p in text.split(","))):
        matches = fnmatch.filter(known, pattern)
        if not matches:
            raise OptionError(
                f"pattern {pattern!r} matches no registered mixer; registered: {', '.join(known)}"
            )
        selected += [name for name in matches if name not in selected]
    if not selected:
        raise OptionError(f"is empty; registered: {', '.join(known)}")
    return [name for name in known if name in selected]


def mixer_options(texts: Sequence[str], context: Context) -> dict[str, dict[str, Any]]:
    """The profile's mixer options, then the command line's ``PATTERN:knob=value``
    over them; a pattern that matches no registered mixer is an error (a typo).
    Whether each knob is one of its mixers' is checked once the run is resolved
    (``check_mixers_fit``)."""
    try:
        given = parse_mixer_options(texts)
    except ValueError as error:
        raise OptionError(str(error)) from None
    for pattern in given:
        if not any(pattern_matches(pattern, name) for name in context.known_mixers):
            raise OptionError(
                f"pattern {pattern!r} matches no registered mixer (nor family); "
                f"registered: {', '.join(context.known_mixers)}"
            )
    merged = {pattern: dict(knobs) for pattern, knobs in context.profile.mixer_options.items()}
    for pattern, knobs in given.items():
        merged.setdefault(pattern, {}).update(knobs)
    return merged


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard(text: str, context: Context | None = None) -> Shard:
    match = re.fullmatch(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise OptionError(f"{text!r} is not K/N with 1 <= K <= N, e.g. 1/4")
    return Shard(int(match.group(1)), int(match.group(2)))


def workers(text: str, context: Context | None = None) -> int:
    """A positive number up to MAX_WORKERS_PER_CORE per core (or GPU), or auto:
    one per GPU where there are GPUs, else one per core."""
    if text == "auto":
        return torch.cuda.device_count() or os.cpu_count() or 1
    if not re.fullmatch(r"\s*[0-9]+\s*", text):
        raise OptionError(f"{text!r} is not a whole number of workers such as 4, or auto")
    most = MAX_WORKERS_PER_CORE * max(os.cpu_count() or 1, torch.cuda.device_count())
    if positive_int(text) > most:
        raise OptionError(f"is more than {most} ({MAX_WORKERS_PER_CORE} per core); give auto")
    return positive_int(text)


def ray_address(text: str, context: Context | None = None) -> str:
    if not text.strip():
        raise OptionError("is empty; give the cluster's address, e.g. head:6379 or auto")
    problem = ray_address_problem(text.strip())
    if problem is not None:
        raise OptionError(problem)
    return text.strip()


def group_name(text: str, context: Context | None = None) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text):
        raise OptionError(f"{text!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return text


def data_folder(text: str, context: Context | None = None) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise OptionError(
            f"{text!r} is not a folder; give the folder that holds lra_release/ "
            "(or leave it out to use $MIXBENCH_DATA)"
        )
    return path


def accuracy_seeds(profile: str) -> int:
    from tasks.catalog import get_profile

    return get_profile(profile).seeds


def data_dir_from_env(context: Context) -> Path | None:
    from tasks.lra import data_dir_from_env

    return data_dir_from_env()


# -- the table --------------------------------------------------------------------------
def axis_options() -> list[Option]:
    """Per axis of schema.AXES: its swept values and its fixed value."""
    made = []
    for name, flags in AXIS_FLAGS.items():
        label = AXES[name].label

        def swept(context: Context, name: str = name) -> tuple[int, ...]:
            return context.profile.sweeps[name]

        def fixed(context: Context, name: str = name) -> int:
            return context.profile.fixed[name]

        made.append(
            Option(
                flags.values,
                f"comma-separated {label} values when --sweep {name} (a k suffix multiplies "
                "by 1024: 4k=4096); default: the profile's",
                int_list,
                swept,
            )
        )
        made.append(
            Option(
                flags.fixed,
                f"{label} when another axis is swept; default: the profile's",
                positive_int,
                fixed,
            )
        )
    return made


OPTIONS: tuple[Option, ...] = (
    Option(
        "--profile",
        f"sizes, lengths and steps of the run: {', '.join(PROFILES)} (default: default)",
        one_of(tuple(PROFILES)),
        lambda context: context.profile.name,
    ),
    Option(
        "--device",
        f"{', '.join(DEVICES)} (default: the profile's)",
        device,
        lambda context: device(context.profile.device, context),
    ),
    Option(
        "--dtype",
        f"{', '.join(DTYPES)} (default: the profile's)",
        dtype,
        lambda context: dtype(context.profile.dtype),
    ),
    Option(
        "--mixers",
        "comma-separated globs of family/variant names, e.g. 'retnet/*,attention/sdpa'",
        mixer_globs,
        lambda context: list(context.known_mixers),
    ),
    Option(
        "--mixer-option",
        f"a mixer's knob, {MIXER_OPTION_USAGE}; PATTERN is a mixer, a family or a glob; "
        "repeatable; over the profile's (python -m models list shows every knob)",
        mixer_options,
        lambda context: mixer_options([], context),
        repeated=True,
    ),
    Option(
        "--sweep",
        f"the axis speed points sweep: {', '.join(AXES)} (default: {DEFAULT_AXIS}); the other "
        "axes stay at their fixed value",
        one_of(tuple(AXES)),
        lambda context: DEFAULT_AXIS,
    ),
    *axis_options(),
    Option(
        "--time-budget-s",
        "wall-clock seconds one benchmark point may take (default: the profile's)",
        positive_float,
        lambda context: context.profile.time_budget_s,
    ),
    Option(
        "--warmup-s",
        "seconds of untimed calls before a point's timed rounds, so that compilation and "
        f"autotuning are never timed (default: {CUDA_WARMUP_S:g} on CUDA, 0 on a CPU)",
        seconds_or_zero,
        lambda context: None,
    ),
    Option(
        "--flush-l2",
        "CUDA: write a buffer larger than the L2 cache before each timed call, so that no "
        "call reads its inputs from the last one's cache",
        switched_on,
        lambda context: False,
        switch=True,
    ),
    Option(
        "--cuda-graphs",
        "CUDA: capture one decode step in a CUDA graph and replay it for every token (a "
        "variant that cannot be captured is timed uncaptured, the reason saved)",
        switched_on,
        lambda context: False,
        switch=True,
    ),
    Option(
        "--threads",
        "torch intra-op threads, 0 for torch's default (default: the profile's)",
        thread_count,
        lambda context: context.profile.threads,
    ),
    Option(
        "--seeds",
        "training seeds per accuracy point: the learning rate is chosen on seed 0's validation "
        "accuracy, then every seed trains at it (default: the profile's)",
        positive_int,
        lambda context: accuracy_seeds(context.profile.name),
    ),
    Option(
        "--workers",
        "run the accuracy grid as Ray tasks on N workers (auto: one per core, or per GPU); "
        "needs pip install 'mixbench[ray]' (default: in this process, Ray never imported)",
        workers,
        lambda context: None,
    ),
    Option(
        "--ray-address",
        "an existing Ray cluster for --workers (default: a local cluster the suite starts)",
        ray_address,
        lambda context: None,
    ),
    Option(
        "--shard",
        "K/N: run the K-th of N deterministic shares of the points, balanced by predicted "
        "cost (suite/shard.py); python -m reports merges the N autosaves of one shard group",
        shard,
        lambda context: None,
    ),
    Option(
        "--shard-group",
        "the id every shard of one run shares (default: a hash of the options and the commit)",
        group_name,
        lambda context: None,
    ),
    Option(
        "--data-dir",
        "folder with the LRA release, IMDB and CIFAR-10 for accuracy runs "
        "(default: $MIXBENCH_DATA; python -m tasks check tells what is found)",
        data_folder,
        data_dir_from_env,
    ),
)
OPTIONS_BY_DEST = {option.dest: option for option in OPTIONS}
#: what the mode-against-mode speed files (suite/test_<family>_speed.py) follow
MODE_SPEED_NOTE = (
    "The mode-speed files (suite/test_{retnet,mamba,hyena}_speed.py) follow --mixers, "
    "--lengths and --device, and keep their profile's width and batch."
)


@dataclass(frozen=True)
class RunOptions:
    """The profile with the command line's overrides applied."""

    profile: Profile
    #: every option's resolved value, by its dest (``OPTIONS``)
    values: Mapping[str, Any]
    #: the dests given on the command line (the rest come from the profile)
    given: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        # the options by name: options.device, options.mixers, options.sweep ...
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def n_layers(self) -> int:
        return self.profile.n_layers

    def swept(self, axis: str) -> tuple[int, ...]:
        return self.values[dest_of(AXIS_FLAGS[axis].values)]

    def fixed(self, axis: str) -> int:
        return self.values[dest_of(AXIS_FLAGS[axis].fixed)]

    def axis_values(self, workload: str) -> list[dict[str, int]]:
        """The shape of every point of a workload's sweep: each axis's value,
        the swept one ascending."""
        shape = {axis: self.fixed(axis) for axis in AXES}
        if self.sweep == "length" and workload == Workload.DECODE:
            values = self.decode_lengths
        else:
            values = self.swept(self.sweep)
        return [{**shape, self.sweep: value} for value in values]

    def d_models(self) -> tuple[int, ...]:
        return self.swept("d_model") if self.sweep == "d_model" else (self.fixed("d_model"),)

    def offered_knobs(self) -> dict[str, int]:
        """The run's shared values, which each mixer takes where its constructor
        names them: heads, chunk size and l_max (Hyena's filter, at least the
        longest sequence of the run)."""
        profile = self.profile
        return {"n_heads": profile.n_heads, "chunk_size": profile.chunk_size, "l_max": self.max_len}

    def mixer_config(
        self, name: str, d_model: int, offered: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What ``name`` is built with in this run: the ``offered`` shared values
        (default: ``offered_knobs``) it names, and its --mixer-option knobs over them."""
        offered = self.offered_knobs() if offered is None else offered
        return mixer_config(name, d_model, offered, self.knobs_set_for(name))

    def knobs_set_for(self, name: str) -> dict[str, Any]:
        """The knobs --mixer-option and the profile set for ``name``."""
        return mixer_options_for(name, self.mixer_option)

    @property
    def warmup_seconds(self) -> float:
        """--warmup-s, else CUDA_WARMUP_S on CUDA and none on a CPU (where a
        point's first untimed call warms it up)."""
        if self.warmup_s is not None:
            return self.warmup_s
        return CUDA_WARMUP_S if self.device.type == "cuda" else 0.0

    @property
    def max_len(self) -> int:
        """The longest sequence any point or the reference check feeds a mixer
        (decode goes past its context)."""
        lengths = [shape["length"] for w in SPEED_WORKLOADS for shape in self.axis_values(w)]
        return max(max(lengths) + self.profile.decode_tokens, self.profile.check_len)

    def summary(self) -> dict[str, Any]:
        """The resolved options as JSON for the saved run (schema.OPTIONS_KEY)."""
        summary = {dest: jsonable(value) for dest, value in self.values.items()}
        summary.update(
            decode_tokens=self.profile.decode_tokens,
            n_layers=self.profile.n_layers,
            torch_threads=torch.get_num_threads(),
        )
        return summary


def jsonable(value: Any) -> Any:
    if isinstance(value, torch.device):
        return value.type
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, Path | Shard):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mixbench", "mixbench benchmark suite. " + MODE_SPEED_NOTE)
    for option in OPTIONS:
        group.addoption(
            option.flag,
            dest=f"mixbench_{option.dest}",
            default=None,
            help=option.help,
            **switch_or_value(option),
        )


def switch_or_value(option: Option) -> dict[str, Any]:
    """argparse's action for the option: a switch stores "on", else its text."""
    if option.switch:
        return {"action": "store_const", "const": "on"}
    return {"action": "append" if option.repeated else "store"}


def raw_options(config: pytest.Config) -> dict[str, str | list[str] | None]:
    return {option.dest: config.getoption(f"mixbench_{option.dest}") for option in OPTIONS}


_OPTIONS_KEY = pytest.StashKey[RunOptions]()


def get_options(config: pytest.Config) -> RunOptions:
    """The run's options, resolved once per pytest run."""
    if _OPTIONS_KEY not in config.stash:
        config.stash[_OPTIONS_KEY] = resolve_options(
            raw_options(config), registered_mixers(), cuda_available=torch.cuda.is_available()
        )
    return config.stash[_OPTIONS_KEY]


def registered_mixers() -> list[str]:
    """The registry's names; a broken plugin is a usage error naming it."""
    try:
        return [spec.name for spec in list_mixers()]
    except (ImportError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None


def resolve_options(
    raw: Mapping[str, str | Sequence[str] | None], known_mixers: Sequence[str], cuda_available: bool
) -> RunOptions:
    unknown = set(raw) - set(OPTIONS_BY_DEST)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; known: {sorted(OPTIONS_BY_DEST)}")
    profile_name = raw.get("profile") or "default"
    context = Context(PROFILES.get(profile_name, PROFILES["default"]), known_mixers, cuda_available)
    values = {}
    for option in OPTIONS:
        text = raw.get(option.dest)
        try:
            values[option.dest] = (
                option.default(context) if text is None else option.parse(text, context)
            )
        except OptionError as error:
            shown = "" if text is None or option.repeated else f" {text!r}"
            raise pytest.UsageError(f"{option.flag}{shown}: {error}") from None
    given = frozenset(dest for dest, text in raw.items() if text is not None)
    check_axis_flags(values["sweep"], given)
    # --lengths replaces the decode contexts too
    lengths_given = dest_of(AXIS_FLAGS["length"].values) in given
    values["decode_lengths"] = (
        values["lengths"] if lengths_given else context.profile.decode_lengths
    )
    options = RunOptions(context.profile, values, given)
    check_mixers_fit(options)
    return options


def check_axis_flags(sweep: str, given: frozenset[str]) -> None:
    """An axis's values flag (--batches) sets only a sweep along that axis."""
    for axis, flags in AXIS_FLAGS.items():
        if axis != sweep and dest_of(flags.values) in given:
            raise pytest.UsageError(
                f"{flags.values} applies only with --sweep {axis} (this run sweeps {sweep}); "
                f"add --sweep {axis}, or give {flags.fixed} for one value"
            )


def check_mixers_fit(options: RunOptions) -> None:
    """Every --mixer-option knob is one of each selected mixer's it applies to,
    and every selected mixer can be built at every width the run uses (attention
    and RetNet split d_model into heads of even size): the constructors say."""
    for name in options.mixers:
        spec = get_spec(name)
        try:
            knobs = options.mixer_config(name, options.d_models()[0])
        except ValueError as error:
            raise pytest.UsageError(f"--mixer-option: {error}") from None
        if spec.unavailable_reason() is not None:
            continue
        for d_model in options.d_models():
            problem = spec.cls.config_problem(d_model, **knobs)
            if problem:
                flag = AXIS_FLAGS["d_model"].values if options.sweep == "d_model" else "--d-model"
                raise pytest.UsageError(
                    f"{flag}: {name} cannot be built at d_model={d_model} with {knobs}: {problem}"
                )


def apply_threads(options: RunOptions) -> None:
    if options.threads:
        torch.set_num_threads(options.threads)

"""Profiles and command-line options of the benchmark suite.

A profile fixes sizes, lengths and steps; options override parts of it.
``get_options(config)`` resolves both once per pytest run (cached on the
config) into a ``RunOptions`` that every benchmark file reads:

    options = get_options(metafunc.config)
    for name in options.mixers: ...

Bad values raise ``pytest.UsageError`` naming what would be right.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

PROFILE_NAMES = ("smoke", "default", "paper", "gpu-smoke")
DEVICES = ("auto", "cpu", "cuda")
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


@dataclass(frozen=True)
class Profile:
    """Sizes, lengths and steps of one kind of run."""

    name: str
    #: sequence lengths of forward, train_step and prefill (ascending)
    lengths: tuple[int, ...]
    #: context lengths that decode starts from (ascending)
    decode_lengths: tuple[int, ...]
    batch: int
    d_model: int
    n_layers: int
    n_heads: int
    #: chunk of chunkwise modes (retnet/chunkwise, mamba/scan)
    chunk_size: int
    #: tokens decoded per timed round; the stats are per token
    decode_tokens: int
    #: pytest-benchmark's warm-up rounds, besides the untimed probe call that
    #: always comes first (and warms caches and lazy initialisation up)
    warmup_rounds: int
    min_rounds: int
    max_rounds: int
    #: seconds of timed rounds to aim for per point (fast points get more rounds)
    target_time_s: float
    #: wall-clock limit of one point (build, warm-up, memory, FLOPs and timing)
    time_budget_s: float
    #: length of the agreement check against the family's reference
    check_len: int
    #: torch's intra-op threads; 0 keeps torch's default (all cores). One thread
    #: for tiny shapes: more only add synchronisation, and on a busy machine
    #: spinning OpenMP threads slow small ops down many times over
    threads: int = 0
    device: str = "auto"
    dtype: str = "float32"
    #: the profile is meant for a GPU: refuse to fall back to the CPU silently
    needs_cuda: bool = False


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        lengths=(32, 64),
        decode_lengths=(32, 64),
        batch=1,
        d_model=32,
        n_layers=1,
        n_heads=2,
        chunk_size=16,
        decode_tokens=4,
        warmup_rounds=0,
        min_rounds=2,
        max_rounds=5,
        target_time_s=0.01,
        time_budget_s=10.0,
        check_len=40,
        threads=1,
    ),
    "default": Profile(
        name="default",
        lengths=(512, 1024, 2048, 4096, 8192),
        decode_lengths=(512, 1024, 2048, 4096, 8192),
        batch=1,
        d_model=128,
        n_layers=2,
        n_heads=4,
        chunk_size=64,
        decode_tokens=16,
        warmup_rounds=0,
        min_rounds=3,
        max_rounds=20,
        target_time_s=0.3,
        time_budget_s=15.0,
        check_len=160,
    ),
    "paper": Profile(
        name="paper",
        lengths=(2048, 4096, 8192, 16384, 32768, 65536),
        decode_lengths=(2048, 4096, 8192),
        batch=1,
        d_model=2048,
        n_layers=2,
        n_heads=8,
        chunk_size=512,
        decode_tokens=64,
        warmup_rounds=2,
        min_rounds=5,
        max_rounds=50,
        target_time_s=2.0,
        time_budget_s=120.0,
        check_len=1100,
        device="cuda",
        dtype="bfloat16",
        needs_cuda=True,
    ),
    "gpu-smoke": Profile(
        name="gpu-smoke",
        lengths=(256, 1024, 4096),
        decode_lengths=(1024, 4096),
        batch=1,
        d_model=256,
        n_layers=2,
        n_heads=4,
        chunk_size=128,
        decode_tokens=16,
        warmup_rounds=1,
        min_rounds=3,
        max_rounds=20,
        target_time_s=0.2,
        time_budget_s=15.0,
        check_len=300,
        device="cuda",
        dtype="bfloat16",
        needs_cuda=True,
    ),
}


@dataclass(frozen=True)
class RunOptions:
    """The profile with the command line's overrides applied."""

    profile: Profile
    device: torch.device
    dtype: torch.dtype
    #: selected names, including unavailable ones (they are reported as skipped)
    mixers: list[str]
    lengths: tuple[int, ...]
    decode_lengths: tuple[int, ...]
    batch: int
    d_model: int
    n_layers: int
    time_budget_s: float
    #: torch's intra-op threads (0: torch's default)
    threads: int = 0
    #: where LRA data lives (--data-dir, else MIXBENCH_DATA); None: nowhere
    data_dir: Path | None = None

    @property
    def max_len(self) -> int:
        """The longest sequence any point feeds a mixer (decode goes past its context)."""
        return max(*self.lengths, *(n + self.profile.decode_tokens for n in self.decode_lengths))


@dataclass(frozen=True)
class RawOptions:
    """The command line as given (None: the profile decides)."""

    profile: str = "default"
    device: str | None = None
    dtype: str | None = None
    mixers: str = "*"
    lengths: str | None = None
    batch: int | None = None
    d_model: int | None = None
    time_budget_s: float | None = None
    threads: int | None = None
    data_dir: str | None = None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mixbench", "mixbench benchmark suite")
    group.addoption(
        "--profile",
        default="default",
        help=f"sizes, lengths and steps of the run: {', '.join(PROFILE_NAMES)} (default: default)",
    )
    group.addoption("--device", default=None, help="auto, cpu or cuda (default: the profile's)")
    group.addoption("--dtype", default=None, help=f"{', '.join(DTYPES)} (default: the profile's)")
    group.addoption(
        "--mixers",
        default="*",
        help="comma-separated globs of family/variant names, e.g. 'retnet/*,attention/sdpa'",
    )
    group.addoption(
        "--lengths",
        default=None,
        help="comma-separated sequence lengths (a k suffix multiplies by 1024: 4k=4096); "
        "replaces the profile's lengths of every workload",
    )
    group.addoption("--batch", type=int, default=None, help="batch size (default: the profile's)")
    group.addoption(
        "--d-model", type=int, default=None, help="model width (default: the profile's)"
    )
    group.addoption(
        "--time-budget-s",
        type=float,
        default=None,
        help="wall-clock seconds one benchmark point may take (default: the profile's)",
    )
    group.addoption(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads, 0 for torch's default (default: the profile's)",
    )
    group.addoption(
        "--data-dir",
        default=None,
        help="folder with the LRA release, IMDB and CIFAR-10 for accuracy runs "
        "(default: $MIXBENCH_DATA; python -m tasks check tells what is found)",
    )


def raw_options(config: pytest.Config) -> RawOptions:
    return RawOptions(
        profile=config.getoption("--profile"),
        device=config.getoption("--device"),
        dtype=config.getoption("--dtype"),
        mixers=config.getoption("--mixers"),
        lengths=config.getoption("--lengths"),
        batch=config.getoption("--batch"),
        d_model=config.getoption("--d-model"),
        time_budget_s=config.getoption("--time-budget-s"),
        threads=config.getoption("--threads"),
        data_dir=config.getoption("--data-dir"),
    )


_OPTIONS_KEY = pytest.StashKey["RunOptions"]()


def get_options(config: pytest.Config) -> RunOptions:
    """The run's options, resolved once per pytest run."""
    if _OPTIONS_KEY not in config.stash:
        from models.registry import list_mixers

        names = [spec.name for spec in list_mixers()]
        config.stash[_OPTIONS_KEY] = resolve_options(
            raw_options(config), names, cuda_available=torch.cuda.is_available()
        )
    return config.stash[_OPTIONS_KEY]


def resolve_options(
    raw: RawOptions, known_mixers: Sequence[str], cuda_available: bool
) -> RunOptions:
    profile = resolve_profile(raw.profile)
    lengths = parse_lengths(raw.lengths) if raw.lengths is not None else None
    options = RunOptions(
        profile=profile,
        device=resolve_device(raw.device or profile.device, profile, cuda_available),
        dtype=resolve_dtype(raw.dtype or profile.dtype),
        mixers=select_mixers(raw.mixers, known_mixers),
        lengths=lengths or profile.lengths,
        decode_lengths=lengths or profile.decode_lengths,
        batch=positive("--batch", raw.batch, profile.batch),
        d_model=positive("--d-model", raw.d_model, profile.d_model),
        n_layers=profile.n_layers,
        time_budget_s=positive("--time-budget-s", raw.time_budget_s, profile.time_budget_s),
        threads=non_negative("--threads", raw.threads, profile.threads),
        data_dir=resolve_data_dir(raw.data_dir),
    )
    check_heads_fit(options)
    return options


def resolve_data_dir(given: str | None) -> Path | None:
    from tasks.lra import data_dir_from_env

    if given is None:
        return data_dir_from_env()
    path = Path(given).expanduser()
    if not path.is_dir():
        raise pytest.UsageError(
            f"--data-dir {given!r} is not a folder; give the folder that holds lra_release/ "
            "(or leave it out to use $MIXBENCH_DATA)"
        )
    return path


def resolve_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise pytest.UsageError(
            f"unknown --profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}"
        )
    return PROFILES[name]


def resolve_device(name: str, profile: Profile, cuda_available: bool) -> torch.device:
    if name not in DEVICES:
        raise pytest.UsageError(f"unknown --device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "cuda" and not cuda_available:
        hint = " (it is meant for a GPU)" if profile.needs_cuda else ""
        raise pytest.UsageError(
            f"--device cuda (profile {profile.name}{hint}) but torch sees no CUDA device; "
            "run on a GPU machine, or pass --device cpu (or a CPU profile: smoke, default)"
        )
    if name == "auto":
        return torch.device("cuda" if cuda_available else "cpu")
    return torch.device(name)


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise pytest.UsageError(f"unknown --dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return DTYPES[name]


def positive(flag: str, value: float | int | None, default: float | int):
    if value is None:
        return default
    if value <= 0:
        raise pytest.UsageError(f"{flag} must be positive, got {value}")
    return value


def non_negative(flag: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if value < 0:
        raise pytest.UsageError(f"{flag} must be 0 (torch's default) or positive, got {value}")
    return value


def apply_threads(options: RunOptions) -> None:
    if options.threads:
        torch.set_num_threads(options.threads)


def parse_lengths(text: str) -> tuple[int, ...]:
    """'512,1k,4K' -> (512, 1024, 4096), sorted ascending so that each point can be
    predicted from the shorter ones measured before it."""
    lengths = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        multiplier = 1024 if item[-1] in "kK" else 1
        digits = item[:-1] if multiplier > 1 else item
        if not digits.isdigit() or int(digits) == 0:
            raise pytest.UsageError(
                f"--lengths: {item!r} is not a positive integer; "
                "give comma-separated lengths such as '512,1024,4k'"
            )
        lengths.append(int(digits) * multiplier)
    if not lengths:
        raise pytest.UsageError("--lengths is empty; give comma-separated lengths such as '512,4k'")
    return tuple(sorted(set(lengths)))


def select_mixers(patterns: str, known: Sequence[str]) -> list[str]:
    """Registered names matching any comma-separated glob, in registry order;
    a pattern that matches nothing is an error naming the valid names."""
    selected: list[str] = []
    for pattern in filter(None, (p.strip() for p in patterns.split(","))):
        matches = fnmatch.filter(known, pattern)
        if not matches:
            raise pytest.UsageError(
                f"--mixers pattern {pattern!r} matches no registered mixer; "
                f"registered: {', '.join(known)}"
            )
        selected += [name for name in matches if name not in selected]
    if not selected:
        raise pytest.UsageError(f"--mixers is empty; registered: {', '.join(known)}")
    return [name for name in known if name in selected]


def check_heads_fit(options: RunOptions) -> None:
    """Attention and RetNet split d_model into heads of even size."""
    heads = options.profile.n_heads
    if options.d_model % (2 * heads):
        suggestion = 2 * heads * max(1, options.d_model // (2 * heads))
        raise pytest.UsageError(
            f"--d-model {options.d_model} must be a multiple of 2*n_heads={2 * heads} "
            f"(profile {options.profile.name}); try {suggestion}"
        )

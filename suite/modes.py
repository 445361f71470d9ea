"""Shared by the mode-against-mode speed files (test_retnet_speed.py,
test_mamba_speed.py, test_hyena_speed.py): the bare mixer, no backbone, timed
and recorded under the workloads ``mixer_forward`` (no grad) and
``mixer_train_step`` (forward and backward into its weights and its input) so
that their rows never mix with the backbone's ``forward`` and ``train_step``
rows in reports; and implementations of one workload side by side, alternated
pass by pass (workload ``interleaved``), which the ratios between them come
from. Their shapes are the profile's ``mode_speed`` (suite/profiles.py); they
follow --mixers, --lengths and --device (options.MODE_SPEED_NOTE)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
import torch
from torch import nn

from models.backbone import count_params
from models.base import Mixer
from models.registry import build_mixer, class_path, get_spec
from schema import Status, Workload, make_extra_info, throughput

from .measure import Passes, pedantic_rounds, synchronized
from .options import RunOptions, get_options
from .profiles import ModeSpeed

#: timed rounds of one mode-speed point, after one warm-up round
ROUNDS = 3


def mode_speed(config: pytest.Config, family: str) -> ModeSpeed:
    return get_options(config).profile.mode_speed[family]


def mode_lengths(config: pytest.Config, family: str) -> tuple[int, ...]:
    """--lengths when given, else the profile's lengths for this family's file."""
    options = get_options(config)
    return options.lengths if "lengths" in options.given else mode_speed(config, family).lengths


def selected(options: RunOptions, names: Sequence[str]) -> list[str]:
    """The names --mixers selects, in the given order."""
    return [name for name in names if name in options.mixers]


def runs_here(options: RunOptions, name: str) -> bool:
    """Whether the variant can run in this run: on this machine, on its device
    and in its dtype."""
    return get_spec(name).unavailable_reason(options.device, options.dtype) is None


def mode_mixer(
    options: RunOptions, name: str, d_model: int, **offered: Any
) -> tuple[Mixer, dict[str, Any]]:
    """``name`` built for a mode-speed point, and the knobs it was built with:
    the file's shared values (``offered``: its heads, chunk, l_max) where its
    constructor names them, and the run's --mixer-option knobs for it over them."""
    config = options.mixer_config(name, d_model, offered)
    problem = get_spec(name).cls.shape_problem(d_model, **config)
    if problem is not None:  # a kernel's limit: unavailable at this shape, not a failure
        pytest.skip(f"{name} is unavailable: {problem}")
    return build_mixer(name, d_model, **config), config


def train_step_call(
    forward: Callable[[torch.Tensor], torch.Tensor], module: nn.Module, x: torch.Tensor
) -> Callable[[], None]:
    """One training step of a bare mixer: its gradients cleared (set to None),
    ``forward(x)``, and the backward of a fixed upstream gradient into every
    weight and into x, as inside a stack of layers."""
    x = x.detach().requires_grad_()
    generator = torch.Generator(device=x.device).manual_seed(0)
    upstream = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)

    def step() -> None:
        module.zero_grad(set_to_none=True)
        x.grad = None
        forward(x).backward(upstream)

    return step


def forward_call(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> Callable[[], torch.Tensor]:
    @torch.no_grad()
    def run() -> torch.Tensor:
        return forward(x)

    return run


def point_info(x: torch.Tensor, **values) -> dict:
    """The fields every mode-speed point shares: shape, dtype, device, one layer."""
    batch, seq_len, d_model = x.shape
    return dict(
        sweep="length",
        seq_len=seq_len,
        batch=batch,
        d_model=d_model,
        n_layers=1,
        dtype=str(x.dtype).removeprefix("torch."),
        device=x.device.type,
        **values,
    )


def time_bare_forward(
    benchmark,
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    name: str,
    module: nn.Module,
    costs: Mixer,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Time ``forward(x)`` without grad (three rounds after one warm-up) and
    record it; ``costs`` supplies the analytic FLOPs, the state bytes and
    whether the state is fixed, ``config`` the knobs it was built with
    (``mode_mixer``'s; None: not saved)."""
    run = forward_call(forward, x)
    record = dict(name=name, module=module, costs=costs, config=config)
    time_and_record(benchmark, run, x, Workload.MIXER_FORWARD, backward=False, **record)


def time_bare_train_step(
    benchmark,
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    name: str,
    module: nn.Module,
    costs: Mixer,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Time one training step of the bare mixer (``train_step_call``: forward
    and backward, no optimiser) and record it; ``costs`` supplies the analytic
    FLOPs of forward + backward, the state bytes and whether the state is
    fixed, ``config`` the knobs it was built with (``mode_mixer``'s; None: not
    saved)."""
    step = train_step_call(forward, module, x)
    record = dict(name=name, module=module, costs=costs, config=config)
    time_and_record(benchmark, step, x, Workload.MIXER_TRAIN_STEP, backward=True, **record)


def time_and_record(
    benchmark,
    call,
    x,
    workload,
    *,
    name: str,
    module: nn.Module,
    costs: Mixer,
    config: Mapping[str, Any] | None = None,
    backward: bool,
) -> None:
    batch, seq_len, _ = x.shape
    timed = synchronized(call, x.device)
    pedantic_rounds(benchmark, timed, x.device, rounds=ROUNDS, warmup_rounds=1)
    median = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        make_extra_info(
            **point_info(x),
            mixer=name,
            mixer_class=class_path(type(module)),
            mixer_config=None if config is None else dict(config),
            fixed_state=type(costs).fixed_state,
            workload=workload,
            params=count_params(module),
            flops=costs.flops(batch, seq_len, backward=backward),
            state_bytes=costs.state_bytes(batch, seq_len),
            tokens_per_s=throughput(batch * seq_len, median),
            status=Status.OK,
        )
    )


def time_interleaved(
    benchmark,
    calls: dict[str, Callable[[], object]],
    x: torch.Tensor,
    *,
    of_workload: Workload,
    passes: int,
) -> dict[str, list[float]]:
    """Time ``calls`` (name -> one call of the workload on x's shape) side by
    side: a warm-up pass, then ``passes`` passes; record every call's seconds
    per pass (``interleaved_s``), from which a ratio is the median of the
    pass-by-pass ratios. Returns those seconds."""
    timed = Passes(calls, x.device)
    timed()  # warm-up: lazy initialisation, caches, allocator
    timed.clear()
    benchmark.pedantic(timed, rounds=passes, iterations=1)
    benchmark.extra_info.update(
        make_extra_info(
            **point_info(x),
            workload=Workload.INTERLEAVED,
            of_workload=of_workload,
            interleaved_s=timed.times,
            interleaved_cpu_s=timed.saved_cpu_times(passes),
            status=Status.OK,
        )
    )
    return timed.times



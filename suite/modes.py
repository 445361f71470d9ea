"""Shared by the mode-against-mode speed files (test_retnet_speed.py,
test_mamba_speed.py, test_hyena_speed.py): the bare mixer's forward, no
backbone, timed and recorded under the workload ``mixer_forward`` so that its
rows never mix with the backbone's ``forward`` rows in reports. Their shapes
are the profile's ``mode_speed`` (suite/profiles.py); they follow --mixers,
--lengths and --device (options.MODE_SPEED_NOTE)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from torch import nn

from models.backbone import count_params
from models.base import Mixer
from models.registry import class_path
from schema import Status, Workload, make_extra_info, throughput

from .measure import synchronized
from .options import RunOptions, get_options
from .profiles import ModeSpeed


def mode_speed(config: pytest.Config, family: str) -> ModeSpeed:
    return get_options(config).profile.mode_speed[family]


def mode_lengths(config: pytest.Config, family: str) -> tuple[int, ...]:
    """--lengths when given, else the profile's lengths for this family's file."""
    options = get_options(config)
    return options.lengths if "lengths" in options.given else mode_speed(config, family).lengths


def selected(options: RunOptions, names: Sequence[str]) -> list[str]:
    """The names --mixers selects, in the given order."""
    return [name for name in names if name in options.mixers]


def time_bare_forward(
    benchmark,
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    name: str,
    module: nn.Module,
    costs: Mixer,
) -> None:
    """Time ``forward(x)`` without grad (three rounds after one warm-up) and
    record it; ``costs`` supplies the analytic FLOPs and state bytes."""
    batch, seq_len, d_model = x.shape

    @torch.no_grad()
    def run() -> torch.Tensor:
        return forward(x)

    benchmark.pedantic(synchronized(run, x.device), rounds=3, iterations=1, warmup_rounds=1)
    median = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        make_extra_info(
            mixer=name,
            mixer_class=class_path(type(module)),
            workload=Workload.MIXER_FORWARD,
            sweep="length",
            seq_len=seq_len,
            batch=batch,
            d_model=d_model,
            n_layers=1,
            dtype=str(x.dtype).removeprefix("torch."),
            device=x.device.type,
            params=count_params(module),
            flops=costs.flops(batch, seq_len),
            state_bytes=costs.state_bytes(batch, seq_len),
            tokens_per_s=throughput(batch * seq_len, median),
            status=Status.OK,
        )
    )

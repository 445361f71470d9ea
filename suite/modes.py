"""Shared by the mode-against-mode speed files (test_retnet_speed.py,
test_mamba_speed.py, test_hyena_speed.py): the bare mixer's forward, no
backbone, timed and recorded under the workload ``mixer_forward`` so that its
rows never mix with the backbone's ``forward`` rows in reports."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from models.backbone import count_params
from models.base import Mixer

from .measure import synchronized
from .records import make_extra_info

WORKLOAD = "mixer_forward"


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
    benchmark.extra_info.update(
        make_extra_info(
            mixer=name,
            workload=WORKLOAD,
            seq_len=seq_len,
            batch=batch,
            d_model=d_model,
            n_layers=1,
            dtype=str(x.dtype).removeprefix("torch."),
            device=x.device.type,
            params=count_params(module),
            flops=costs.flops(batch, seq_len),
            state_bytes=costs.state_bytes(batch, seq_len),
            tokens_per_s=batch * seq_len / benchmark.stats.stats.mean,
            status="ok",
        )
    )

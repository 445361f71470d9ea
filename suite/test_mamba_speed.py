"""Mamba forward (no grad): the chunked scan against the sequential reference loop.

Run: ``pytest suite/test_mamba_speed.py --profile default``; the scan should be
several times faster than the reference at L=4096.
"""

from __future__ import annotations

import pytest
import torch

from models import build_mixer, get_spec
from models.backbone import count_params
from suite.records import make_extra_info

D_MODEL = 128
BATCH = 1
SEQ_LEN = {"smoke": 256, "default": 4096, "paper": 4096, "gpu-smoke": 256}
VARIANTS = ("mamba/scan", "mamba/reference", "mamba/mamba-ssm")


def pick_device(profile_name: str) -> torch.device:
    """The GPU profiles use CUDA when there is one; everything else runs on the CPU."""
    gpu_profile = profile_name in ("paper", "gpu-smoke")
    return torch.device("cuda" if gpu_profile and torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", VARIANTS)
def test_mamba_forward(benchmark, profile_name, name):
    reason = get_spec(name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"{name} is unavailable: {reason}")
    device, seq_len = pick_device(profile_name), SEQ_LEN[profile_name]
    torch.manual_seed(0)
    mixer = build_mixer(name, D_MODEL).to(device).eval()
    x = torch.randn(BATCH, seq_len, D_MODEL, device=device)

    @torch.no_grad()
    def run() -> torch.Tensor:
        y = mixer(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return y

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(
        make_extra_info(
            mixer=name,
            workload="forward",
            seq_len=seq_len,
            batch=BATCH,
            d_model=D_MODEL,
            n_layers=1,
            dtype="float32",
            device=device.type,
            params=count_params(mixer),
            flops=mixer.flops(BATCH, seq_len),
            state_bytes=mixer.state_bytes(BATCH, seq_len),
            tokens_per_s=BATCH * seq_len / benchmark.stats.stats.mean,
            status="ok",
        )
    )

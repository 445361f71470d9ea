"""Hyena forward (no grad): the FFT long convolution against the direct one.

Run: ``pytest suite/test_hyena_speed.py --profile default``; at L=8192 the FFT
variant should be at least ten times faster than the direct reference
(O(L log L) against O(L²) per channel).
"""

from __future__ import annotations

import pytest
import torch

from models import build_mixer
from models.backbone import count_params
from suite.records import make_extra_info

D_MODEL = 128
BATCH = 1
SEQ_LEN = {"smoke": 512, "default": 8192, "paper": 8192, "gpu-smoke": 512}
VARIANTS = ("hyena/fft", "hyena/direct")


def pick_device(profile_name: str) -> torch.device:
    """The GPU profiles use CUDA when there is one; everything else runs on the CPU."""
    gpu_profile = profile_name in ("paper", "gpu-smoke")
    return torch.device("cuda" if gpu_profile and torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", VARIANTS)
def test_hyena_forward(benchmark, profile_name, name):
    device, seq_len = pick_device(profile_name), SEQ_LEN[profile_name]
    torch.manual_seed(0)
    # l_max is the benchmarked length: the filter is generated for exactly the positions used
    mixer = build_mixer(name, D_MODEL, l_max=seq_len).to(device).eval()
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

"""Mamba forward (no grad): the chunked scan against the sequential reference loop.

Run: ``pytest suite/test_mamba_speed.py --profile default``; the scan should be
several times faster than the reference at L=4096.
"""

from __future__ import annotations

import pytest
import torch

from models import build_mixer, get_spec
from suite.modes import time_bare_forward
from suite.options import get_options

D_MODEL = 128
BATCH = 1
SEQ_LEN = {"smoke": 256, "default": 4096, "paper": 4096, "gpu-smoke": 256}
VARIANTS = ("mamba/scan", "mamba/reference", "mamba/mamba-ssm")


@pytest.mark.parametrize("name", VARIANTS)
def test_mamba_forward(benchmark, request, name):
    reason = get_spec(name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"{name} is unavailable: {reason}")
    options = get_options(request.config)
    device, seq_len = options.device, SEQ_LEN[options.profile.name]
    torch.manual_seed(0)
    mixer = build_mixer(name, D_MODEL).to(device).eval()
    x = torch.randn(BATCH, seq_len, D_MODEL, device=device)
    time_bare_forward(benchmark, mixer, x, name=name, module=mixer, costs=mixer)

"""Hyena forward (no grad): the FFT long convolution against the direct one.

Run: ``pytest suite/test_hyena_speed.py --profile default``; at L=8192 the FFT
variant should be at least ten times faster than the direct reference
(O(L log L) against O(L²) per channel).
"""

from __future__ import annotations

import pytest
import torch

from models import build_mixer
from suite.modes import time_bare_forward
from suite.options import get_options

D_MODEL = 128
BATCH = 1
SEQ_LEN = {"smoke": 512, "default": 8192, "paper": 8192, "gpu-smoke": 512}
VARIANTS = ("hyena/fft", "hyena/direct")


@pytest.mark.parametrize("name", VARIANTS)
def test_hyena_forward(benchmark, request, name):
    options = get_options(request.config)
    device, seq_len = options.device, SEQ_LEN[options.profile.name]
    torch.manual_seed(0)
    # l_max is the benchmarked length: the filter is generated for exactly the positions used
    mixer = build_mixer(name, D_MODEL, l_max=seq_len).to(device).eval()
    x = torch.randn(BATCH, seq_len, D_MODEL, device=device)
    time_bare_forward(benchmark, mixer, x, name=name, module=mixer, costs=mixer)

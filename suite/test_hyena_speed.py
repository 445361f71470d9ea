"""Hyena forward (no grad): the FFT long convolution against the direct one.

Run: ``pytest suite/test_hyena_speed.py --profile default``; at L=8192 the FFT
variant should be at least ten times faster than the direct reference
(O(L log L) against O(L²) per channel). Shapes: the profile's
``mode_speed["hyena"]`` (suite/profiles.py); the variants --mixers selects.
"""

from __future__ import annotations

import pytest
import torch

from suite.modes import mode_lengths, mode_mixer, mode_speed, selected, time_bare_forward
from suite.options import get_options

BATCH = 1
VARIANTS = ("hyena/fft", "hyena/direct")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if {"name", "seq_len"} <= set(metafunc.fixturenames):
        names = selected(get_options(metafunc.config), VARIANTS)
        lengths = mode_lengths(metafunc.config, "hyena")
        metafunc.parametrize("name", names)
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])


def test_hyena_forward(benchmark, request, name, seq_len):
    options = get_options(request.config)
    d_model = mode_speed(request.config, "hyena").d_model
    torch.manual_seed(0)
    # l_max is the benchmarked length: the filter is generated for exactly the positions used
    mixer, config = mode_mixer(options, name, d_model, l_max=seq_len)
    mixer = mixer.to(options.device, options.dtype).eval()
    x = torch.randn(BATCH, seq_len, d_model, device=options.device, dtype=options.dtype)
    benchmark.group = f"hyena-forward-L{seq_len}"
    time_bare_forward(benchmark, mixer, x, name=name, module=mixer, costs=mixer, config=config)

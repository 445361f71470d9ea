"""Mamba forward (no grad): the chunked scan against the sequential reference
loop (and mamba-ssm's kernel where it installs).

Run: ``pytest suite/test_mamba_speed.py --profile default``; the scan should be
several times faster than the reference at L=4096. Shapes: the profile's
``mode_speed["mamba"]`` (suite/profiles.py); the variants --mixers selects.
"""

from __future__ import annotations

import pytest
import torch

from models import build_mixer, get_spec
from suite.modes import mode_lengths, mode_speed, selected, time_bare_forward
from suite.options import get_options

BATCH = 1
VARIANTS = ("mamba/scan", "mamba/reference", "mamba/mamba-ssm")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if {"name", "seq_len"} <= set(metafunc.fixturenames):
        names = selected(get_options(metafunc.config), VARIANTS)
        lengths = mode_lengths(metafunc.config, "mamba")
        metafunc.parametrize("name", names)
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])


def test_mamba_forward(benchmark, request, name, seq_len):
    reason = get_spec(name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"{name} is unavailable: {reason}")
    device = get_options(request.config).device
    d_model = mode_speed(request.config, "mamba").d_model
    torch.manual_seed(0)
    mixer = build_mixer(name, d_model).to(device).eval()
    x = torch.randn(BATCH, seq_len, d_model, device=device)
    benchmark.group = f"mamba-forward-L{seq_len}"
    time_bare_forward(benchmark, mixer, x, name=name, module=mixer, costs=mixer)

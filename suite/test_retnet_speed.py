"""retnet/chunkwise forward (no grad) against torchscale 0.3.0's chunkwise
MultiScaleRetention carrying the same weights, as the sequence grows.

Run: ``pytest suite/test_retnet_speed.py --profile default``. Ours should be
at least as fast as torchscale at L=8192 and grow linearly in L. Both get the
same chunk size; torchscale's rel_pos (rotation, masks, decays) is built once
outside the timed call, as its RetNet builds it once for all layers, while
ours builds its own inside forward. Shapes: the profile's
``mode_speed["retnet"]`` (suite/profiles.py); runs when --mixers selects
retnet/chunkwise.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from models import build_mixer
from suite.modes import mode_lengths, mode_speed, selected, time_bare_forward
from suite.options import get_options
from suite.profiles import ModeSpeed
from suite.references import import_torchscale

BATCH = 1
IMPLS = ("mixbench", "torchscale")
#: report rows are keyed by mixer name: torchscale's gets its own
MIXER_NAME = {"mixbench": "retnet/chunkwise", "torchscale": "retnet/torchscale-chunkwise"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seq_len" in metafunc.fixturenames:
        chosen = selected(get_options(metafunc.config), ["retnet/chunkwise"])
        lengths = mode_lengths(metafunc.config, "retnet") if chosen else ()
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])


def torchscale_forward(seq_len: int, shape: ModeSpeed, chunk_size: int, weights: dict, device):
    """A one-argument call of torchscale's chunkwise retention on ``weights``."""
    MultiScaleRetention, RetNetRelPos = import_torchscale()
    args = SimpleNamespace(
        multiway=False,
        layernorm_eps=1e-6,
        decoder_embed_dim=shape.d_model,
        decoder_retention_heads=shape.n_heads,
        recurrent_chunk_size=chunk_size,
    )
    official = MultiScaleRetention(args, shape.d_model, 2 * shape.d_model, shape.n_heads)
    official = official.to(device)
    official.load_state_dict(weights)
    rel_pos = RetNetRelPos(args).to(device)(seq_len, chunkwise_recurrent=True)
    return official, lambda x: official(x, rel_pos, chunkwise_recurrent=True)


@pytest.mark.parametrize("impl", IMPLS)
def test_retnet_chunkwise_forward(benchmark, request, impl, seq_len):
    device = get_options(request.config).device
    shape = mode_speed(request.config, "retnet")
    # torchscale needs whole chunks
    chunk_size = min(shape.chunk_size, seq_len)
    torch.manual_seed(0)
    ours = build_mixer(
        "retnet/chunkwise", shape.d_model, n_heads=shape.n_heads, chunk_size=chunk_size
    )
    ours = ours.to(device).eval()
    module, forward = ours, ours
    if impl == "torchscale":
        module, forward = torchscale_forward(seq_len, shape, chunk_size, ours.state_dict(), device)
    x = torch.randn(BATCH, seq_len, shape.d_model, device=device)
    benchmark.group = f"retnet-chunkwise-L{seq_len}"
    time_bare_forward(benchmark, forward, x, name=MIXER_NAME[impl], module=module, costs=ours)
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["chunk_size"] = chunk_size

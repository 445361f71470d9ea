"""retnet/chunkwise forward (no grad) against torchscale 0.3.0's chunkwise
MultiScaleRetention carrying the same weights, as the sequence grows.

Run: ``pytest suite/test_retnet_speed.py --profile default``. Ours should be
at least as fast as torchscale at L=8192 and grow linearly in L. Both get the
same chunk size; torchscale's rel_pos (rotation, masks, decays) is built once
outside the timed call, as its RetNet builds it once for all layers, while
ours builds its own inside forward.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from models import build_mixer
from suite.modes import time_bare_forward
from suite.options import get_options
from suite.references import import_torchscale

D_MODEL = 512
N_HEADS = 4
BATCH = 1
#: the score work inside chunks grows as L*C and the state work as
#: (L/C)*d_k*d_v: they balance near C = sqrt(d_k * d_v) = sqrt(128 * 256) ~ 181
CHUNK_SIZE = 128
SEQ_LENS = {
    "smoke": (256,),
    "gpu-smoke": (256,),
    "default": (1024, 2048, 4096, 8192),
    "paper": (1024, 2048, 4096, 8192),
}
IMPLS = ("mixbench", "torchscale")
#: report rows are keyed by mixer name: torchscale's gets its own
MIXER_NAME = {"mixbench": "retnet/chunkwise", "torchscale": "retnet/torchscale-chunkwise"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seq_len" in metafunc.fixturenames:
        lengths = SEQ_LENS.get(metafunc.config.getoption("--profile"), SEQ_LENS["smoke"])
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])


def torchscale_forward(seq_len: int, chunk_size: int, weights: dict, device: torch.device):
    """A no-argument call of torchscale's chunkwise retention on ``weights``."""
    MultiScaleRetention, RetNetRelPos = import_torchscale()
    args = SimpleNamespace(
        multiway=False,
        layernorm_eps=1e-6,
        decoder_embed_dim=D_MODEL,
        decoder_retention_heads=N_HEADS,
        recurrent_chunk_size=chunk_size,
    )
    official = MultiScaleRetention(args, D_MODEL, 2 * D_MODEL, N_HEADS).to(device)
    official.load_state_dict(weights)
    rel_pos = RetNetRelPos(args).to(device)(seq_len, chunkwise_recurrent=True)
    return official, lambda x: official(x, rel_pos, chunkwise_recurrent=True)


@pytest.mark.parametrize("impl", IMPLS)
def test_retnet_chunkwise_forward(benchmark, request, impl, seq_len):
    device = get_options(request.config).device
    # torchscale needs whole chunks
    chunk_size = min(CHUNK_SIZE, seq_len)
    torch.manual_seed(0)
    ours = build_mixer("retnet/chunkwise", D_MODEL, n_heads=N_HEADS, chunk_size=chunk_size)
    ours = ours.to(device).eval()
    module, forward = ours, ours
    if impl == "torchscale":
        module, forward = torchscale_forward(seq_len, chunk_size, ours.state_dict(), device)
    x = torch.randn(BATCH, seq_len, D_MODEL, device=device)
    benchmark.group = f"retnet-chunkwise-L{seq_len}"
    time_bare_forward(benchmark, forward, x, name=MIXER_NAME[impl], module=module, costs=ours)
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["chunk_size"] = chunk_size

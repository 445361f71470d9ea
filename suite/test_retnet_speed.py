"""retnet/chunkwise against torchscale 0.3.0's chunkwise MultiScaleRetention
carrying the same weights, as the sequence grows: the forward (no grad) at the
profile's chunk, the training step (forward + backward of the bare mixer into
its weights and input) at its training chunk, and both side by side in
alternating passes at the largest length (workload ``interleaved``), which the
ratio between them comes from; and ours at every length alternated pass by
pass, which its growth in L comes from.

Run: ``pytest suite/test_retnet_speed.py --profile default``. Ours should grow
linearly in L and train at least 1.3x as fast as torchscale at L=8192 (chunk
512); the interleaved comparison runs on each of the profile's
``comparison_threads``. Both get the same chunk size; torchscale's rel_pos (rotation, masks,
decays) is built once outside the timed call, as its RetNet builds it once for
all layers, while ours builds its own inside forward. Shapes: the profile's
``mode_speed["retnet"]`` (suite/profiles.py); runs when --mixers selects
retnet/chunkwise.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from models.retnet import Retention
from schema import Workload, values_key
from suite.guard import torch_threads
from suite.modes import (
    forward_call,
    mode_lengths,
    mode_mixer,
    mode_speed,
    selected,
    time_bare_forward,
    time_bare_train_step,
    time_interleaved,
    train_step_call,
)
from suite.options import get_options
from suite.profiles import ModeSpeed
from suite.references import import_torchscale

BATCH = 1
IMPLS = ("mixbench", "torchscale")
#: report rows are keyed by mixer name: torchscale's gets its own
MIXER_NAME = {"mixbench": "retnet/chunkwise", "torchscale": "retnet/torchscale-chunkwise"}
INTERLEAVED = (Workload.MIXER_FORWARD, Workload.MIXER_TRAIN_STEP)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = selected(get_options(metafunc.config), ["retnet/chunkwise"])
    lengths = mode_lengths(metafunc.config, "retnet") if chosen else ()
    if "seq_len" in metafunc.fixturenames:
        if metafunc.function.__name__ == "test_retnet_chunkwise_interleaved":
            lengths = tuple(sorted(lengths))[-1:]
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])
    if "threads" in metafunc.fixturenames:
        threads = mode_speed(metafunc.config, "retnet").comparison_threads if chosen else ()
        metafunc.parametrize("threads", threads, ids=[f"threads{n}" for n in threads])
    if "lengths" in metafunc.fixturenames:
        pair = [tuple(sorted(lengths))] if len(lengths) > 1 else []
        metafunc.parametrize("lengths", pair, ids=["-".join(f"L{n}" for n in p) for p in pair])


def chunk_of(shape: ModeSpeed, workload: Workload, seq_len: int) -> int:
    chunk = shape.train_chunk_size if workload == Workload.MIXER_TRAIN_STEP else None
    return min(chunk or shape.chunk_size, seq_len)


def torchscale_forward(seq_len: int, ours: Retention, device):
    """A one-argument call of torchscale's chunkwise retention with ``ours``'s
    shape, knobs and weights."""
    MultiScaleRetention, RetNetRelPos = import_torchscale()
    args = SimpleNamespace(
        multiway=False,
        layernorm_eps=ours.layernorm_eps,
        decoder_embed_dim=ours.d_model,
        decoder_retention_heads=ours.n_heads,
        recurrent_chunk_size=ours.chunk_size,
    )
    official = MultiScaleRetention(args, ours.d_model, ours.value_dim, ours.n_heads)
    dtype = next(ours.parameters()).dtype
    official = official.to(device, dtype)
    official.load_state_dict(ours.state_dict())
    rel_pos = in_dtype(RetNetRelPos(args).to(device)(seq_len, chunkwise_recurrent=True), dtype)
    return official, lambda x: official(x, rel_pos, chunkwise_recurrent=True)


def in_dtype(value: Any, dtype: torch.dtype) -> Any:
    """torchscale's relative positions (nested tuples of tensors) in ``dtype``."""
    if isinstance(value, tuple):
        return tuple(in_dtype(part, dtype) for part in value)
    return value.to(dtype) if torch.is_tensor(value) and value.is_floating_point() else value


def implementations(
    request: pytest.FixtureRequest, seq_len: int, workload: Workload, impls=IMPLS
) -> tuple[Retention, dict[str, Any], dict[str, tuple[nn.Module, Callable]]]:
    """Ours, the knobs it was built with, and the selected others with the same
    weights: {impl: (module, forward)}."""
    options = get_options(request.config)
    shape = mode_speed(request.config, "retnet")
    offered = {"n_heads": shape.n_heads, "chunk_size": chunk_of(shape, workload, seq_len)}
    torch.manual_seed(0)
    ours, config = mode_mixer(options, "retnet/chunkwise", shape.d_model, **offered)
    ours = ours.to(options.device, options.dtype)
    if "torchscale" in impls and seq_len % ours.chunk_size:
        pytest.skip(
            f"torchscale's chunkwise needs whole chunks: L={seq_len}, chunk {ours.chunk_size}"
        )
    found: dict[str, tuple[nn.Module, Callable]] = {"mixbench": (ours, ours)}
    if "torchscale" in impls:
        found["torchscale"] = torchscale_forward(seq_len, ours, options.device)
    for module, _ in found.values():
        module.train(workload == Workload.MIXER_TRAIN_STEP)
    return ours, config, found


def inputs(request: pytest.FixtureRequest, seq_len: int) -> torch.Tensor:
    options = get_options(request.config)
    shape = mode_speed(request.config, "retnet")
    generator = torch.Generator(device=options.device).manual_seed(1)
    x = torch.randn(BATCH, seq_len, shape.d_model, generator=generator, device=options.device)
    return x.to(options.dtype)  # drawn in fp32: the same numbers in every dtype


@pytest.mark.parametrize("impl", IMPLS)
def test_retnet_chunkwise_forward(benchmark, request, impl, seq_len):
    ours, config, impls = implementations(request, seq_len, Workload.MIXER_FORWARD, (impl,))
    module, forward = impls[impl]
    benchmark.group = f"retnet-chunkwise-L{seq_len}"
    x = inputs(request, seq_len)
    record = dict(name=MIXER_NAME[impl], module=module, costs=ours, config=config)
    time_bare_forward(benchmark, forward, x, **record)
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["chunk_size"] = ours.chunk_size


@pytest.mark.parametrize("impl", IMPLS)
def test_retnet_chunkwise_train_step(benchmark, request, impl, seq_len):
    ours, config, impls = implementations(request, seq_len, Workload.MIXER_TRAIN_STEP, (impl,))
    module, forward = impls[impl]
    benchmark.group = f"retnet-chunkwise-train-L{seq_len}"
    x = inputs(request, seq_len)
    record = dict(name=MIXER_NAME[impl], module=module, costs=ours, config=config)
    time_bare_train_step(benchmark, forward, x, **record)
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["chunk_size"] = ours.chunk_size


@pytest.mark.parametrize("workload", INTERLEAVED)
def test_retnet_chunkwise_interleaved(benchmark, request, workload, seq_len, threads):
    """Ours and torchscale's alternated pass by pass at the largest length, on
    ``threads`` (the profile's ``comparison_threads``)."""
    ours, _, impls = implementations(request, seq_len, workload)
    x = inputs(request, seq_len)
    make = train_step_call if workload == Workload.MIXER_TRAIN_STEP else None
    calls = {
        MIXER_NAME[impl]: make(forward, module, x) if make else forward_call(forward, x)
        for impl, (module, forward) in impls.items()
    }
    benchmark.group = f"retnet-chunkwise-interleaved-{workload}-threads{threads}"
    passes = mode_speed(request.config, "retnet").passes
    with torch_threads(threads):
        time_interleaved(benchmark, calls, x, of_workload=workload, passes=passes)
        benchmark.extra_info["threads"] = torch.get_num_threads()
    benchmark.extra_info["chunk_size"] = ours.chunk_size


def test_retnet_chunkwise_forward_scaling(benchmark, request, lengths):
    """Ours at every length, alternated pass by pass (one point, keys
    ``retnet/chunkwise@L<n>`` in ``interleaved_s``): the time ratio of two
    lengths is the median of their pass-by-pass ratios; linear in L means
    8192 over 2048 near 4."""
    calls, x = {}, None
    for seq_len in lengths:
        ours, _, _ = implementations(request, seq_len, Workload.MIXER_FORWARD, ("mixbench",))
        x = inputs(request, seq_len)
        calls[values_key(MIXER_NAME["mixbench"], "length", seq_len)] = forward_call(ours, x)
    benchmark.group = "retnet-chunkwise-scaling"
    passes = mode_speed(request.config, "retnet").passes
    time_interleaved(benchmark, calls, x, of_workload=Workload.MIXER_FORWARD, passes=passes)
    benchmark.extra_info["chunk_size"] = ours.chunk_size

"""Mamba-2: the chunked SSD (mamba2/chunked) against the plain scan
(mamba2/ref, the recurrence token by token) and against retnet/chunkwise at the
same width and length (and chunk, but for retnet's training chunk), in the
forward (no grad) and the training step
(forward + backward of the bare mixer into its weights and input; the plain
scan in the forward at the smallest length only); fla's and mamba-ssm's
kernels where they run. Side by side in alternating passes
(workload ``interleaved``): chunked and ref at the smallest length, chunked
and retnet/chunkwise at the largest, and chunked at every length, which its
growth in L comes from.

Run: ``pytest suite/test_mamba2_speed.py --profile default``. The chunked form
should grow linearly in L (8192 over 2048 near 4, at most 4.6), run its
forward at 60% or more of the measured matmul peak at L=8192, d_model 512, and
train within 1.5x of retnet/chunkwise there. Shapes: the profile's
``mode_speed["retnet"]`` (suite/profiles.py), so that the pair compares at one
width, length and forward chunk; in the training step each family at its own
chunk (``chunk_of``); runs when --mixers selects mamba2/chunked (the other
variants as selected).
"""

from __future__ import annotations

import pytest
import torch

from models import get_spec
from schema import Workload, values_key
from suite.modes import (
    forward_call,
    mode_lengths,
    mode_mixer,
    mode_speed,
    runs_here,
    selected,
    time_bare_forward,
    time_bare_train_step,
    time_interleaved,
    train_step_call,
)
from suite.options import get_options
from suite.profiles import ModeSpeed

BATCH = 1
OURS = "mamba2/chunked"
#: the plain scan: its forward point at the smallest length only (a loop over
#: every position costs seconds at the largest, in the main job's budget)
REF = "mamba2/ref"
VARIANTS = (OURS, REF, "mamba2/fla", "mamba2/mamba-ssm")
#: the reference's training step is a long autograd loop over positions: it has
#: its forward point only
TRAIN_VARIANTS = (OURS, "mamba2/fla", "mamba2/mamba-ssm")
RETNET = "retnet/chunkwise"
INTERLEAVED = (Workload.MIXER_FORWARD, Workload.MIXER_TRAIN_STEP)


def shape_of(config: pytest.Config) -> ModeSpeed:
    """RetNet's mode-speed shapes: the pair is compared at one width and length."""
    return mode_speed(config, "retnet")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    options = get_options(metafunc.config)
    name = metafunc.function.__name__
    ours = selected(options, [OURS]) and runs_here(options, OURS)
    lengths = tuple(sorted(mode_lengths(metafunc.config, "retnet"))) if ours else ()
    if "name" in metafunc.fixturenames:
        names = selected(options, TRAIN_VARIANTS if "train" in name else VARIANTS)
        points = [(n, L) for n in names for L in lengths if n != REF or L == lengths[0]]
        ids = [f"{n}-L{L}" for n, L in points]
        metafunc.parametrize("name,seq_len", points, ids=ids)
    elif "seq_len" in metafunc.fixturenames:
        if name == "test_mamba2_vs_ref_interleaved":
            lengths = lengths[:1]
        elif name == "test_mamba2_vs_retnet_interleaved":
            lengths = lengths[-1:] if selected(options, [RETNET]) else ()
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])
    if "lengths" in metafunc.fixturenames:
        pair = [lengths] if len(lengths) > 1 else []
        metafunc.parametrize("lengths", pair, ids=["-".join(f"L{n}" for n in p) for p in pair])


def chunk_of(shape: ModeSpeed, name: str, workload: Workload, seq_len: int) -> int:
    """The shapes' chunk; retnet's training chunk for retnet only. Mamba-2
    trains at the forward's chunk: each head's (Q, Q) decays make its work
    inside chunks grow as L * Q * heads, so retnet's training chunk (512, the
    RetNet paper's) costs it ~1.4x the time of 128 at L 8K, d_model 512."""
    training = workload == Workload.MIXER_TRAIN_STEP and name.startswith("retnet/")
    chunk = shape.train_chunk_size if training else None
    return min(chunk or shape.chunk_size, seq_len)


def build(request: pytest.FixtureRequest, name: str, workload: Workload, seq_len: int):
    """``name`` at the shapes' width and chunk (retnet with its heads; then the
    run's --mixer-option knobs), on the run's device, in training mode for a
    training step, and the knobs it was built with; skipped where it cannot run."""
    options = get_options(request.config)
    reason = get_spec(name).unavailable_reason(options.device, options.dtype)
    if reason is not None:
        pytest.skip(f"{name} is unavailable: {reason}")
    shape = shape_of(request.config)
    chunk = chunk_of(shape, name, workload, seq_len)
    torch.manual_seed(0)
    mixer, config = mode_mixer(
        options, name, shape.d_model, n_heads=shape.n_heads, chunk_size=chunk
    )
    mixer = mixer.to(options.device, options.dtype).train(workload == Workload.MIXER_TRAIN_STEP)
    return mixer, config


def inputs(request: pytest.FixtureRequest, seq_len: int) -> torch.Tensor:
    options = get_options(request.config)
    device = options.device
    generator = torch.Generator(device=device).manual_seed(1)
    d_model = shape_of(request.config).d_model
    x = torch.randn(BATCH, seq_len, d_model, generator=generator, device=device)
    return x.to(options.dtype)  # drawn in fp32: the same numbers in every dtype


def test_mamba2_forward(benchmark, request, name, seq_len):
    mixer, config = build(request, name, Workload.MIXER_FORWARD, seq_len)
    benchmark.group = f"mamba2-forward-L{seq_len}"
    x = inputs(request, seq_len)
    record = dict(name=name, module=mixer, costs=mixer, config=config)
    time_bare_forward(benchmark, mixer, x, **record)
    benchmark.extra_info["chunk_size"] = mixer.chunk_size


def test_mamba2_train_step(benchmark, request, name, seq_len):
    mixer, config = build(request, name, Workload.MIXER_TRAIN_STEP, seq_len)
    benchmark.group = f"mamba2-train-L{seq_len}"
    x = inputs(request, seq_len)
    record = dict(name=name, module=mixer, costs=mixer, config=config)
    time_bare_train_step(benchmark, mixer, x, **record)
    benchmark.extra_info["chunk_size"] = mixer.chunk_size


def interleave(benchmark, request, names, workload: Workload, seq_len: int) -> None:
    """``names`` (same input) alternated pass by pass in ``workload``."""
    x = inputs(request, seq_len)
    calls = {}
    for name in names:
        mixer = build(request, name, workload, seq_len)[0]
        training = workload == Workload.MIXER_TRAIN_STEP
        calls[name] = train_step_call(mixer, mixer, x) if training else forward_call(mixer, x)
    passes = shape_of(request.config).passes
    time_interleaved(benchmark, calls, x, of_workload=workload, passes=passes)


def test_mamba2_vs_ref_interleaved(benchmark, request, seq_len):
    """The chunked form and the plain scan, same weights' shapes, alternated in
    the forward at the smallest length (the scan's loop is long at the largest)."""
    benchmark.group = "mamba2-vs-ref-interleaved"
    interleave(benchmark, request, [OURS, REF], Workload.MIXER_FORWARD, seq_len)


@pytest.mark.parametrize("workload", INTERLEAVED)
def test_mamba2_vs_retnet_interleaved(benchmark, request, workload, seq_len):
    """mamba2/chunked and retnet/chunkwise at one width and length (``chunk_of``),
    alternated at the largest length: the SSD's chunked form against
    retention's, the same shape of algorithm."""
    benchmark.group = f"mamba2-vs-retnet-interleaved-{workload}"
    interleave(benchmark, request, [OURS, RETNET], workload, seq_len)


def test_mamba2_chunked_forward_scaling(benchmark, request, lengths):
    """mamba2/chunked at every length, alternated pass by pass (one point,
    keys ``mamba2/chunked@L<n>`` in ``interleaved_s``): linear in L means
    8192 over 2048 near 4."""
    calls, x = {}, None
    for seq_len in lengths:
        mixer = build(request, OURS, Workload.MIXER_FORWARD, seq_len)[0]
        x = inputs(request, seq_len)
        calls[values_key(OURS, "length", seq_len)] = forward_call(mixer, x)
    benchmark.group = "mamba2-chunked-scaling"
    passes = shape_of(request.config).passes
    time_interleaved(benchmark, calls, x, of_workload=Workload.MIXER_FORWARD, passes=passes)

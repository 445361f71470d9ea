"""Mamba: the chunked torch scan (mamba/scan) and the C scan (mamba/fused)
against the sequential reference loop, mambapy 1.2.0's parallel scan (its
MambaBlock, carrying the same weights) and mamba-ssm's kernel where it
installs, in the forward (no grad) and the training step (forward + backward
of the bare mixer into its weights and input); ours and mambapy side by side
in alternating passes at the largest length (workload ``interleaved``); and
our training steps against attention/sdpa's, interleaved, at the accuracy
runs' shapes (``vs_attention``) on each of the profile's thread counts.

Run: ``pytest suite/test_mamba_speed.py --profile default``; ours should be
several times faster than the reference at L=4096, ahead of mambapy in both
workloads, and train at most 3x slower per step than attention/sdpa at batch 32,
length 64, d_model 64. Shapes: the profile's ``mode_speed["mamba"]``
(suite/profiles.py); the variants --mixers selects (mambapy and the attention
comparison run where one of ours is selected and runs here).
"""

from __future__ import annotations

import pytest
import torch

from models import get_spec
from schema import Workload
from suite.guard import torch_threads
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
from suite.references import mambapy_block

BATCH = 1
#: our implementations, in torch and in C
OURS = ("mamba/fused", "mamba/scan")
VARIANTS = (*OURS, "mamba/reference", "mamba/mamba-ssm")
#: the reference's training step at the profile's lengths is a long autograd
#: loop over positions: it has its forward point only
TRAIN_VARIANTS = (*OURS, "mamba/mamba-ssm")
#: report rows are keyed by mixer name: mambapy's MambaBlock gets its own
MAMBAPY = "mamba/mambapy-pscan"
INTERLEAVED = (Workload.MIXER_FORWARD, Workload.MIXER_TRAIN_STEP)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    options = get_options(metafunc.config)
    name = metafunc.function.__name__
    ours = runnable(options, OURS)
    # mambapy's block computes its scan in fp32 (A_log.float()) and feeds the
    # result to its out_proj: it runs in fp32 only
    with_mambapy = ours and options.dtype == torch.float32
    if {"name", "seq_len"} <= set(metafunc.fixturenames):
        names = selected(options, TRAIN_VARIANTS if "train" in name else VARIANTS)
        if with_mambapy:
            names.append(MAMBAPY)
        lengths = mode_lengths(metafunc.config, "mamba")
        metafunc.parametrize("name", names)
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])
    elif "seq_len" in metafunc.fixturenames:
        longest = tuple(sorted(mode_lengths(metafunc.config, "mamba")))[-1:]
        lengths = longest if with_mambapy else ()
        metafunc.parametrize("seq_len", lengths, ids=[f"L{n}" for n in lengths])
    if "threads" in metafunc.fixturenames:
        shape = mode_speed(metafunc.config, "mamba")
        both = ours and selected(options, ["attention/sdpa"])
        threads = shape.comparison_threads if both and shape.vs_attention else ()
        metafunc.parametrize("threads", threads, ids=[f"threads{n}" for n in threads])


def runnable(options, names) -> list[str]:
    """The names --mixers selects that can run in this run."""
    return [name for name in selected(options, names) if runs_here(options, name)]


def implementation(request: pytest.FixtureRequest, name: str, d_model: int):
    """(module, costs, knobs) of ``name``: mambapy's block costs what mamba/scan's
    reference does (it runs the same recurrence, with the reference's knobs)."""
    options = get_options(request.config)
    device = options.device
    torch.manual_seed(0)
    if name == MAMBAPY:
        costs, config = mode_mixer(options, "mamba/reference", d_model)
        return mambapy_block(costs.to(device)), costs, config
    reason = get_spec(name).unavailable_reason(device, options.dtype)
    if reason is not None:
        pytest.skip(f"{name} is unavailable: {reason}")
    mixer, config = mode_mixer(options, name, d_model)
    return mixer.to(device, options.dtype), mixer, config


def inputs(request: pytest.FixtureRequest, batch: int, seq_len: int, d_model: int):
    options = get_options(request.config)
    generator = torch.Generator(device=options.device).manual_seed(1)
    x = torch.randn(batch, seq_len, d_model, generator=generator, device=options.device)
    return x.to(options.dtype)  # drawn in fp32: the same numbers in every dtype


def test_mamba_forward(benchmark, request, name, seq_len):
    d_model = mode_speed(request.config, "mamba").d_model
    module, costs, config = implementation(request, name, d_model)
    module.eval()
    x = inputs(request, BATCH, seq_len, d_model)
    benchmark.group = f"mamba-forward-L{seq_len}"
    record = dict(name=name, module=module, costs=costs, config=config)
    time_bare_forward(benchmark, module, x, **record)


def test_mamba_train_step(benchmark, request, name, seq_len):
    d_model = mode_speed(request.config, "mamba").d_model
    module, costs, config = implementation(request, name, d_model)
    x = inputs(request, BATCH, seq_len, d_model)
    benchmark.group = f"mamba-train-L{seq_len}"
    record = dict(name=name, module=module, costs=costs, config=config)
    time_bare_train_step(benchmark, module, x, **record)


@pytest.mark.parametrize("workload", INTERLEAVED)
def test_mamba_vs_mambapy_interleaved(benchmark, request, workload, seq_len):
    """Ours and mambapy's pscan, same weights, alternated at the largest length."""
    shape = mode_speed(request.config, "mamba")
    modules = {
        name: implementation(request, name, shape.d_model)[0]
        for name in runnable(get_options(request.config), OURS)
    }
    modules[MAMBAPY] = mambapy_block(next(iter(modules.values())))
    x = inputs(request, BATCH, seq_len, shape.d_model)
    training = workload == Workload.MIXER_TRAIN_STEP
    calls = {}
    for name, module in modules.items():
        module.train(training)
        calls[name] = train_step_call(module, module, x) if training else forward_call(module, x)
    benchmark.group = f"mamba-interleaved-{workload}"
    time_interleaved(benchmark, calls, x, of_workload=workload, passes=shape.passes)


def test_mamba_vs_attention_train_step(benchmark, request, threads):
    """Our training steps and attention/sdpa's at the accuracy runs' shapes
    (bare mixers, same input), alternated pass by pass, on ``threads``."""
    shape = mode_speed(request.config, "mamba")
    batch, seq_len, d_model = shape.vs_attention
    options = get_options(request.config)
    x = inputs(request, batch, seq_len, d_model)
    offered = {name: {} for name in runnable(options, OURS)}
    offered["attention/sdpa"] = {"n_heads": shape.n_heads}
    calls = {}
    for name, shared in offered.items():
        torch.manual_seed(0)
        mixer = mode_mixer(options, name, d_model, **shared)[0]
        mixer = mixer.to(options.device, options.dtype)
        calls[name] = train_step_call(mixer, mixer, x)
    benchmark.group = f"mamba-vs-attention-train-threads{threads}"
    with torch_threads(threads):
        time_interleaved(
            benchmark, calls, x, of_workload=Workload.MIXER_TRAIN_STEP, passes=3 * shape.passes
        )
        benchmark.extra_info["threads"] = torch.get_num_threads()

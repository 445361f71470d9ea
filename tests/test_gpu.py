"""On a GPU only (``pytest tests -m gpu``; skipped on a CPU by tests/conftest.py):
each family's GPU variants against their references, CUDA events against
host timing, the matmul peak against the datasheet's order of magnitude,
the allocator's figures of a known allocation, a captured decode step
against the eager one, and a real out-of-memory error recorded ``oom`` with
the next point ok. tests/test_gpu_path.py runs the same paths on the CPU
through fakes."""

from __future__ import annotations

import time

import pytest
import torch

import suite.sweep as sweep
from models.registry import get_spec, list_mixers
from schema import Status
from suite.contention import ContentionProbe
from suite.measure import (
    EventClock,
    available_memory_bytes,
    matmul_peak_flops_per_s,
    memory_figures,
    synchronized,
    time_once,
)
from suite.options import resolve_options
from suite.records import recorded_failures
from suite.workloads import Call, Workload, build_backbone, check_against_reference, decode_workload
from tests.test_gpu_path import FakeBenchmark, fake_request, smoke_shape

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")
#: the variants a GPU run is for: each family's fastest where it is installed
GPU_VARIANTS = (
    "attention/sdpa",
    "attention/flash-attn",
    "attention/xformers",
    "retnet/chunkwise",
    "retnet/fla",
    "mamba/scan",
    "mamba/mamba-ssm",
    "mamba2/chunked",
    "mamba2/fla",
    "mamba2/mamba-ssm",
    "hyena/fft",
)
#: an H100's dense bf16 matmul is ~800 TFLOP/s; any datacenter GPU of the last
#: five years does over 1e13 (a figure below it measures the launch)
MIN_BF16_PEAK = 1e13


def gpu_options(**raw: str):
    names = [spec.name for spec in list_mixers()]
    raw = {"profile": "smoke", "device": "cuda", "dtype": "bfloat16", **raw}
    return resolve_options(raw, names, cuda_available=True)


@pytest.mark.parametrize("name", GPU_VARIANTS)
def test_a_gpu_variant_agrees_with_its_reference(name: str) -> None:
    spec = get_spec(name)
    reason = spec.unavailable_reason(CUDA, torch.bfloat16)
    if reason is not None:
        pytest.skip(f"{name} is unavailable: {reason}")
    check = check_against_reference(spec, gpu_options(mixers=name))
    assert not check.failures(spec.cls.reference_tolerance), check


def test_cuda_events_agree_with_host_timing_of_a_long_call() -> None:
    a = torch.randn(8192, 8192, device=CUDA, dtype=torch.bfloat16)

    def products() -> None:
        for _ in range(20):
            a @ a

    products()
    clock = EventClock(synchronized(products, CUDA), CUDA)
    for _ in range(5):
        clock()
    events_s = sorted(clock.per_round(5, 1))[2]
    host_s = sorted(time_once(synchronized(products, CUDA)) for _ in range(5))[2]
    # the host adds its launch and wait (tens of microseconds) to ~20 ms of kernels
    assert events_s == pytest.approx(host_s, rel=0.1)
    assert events_s <= host_s


def test_the_bf16_matmul_peak_is_of_the_datasheets_order() -> None:
    peak = matmul_peak_flops_per_s(CUDA, torch.bfloat16)
    assert MIN_BF16_PEAK <= peak < 1e16


def test_the_allocators_figures_of_a_known_allocation() -> None:
    size = 256 * 2**20

    def allocate() -> None:
        torch.empty(size, dtype=torch.uint8, device=CUDA).fill_(1)

    figures = memory_figures(allocate, CUDA)
    assert figures["peak_mem_bytes"] == size
    assert figures["peak_reserved_bytes"] >= size
    if figures["device_mem_bytes"] is not None:  # NVML installed
        assert figures["device_mem_bytes"] >= size


def test_a_captured_decode_step_decodes_what_the_eager_one_does() -> None:
    options = gpu_options(mixers="mamba/scan")
    model = build_backbone(get_spec("mamba/scan"), smoke_shape(options, 64), options, CUDA)
    tokens = options.profile.decode_tokens
    rounds = {}
    for graphs in (False, True):
        work = decode_workload(model, Call(1, 64, CUDA, tokens, graphs))
        work.prepare(2 * tokens)
        rounds[graphs] = [work.call().clone() for _ in range(2 * tokens)]
        assert work.cuda_graph == ("captured" if graphs else None)
    for eager, replayed in zip(rounds[False], rounds[True], strict=True):
        torch.testing.assert_close(replayed, eager, atol=2e-2, rtol=2e-2)


def test_a_real_oom_is_recorded_and_the_next_point_runs(monkeypatch) -> None:
    options = gpu_options(mixers="attention/sdpa,mamba2/chunked")
    request = fake_request(options)
    too_much = 2 * torch.cuda.get_device_properties(CUDA).total_memory
    real_build = sweep.build_workload

    def planted(workload, model, call):
        if "Attention" not in type(model.mixers[0]).__name__:
            return real_build(workload, model, call)

        def run_out() -> None:
            held = torch.ones(2**30, dtype=torch.uint8, device=CUDA)  # held by the frame
            torch.empty(too_much, dtype=held.dtype, device=CUDA)

        return Workload(run_out, 1, 1)

    monkeypatch.setattr(sweep, "build_workload", planted)
    history = sweep.session_history(request.config)  # the session's meters, kept on the GPU
    sweep.warm_up_instruments(CUDA)
    history.instruments_ready, history.probe = True, ContentionProbe(CUDA)
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated(CUDA)
    with pytest.raises(pytest.skip.Exception, match="oom: "):
        sweep.run_point(request, FakeBenchmark(), sweep.Point(
            "attention/sdpa", "forward", "length", smoke_shape(options, 32)
        ))  # fmt: skip
    # the failed point's GiB is gone (cuBLAS may have kept a workspace of a few MiB)
    assert torch.cuda.memory_allocated(CUDA) < before + 2**26
    assert available_memory_bytes(CUDA) > 0.5 * torch.cuda.get_device_properties(CUDA).total_memory
    benchmark = FakeBenchmark()
    point = sweep.Point("mamba2/chunked", "forward", "length", smoke_shape(options, 32))
    start = time.perf_counter()
    sweep.run_point(request, benchmark, point)
    assert time.perf_counter() - start < options.time_budget_s
    assert [f["extra_info"]["status"] for f in recorded_failures(request.config)] == [Status.OOM]
    assert benchmark.extra_info["status"] == Status.OK
    assert benchmark.extra_info["timer"] == "cuda_events"
    assert benchmark.extra_info["peak_reserved_bytes"] >= benchmark.extra_info["peak_mem_bytes"]

"""The GPU path of the measurement layer, on the CPU: CUDA-only calls are
replaced by fakes (CUDA events, the allocator's counters, NVML), and the
suite's out-of-memory handling runs a planted out-of-memory error through
``run_point`` itself. tests/test_gpu.py runs the same paths on a real GPU."""

from __future__ import annotations

import gc
import sys
import time
import weakref
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import suite.interleave as interleave
import suite.measure as measure
import suite.sweep as sweep
from models import get_spec
from models.base import Mixer
from schema import EXTRA_INFO_KEYS, METRICS_BY_FIELD, Status
from suite.modes import mode_mixer
from suite.options import _OPTIONS_KEY, resolve_options
from suite.records import recorded_failures
from suite.workloads import (
    Call,
    DecodeLoop,
    Workload,
    build_backbone,
    capture_problem,
    check_dtype,
    decode_loop,
    decode_workload,
    host_values,
    tensors_of,
)

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


def smoke_options(**raw: str):
    from models.registry import list_mixers

    names = [spec.name for spec in list_mixers()]
    return resolve_options({"profile": "smoke", **raw}, names, cuda_available=False)


# -- the peak ----------------------------------------------------------------------
def test_the_cpu_peak_is_still_the_best_of_five_host_timed_1024_products(monkeypatch) -> None:
    times = iter([4.0, 2.0, 3.0, 5.0, 6.0])
    made = []
    real_randn = torch.randn
    monkeypatch.setattr(measure, "time_once", lambda fn: next(times))
    monkeypatch.setattr(torch, "randn", lambda *shape, **kw: made.append(shape) or real_randn(2, 2))
    assert measure.matmul_peak_flops_per_s(CPU, torch.float32) == 2 * 1024**3 / 2.0
    assert made == [(1024, 1024), (1024, 1024)]
    assert next(times, None) is None  # all five timed


def test_the_cuda_peak_is_an_event_timed_8192_product_median(monkeypatch) -> None:
    fake_cuda_events(monkeypatch, [0.5, 0.1, 0.2, 0.3, 0.4])
    made = []
    monkeypatch.setattr(torch, "randn", lambda *shape, **kw: made.append(shape) or torch.ones(2, 2))
    peak = measure.cuda_matmul_peak_flops_per_s(CUDA, torch.bfloat16, repeats=5)
    assert made == [(8192, 8192), (8192, 8192)]
    assert peak == pytest.approx(2 * 8192**3 / 0.3)  # the median, not the best


# -- CUDA events, faked ------------------------------------------------------------------
class FakeEvent:
    """A CUDA event whose elapsed time is the next of a list of seconds."""

    durations: list[float] = []
    log: list[str] = []

    def __init__(self, enable_timing: bool = False) -> None:
        self.enable_timing = enable_timing

    def record(self) -> None:
        FakeEvent.log.append("record")

    def elapsed_time(self, end: FakeEvent) -> float:
        return FakeEvent.durations.pop(0) * 1e3  # milliseconds, as CUDA's


def fake_cuda_events(monkeypatch, durations: list[float]) -> None:
    FakeEvent.durations, FakeEvent.log = list(durations), []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


def test_event_clock_times_each_call_between_events_and_leaves_setup_out(monkeypatch) -> None:
    fake_cuda_events(monkeypatch, [1.0, 3.0, 2.0, 6.0])

    def call() -> None:
        FakeEvent.log.append("call")

    clock = measure.EventClock(call, CUDA, setup=lambda: FakeEvent.log.append("setup"))
    for _ in range(4):
        clock()
    assert FakeEvent.log[:4] == ["setup", "record", "call", "record"]
    assert clock.per_round(2, 2) == [2.0, 4.0]  # seconds per call of each round
    assert clock.per_round(3, 2) is None


def test_the_event_clock_times_the_call_inside_synchronized(monkeypatch) -> None:
    def call() -> int:
        return 7

    wrapped = measure.Synchronized(call, CUDA)
    assert measure.EventClock(wrapped, CUDA).fn is call
    assert measure.unsynchronized(call) is call


def test_warm_up_is_measured_in_seconds_not_calls() -> None:
    calls = []
    assert measure.warm_up(lambda: calls.append(1), 0.0) == 0 and not calls
    start = time.perf_counter()
    made = measure.warm_up(lambda: time.sleep(0.01), 0.05)
    assert time.perf_counter() - start >= 0.05 and made >= 3
    # a call slower than the warm-up still runs once
    assert measure.warm_up(lambda: time.sleep(0.03), 0.01) == 1


# -- memory, faked --------------------------------------------------------------------
def test_cuda_available_memory_counts_the_allocators_free_pool(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (10 * 2**30, 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 30 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 12 * 2**30)
    assert measure.available_memory_bytes(CUDA) == 28 * 2**30


def test_cuda_memory_figures_are_peaks_above_the_start_and_nvmls_process_memory(
    monkeypatch,
) -> None:
    counters = {"allocated": 100, "reserved": 200, "max_allocated": 100, "max_reserved": 200}
    emptied = []
    cuda = torch.cuda
    monkeypatch.setattr(cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(cuda, "empty_cache", lambda: emptied.append(True))
    monkeypatch.setattr(cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(cuda, "memory_allocated", lambda device=None: counters["allocated"])
    monkeypatch.setattr(cuda, "memory_reserved", lambda device=None: counters["reserved"])
    monkeypatch.setattr(cuda, "max_memory_allocated", lambda device=None: counters["max_allocated"])
    monkeypatch.setattr(cuda, "max_memory_reserved", lambda device=None: counters["max_reserved"])
    monkeypatch.setattr(measure, "nvml_process_memory_bytes", lambda device: 5000)

    def call() -> None:
        counters.update(max_allocated=1100, max_reserved=2200)

    figures = measure.memory_figures(call, CUDA)
    assert figures == {
        "peak_mem_bytes": 1000,
        "peak_reserved_bytes": 2000,
        "device_mem_bytes": 5000,
    }
    assert emptied  # reserving is measured from the live tensors, not a stale cache


def fake_pynvml(monkeypatch, processes: list[Any]) -> None:
    lib = SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda index: f"gpu{index}",
        nvmlDeviceGetComputeRunningProcesses=lambda handle: processes,
        nvmlSystemGetDriverVersion=lambda: "580.82",
        nvmlDeviceGetClockInfo=lambda handle, kind: {"sm": 1980, "mem": 2619}[kind],
        nvmlDeviceGetMaxClockInfo=lambda handle, kind: 1980,
        nvmlDeviceGetPowerManagementLimit=lambda handle: 700_000,
        NVML_CLOCK_SM="sm",
        NVML_CLOCK_MEM="mem",
    )
    monkeypatch.setitem(sys.modules, "pynvml", lib)


def test_nvml_reads_this_processes_device_memory(monkeypatch) -> None:
    mine = SimpleNamespace(pid=measure.os.getpid(), usedGpuMemory=3 * 2**30)
    other = SimpleNamespace(pid=-1, usedGpuMemory=50 * 2**30)
    fake_pynvml(monkeypatch, [other, mine])
    assert measure.nvml_process_memory_bytes(torch.device("cuda", 0)) == 3 * 2**30
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed
    assert measure.nvml_process_memory_bytes(torch.device("cuda", 0)) is None


def test_machine_info_names_the_gpus_driver_clocks_and_power_limit(monkeypatch) -> None:
    fake_pynvml(monkeypatch, [])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    info = measure.gpu_machine_info(torch.device("cuda", 0))
    assert info == {
        "gpu_name": "NVIDIA H100 80GB HBM3",
        "gpu_driver": "580.82",
        "gpu_sm_clock_mhz": 1980,
        "gpu_max_sm_clock_mhz": 1980,
        "gpu_memory_clock_mhz": 2619,
        "gpu_power_limit_w": 700.0,
    }
    monkeypatch.setitem(sys.modules, "pynvml", None)
    without = measure.gpu_machine_info(torch.device("cuda", 0))
    assert without["gpu_driver"] is None and "pynvml" in without["gpu_nvml"]
    assert measure.gpu_machine_info(CPU) == {}


def test_the_three_memory_figures_are_schema_metrics_with_one_definition_each() -> None:
    for field in ("peak_mem_bytes", "peak_reserved_bytes", "device_mem_bytes"):
        metric = METRICS_BY_FIELD[field]
        assert metric.doc and metric.label and field in EXTRA_INFO_KEYS
    point = measure.point_meters(lambda: torch.ones(1000).sum(), CPU)
    assert point["peak_reserved_bytes"] is None and point["device_mem_bytes"] is None


# -- options ------------------------------------------------------------------------------
def test_the_gpu_options_parse_and_the_warm_up_defaults_by_device() -> None:
    options = smoke_options()
    assert options.flush_l2 is False and options.cuda_graphs is False
    assert options.warmup_seconds == 0.0
    on = smoke_options(flush_l2="on", cuda_graphs="on", warmup_s="2.5")
    assert on.flush_l2 and on.cuda_graphs and on.warmup_seconds == 2.5
    cuda = resolve_options({"profile": "smoke", "device": "cuda"}, ["attention/sdpa"], True)
    assert cuda.warmup_seconds == 1.0
    with pytest.raises(pytest.UsageError, match="--warmup-s '-1': must be 0 or a positive"):
        smoke_options(warmup_s="-1")


# -- decode: one state copy at a time, CUDA graphs ----------------------------------------
def smoke_decode(name: str, **call: Any) -> tuple[Any, Workload]:
    options = smoke_options(mixers=name)
    shape = {"length": 32, "batch": 1, "d_model": options.d_model}
    model = build_backbone(get_spec(name), shape, options, "cpu")
    tokens = options.profile.decode_tokens
    return model, decode_workload(model, Call(1, 32, CPU, tokens, **call))


def test_decode_makes_no_copies_up_front_and_one_per_round(monkeypatch) -> None:
    _, work = smoke_decode("attention/sdpa")
    loop = work.call
    rewinds = []
    real = DecodeLoop.rewind
    monkeypatch.setattr(loop, "rewind", lambda: rewinds.append(1) or real(loop))
    assert measure.cpu_peak_memory_bytes(lambda: work.prepare(1000 * work.iterations)) == 0
    for _ in range(3 * work.iterations):
        work.setup()  # the clocks call it before each call, outside their timing
        work.call()
    assert len(rewinds) == 3


def test_cuda_graphs_say_why_a_step_cannot_be_captured() -> None:
    model, work = smoke_decode("attention/sdpa", cuda_graphs=True)
    assert work.cuda_graph == "not captured: CUDA graphs need a CUDA device"
    with torch.no_grad():
        _, states = model.prefill(torch.zeros(1, 8, dtype=torch.long))
    problem = capture_problem(model, states, torch.zeros(1, dtype=torch.long))
    assert "host-side values" in problem and "KVCache.length" in problem
    _, plain = smoke_decode("attention/sdpa")
    assert plain.cuda_graph is None


def test_a_state_on_the_device_only_has_no_capture_problem() -> None:
    class Linear(torch.nn.Module):
        def step(self, token: torch.Tensor, state: list[torch.Tensor]):
            return token.float(), [state[0] + 1]

    state = [torch.zeros(3)]
    assert capture_problem(Linear(), state, torch.ones(1)) is None
    loop, graphed = decode_loop(Linear(), state, torch.ones(1), Call(1, 4, CPU, 2, True))
    assert isinstance(loop, DecodeLoop) and graphed.startswith("not captured")


def test_host_values_and_tensors_of_walk_a_nested_state() -> None:
    state = [{"k": torch.ones(2), "n": 3}, SimpleNamespace(v=torch.zeros(1), length=5)]
    assert host_values(state) == {"state[0]['n']": 3, "SimpleNamespace.length": 5}
    assert [t.shape for t in tensors_of(state)] == [torch.Size([2]), torch.Size([1])]


# -- known limits are unavailability ----------------------------------------------------
def test_a_kernels_shape_limit_makes_a_point_unavailable(monkeypatch) -> None:
    assert Mixer.shape_problem(64) is None
    options = smoke_options(mixers="attention/sdpa")
    spec = get_spec("attention/sdpa")
    point = sweep.Point("attention/sdpa", "forward", "length", smoke_shape(options, 32))
    assert sweep.unavailable_reason(options, spec, point) is None
    monkeypatch.setattr(
        spec.cls, "shape_problem", classmethod(lambda cls, d_model, **config: f"d {d_model}")
    )
    assert sweep.unavailable_reason(options, spec, point) == f"d {options.d_model}"
    with pytest.raises(pytest.skip.Exception, match="unavailable: d 32"):
        mode_mixer(options, "attention/sdpa", 32)


def test_flash_attns_head_dim_limit_is_a_shape_problem() -> None:
    flash = get_spec("attention/flash-attn").cls
    assert "head dim 512 > 256" in flash.shape_problem(4096, n_heads=8)
    assert flash.shape_problem(2048, n_heads=8) is None


def test_the_reference_check_runs_in_bf16_where_a_kernel_refuses_fp32() -> None:
    assert check_dtype(get_spec("attention/flash-attn"), CUDA) == torch.bfloat16
    assert check_dtype(get_spec("attention/sdpa"), CUDA) == torch.float32
    assert check_dtype(get_spec("attention/sdpa"), CPU) == torch.float64


# -- no false out-of-memory ----------------------------------------------------------
class FakeBenchmark:
    """pytest-benchmark's fixture as run_point uses it."""

    def __init__(self) -> None:
        self.group, self.extra_info, self.has_error = None, {}, False
        self.stats = None

    def pedantic(self, target, rounds: int, iterations: int = 1, warmup_rounds: int = 0):
        data = []
        for _ in range(warmup_rounds):
            for _ in range(iterations):
                target()
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(iterations):
                target()
            data.append((time.perf_counter() - start) / iterations)
        self.stats = SimpleNamespace(stats=SimpleNamespace(data=data))


def fake_request(options) -> Any:
    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[_OPTIONS_KEY] = options
    return SimpleNamespace(config=config, node=SimpleNamespace(name="point", nodeid="point"))


def smoke_shape(options, length: int) -> dict[str, int]:
    return {"length": length, "batch": options.batch, "d_model": options.d_model}


@pytest.mark.parametrize(
    "error",
    [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 16.00 GiB"),
     RuntimeError("CUDA out of memory. Tried to allocate 2.00 MiB")],
    ids=["OutOfMemoryError", "RuntimeError"],
)  # fmt: skip
def test_a_planted_oom_is_recorded_its_memory_freed_and_the_next_point_runs(
    monkeypatch, error: Exception
) -> None:
    options = smoke_options(mixers="attention/sdpa,retnet/recurrent")
    request = fake_request(options)
    left: list[weakref.ref] = []
    freed: list[tuple[bool, Any]] = []
    real_build = sweep.build_workload

    def planted(workload, model, call):
        work = real_build(workload, model, call)
        if "Attention" not in type(model.mixers[0]).__name__:
            return work

        def run_out() -> None:
            held = torch.ones(2**20)  # the failed point's tensor, held by its frame
            left.append(weakref.ref(held))
            raise type(error)(*error.args)  # a new one, as an allocator raises

        return Workload(run_out, 1, 1)

    def spy_free(device) -> None:
        gc.collect()
        freed.append((all(ref() is None for ref in left), sys.exc_info()[0]))

    monkeypatch.setattr(sweep, "build_workload", planted)
    monkeypatch.setattr(sweep, "free_memory", spy_free)
    for mixer in ("attention/sdpa", "retnet/recurrent"):
        point = sweep.Point(mixer, "forward", "length", smoke_shape(options, 32))
        benchmark = FakeBenchmark()
        if mixer == "attention/sdpa":
            with pytest.raises(pytest.skip.Exception, match="oom: "):
                sweep.run_point(request, benchmark, point)
        else:
            sweep.run_point(request, benchmark, point)
    failures = recorded_failures(request.config)
    assert [f["extra_info"]["status"] for f in failures] == [Status.OOM]
    assert "out of memory" in failures[0]["extra_info"]["reason"]
    assert freed[0] == (True, None)  # freed with no exception alive: its tensor was gone
    assert benchmark.extra_info["status"] == Status.OK and benchmark.extra_info["round_times_s"]
    assert benchmark.extra_info["timer"] == "thread_cpu"
    assert benchmark.extra_info["l2_flushed"] is False


# -- interleaved comparisons where memory is short ----------------------------------
def timed_work(name: str, log: list[str]) -> Workload:
    return Workload(lambda: log.append(name), 1, 1)


def test_short_memory_times_the_mixers_one_at_a_time(monkeypatch) -> None:
    options = smoke_options()
    request, benchmark, log = fake_request(options), FakeBenchmark(), []
    builders = {name: (lambda name=name: timed_work(name, log)) for name in ("a", "b")}
    monkeypatch.setattr(interleave, "available_memory_bytes", lambda device: 100)
    info = {"workload": "interleaved", "reason": None}
    interleave.compare(request, benchmark, options, builders, info, [80, 80])
    assert interleave.ONE_AT_A_TIME in benchmark.extra_info["reason"]
    times = benchmark.extra_info["interleaved_s"]
    assert set(times) == {"a", "b"} and len(times["a"]) == len(times["b"]) >= 2
    assert log.index("b") > len(log) // 2 - 1  # every a before the first b
    assert "a" not in log[log.index("b") :]


def test_an_oom_building_them_together_falls_back_and_one_alone_is_recorded_oom() -> None:
    options = smoke_options()
    log: list[str] = []
    built = {"b": 0}

    def build_b() -> Workload:
        built["b"] += 1
        if built["b"] == 1:  # beside a's, b does not fit
            raise torch.OutOfMemoryError("CUDA out of memory")
        return timed_work("b", log)

    builders = {"a": lambda: timed_work("a", log), "b": build_b}
    benchmark = FakeBenchmark()
    interleave.compare(fake_request(options), benchmark, options, builders, {"reason": None}, [])
    assert interleave.ONE_AT_A_TIME in benchmark.extra_info["reason"]

    def never() -> Workload:
        raise RuntimeError("CUDA out of memory. Tried to allocate 1.00 GiB")

    request = fake_request(options)
    with pytest.raises(pytest.skip.Exception, match="oom"):
        interleave.compare(request, FakeBenchmark(), options, {"a": never}, {"reason": None}, [])
    assert recorded_failures(request.config)[0]["extra_info"]["status"] == Status.OOM


def test_pedantic_rounds_on_cuda_save_the_events_times_as_the_stats(monkeypatch) -> None:
    fake_cuda_events(monkeypatch, [0.5, 0.25, 0.75])
    benchmark = FakeBenchmark()
    timed = measure.pedantic_rounds(benchmark, lambda: None, CUDA, rounds=3)
    assert timed == benchmark.stats.stats.data == [0.5, 0.25, 0.75]
    on_cpu = FakeBenchmark()
    host = measure.pedantic_rounds(on_cpu, lambda: None, CPU, rounds=2)
    assert host == on_cpu.stats.stats.data and len(host) == 2 and max(host) < 0.25

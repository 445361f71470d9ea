"""The speed suite end to end (a smoke run in a subprocess: saved JSON, every
key, failures, pytest-benchmark's compare) and the pieces of a sweep: decode
rounds, analytic FLOPs, prediction and round sizing."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.registry import get_spec, list_mixers
from reports.fits import BOOTSTRAP, MIN_PASSES, PASSES
from reports.load import load_points, run_file
from reports.tables import scaling_table
from schema import (
    EXTRA_INFO_KEYS,
    FAILURES_KEY,
    SPEED_WORKLOADS,
    Status,
    timed_rounds,
    values_key,
    values_of_keys,
)
from suite.measure import counted_flops, memory_and_flops, peak_memory_bytes
from suite.options import resolve_options
from suite.sweep import (
    Outcome,
    Point,
    SweepHistory,
    doomed_by_first_call,
    expected_meter_calls,
    left_out_reason,
    predict,
    rounds_for,
)
from suite.workloads import (
    Call,
    analytic_flops,
    build_backbone,
    check_against_reference,
    decode_workload,
)

ROOT = Path(__file__).resolve().parents[1]
SMOKE_MIXERS = "attention/sdpa,attention/flash-attn,retnet/recurrent"
#: the recurrent forward at 4096 is a token loop far over a 10 s budget
SMOKE_ARGS = ["--lengths", "32,64,4096", "--time-budget-s", "10"]
MODE_FAMILIES = ("retnet", "mamba", "mamba2", "hyena")


def smoke_options(**raw: str):
    names = [spec.name for spec in list_mixers()]
    return resolve_options({"profile": "smoke", **raw}, names, cuda_available=False)


def smoke_shape(options, length: int) -> dict[str, int]:
    return {"length": length, "batch": options.batch, "d_model": options.d_model}


def run_smoke_speed(
    mixers: str, *args: str, timeout: int, files: tuple[str, ...] = ("suite/test_speed.py",)
) -> subprocess.CompletedProcess:
    """Speed files on the CPU with the smoke profile, in a subprocess."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *files,
        "--profile",
        "smoke",
        "--device",
        "cpu",
        "--mixers",
        mixers,
        *args,
        "-q",
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    storage = tmp_path_factory.mktemp("benchmarks")
    done = run_smoke_speed(
        SMOKE_MIXERS,
        *SMOKE_ARGS,
        "--benchmark-autosave",
        "--benchmark-storage",
        str(storage),
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    saved = list(storage.rglob("*.json"))
    assert len(saved) == 1, saved
    return json.loads(saved[0].read_text()), storage


def test_every_benchmark_carries_every_key(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    benchmarks = [b for b in data["benchmarks"] if b["extra_info"]["workload"] in SPEED_WORKLOADS]
    workloads = {b["extra_info"]["workload"] for b in benchmarks}
    assert workloads == {"forward", "train_step", "prefill", "decode"}
    for bench in benchmarks:
        info = bench["extra_info"]
        assert set(EXTRA_INFO_KEYS) <= set(info), bench["name"]
        assert info["status"] == "ok" and info["sweep"] == "length"
        assert info["mixer_class"].startswith("models.")
        assert bench["group"] == f"{info['workload']}-L{info['seq_len']}"
        for key in ("params", "flops", "peak_mem_bytes", "state_bytes", "tokens_per_s"):
            assert info[key] > 0, (bench["name"], key)
        assert info["contention"] >= 1 and isinstance(info["contended"], bool)
        assert len(info["round_times_s"]) == bench["stats"]["rounds"]
        # the timing thread's CPU seconds of each round: at most its wall seconds (+ clock slack)
        assert len(info["round_cpu_s"]) == len(info["round_times_s"])
        for wall, cpu in zip(info["round_times_s"], info["round_cpu_s"], strict=True):
            assert 0 < cpu <= 1.05 * wall + 1e-4
        assert info["ref_rel_err"] <= 1e-4
    names = {b["name"] for b in benchmarks}
    assert "test_decode[retnet/recurrent-L64]" in names
    assert "test_forward[attention/sdpa-L4096]" in names


def test_mixers_are_interleaved_after_each_sweep(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    interleaved = {
        b["extra_info"]["of_workload"]: b
        for b in data["benchmarks"]
        if b["extra_info"]["workload"] == "interleaved" and b["extra_info"]["mixer"] is None
    }
    assert set(interleaved) == set(SPEED_WORKLOADS)
    for bench in interleaved.values():
        times = bench["extra_info"]["interleaved_s"]
        assert {"attention/sdpa", "retnet/recurrent"} <= set(times)
        assert {len(t) for t in times.values()} == {bench["stats"]["rounds"]}
        cpu = bench["extra_info"]["interleaved_cpu_s"]
        assert {name: len(t) for name, t in cpu.items()} == {n: len(t) for n, t in times.items()}
    # the token-loop forward ran out of budget at 4096: the comparison is at 64
    assert interleaved["forward"]["extra_info"]["seq_len"] == 64


def test_each_mixers_decode_lengths_are_interleaved_for_its_slope(smoke_run) -> None:
    data, storage = smoke_run
    found = {
        b["extra_info"]["mixer"]: b["extra_info"]
        for b in data["benchmarks"]
        if b["extra_info"]["workload"] == "interleaved" and b["extra_info"]["mixer"]
    }
    assert set(found) == {"attention/sdpa", "retnet/recurrent"}  # flash-attn is not here
    for mixer, info in found.items():
        assert info["of_workload"] == "decode"
        lengths = sorted(
            b["extra_info"]["seq_len"]
            for b in data["benchmarks"]
            if b["extra_info"]["workload"] == "decode" and b["extra_info"]["mixer"] == mixer
        )
        assert values_of_keys(list(info["interleaved_s"]), "length") == {
            values_key(mixer, "length", n): n for n in lengths
        }
    # the report fits their decode slopes pass by pass, where there were passes enough
    points = load_points([run_file(next(storage.rglob("*.json")))])
    table = scaling_table(points, "all").frame.set_index(["workload", "mixer"])
    passes = len(next(iter(found["retnet/recurrent"]["interleaved_s"].values())))
    expected = PASSES if passes >= MIN_PASSES else BOOTSTRAP
    assert table.loc[("decode", "retnet/recurrent"), "time_interval"] == expected


def test_decode_stats_are_per_token(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    decode = [b for b in data["benchmarks"] if b["extra_info"]["workload"] == "decode"]
    tokens = data["mixbench_options"]["decode_tokens"]
    for bench in decode:
        assert bench["stats"]["iterations"] == tokens
        info = bench["extra_info"]
        rounds = timed_rounds(info["round_times_s"], info["round_cpu_s"])
        assert info["tokens_per_s"] == pytest.approx(1 / statistics.median(rounds))


def test_points_that_did_not_run_are_saved_with_their_status(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    failures = data[FAILURES_KEY]
    for entry in failures:
        assert set(entry) == {"name", "fullname", "group", "extra_info"}
        assert set(EXTRA_INFO_KEYS) <= set(entry["extra_info"])
        assert entry["extra_info"]["reason"]
    by_name = {entry["name"]: entry["extra_info"] for entry in failures}
    unavailable = by_name["test_forward[attention/flash-attn-L32]"]
    assert unavailable["status"] == "unavailable"
    assert "flash_attn" in unavailable["reason"]
    slow = by_name["test_forward[retnet/recurrent-L4096]"]
    assert slow["status"] == "timeout"
    # predicted from the shorter points, or stopped by the budget: a recorded timeout either way
    assert slow["reason"].startswith("predicted") or "time budget" in slow["reason"]
    assert slow["seq_len"] == 4096 and slow["flops"] > 0
    assert not {b["name"] for b in data["benchmarks"]} & set(by_name)
    assert data["machine_info"]["torch_version"] == torch.__version__
    assert data["machine_info"]["torch_threads"] >= 1
    assert data["mixbench_partial"] is False


def test_pytest_benchmark_compare_reads_the_saved_run(smoke_run: tuple[dict, Path]) -> None:
    _, storage = smoke_run
    command = [
        sys.executable,
        "-m",
        "pytest_benchmark",
        "--storage",
        str(storage),
        "compare",
        "--group-by",
        "group",
        "--columns",
        "median,rounds",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "retnet/recurrent-L64" in done.stdout


def test_decode_rounds_start_from_the_same_context() -> None:
    options = smoke_options(mixers="attention/sdpa")
    model = build_backbone(get_spec("attention/sdpa"), smoke_shape(options, 32), options, "cpu")
    work = decode_workload(model, Call(1, 32, torch.device("cpu"), options.profile.decode_tokens))
    per_round = options.profile.decode_tokens
    work.prepare(3 * per_round)
    first_round = [work.call() for _ in range(per_round)]
    second_round = [work.call() for _ in range(per_round)]
    for a, b in zip(first_round, second_round, strict=True):
        torch.testing.assert_close(a, b)


def test_analytic_flops_add_the_backbone_matmuls_to_the_mixers() -> None:
    options = smoke_options(mixers="attention/sdpa")
    model = build_backbone(get_spec("attention/sdpa"), smoke_shape(options, 64), options, "meta")
    d, vocab, length = options.d_model, model.cfg.vocab_size, 64
    dense = 2 * 2 * length * d * 4 * d + 2 * length * vocab * d
    mixer = model.mixers[0].flops(1, length)
    assert analytic_flops(model, "forward", 1, length) == mixer + dense
    assert analytic_flops(model, "train_step", 1, length) == 3 * (mixer + dense)


def test_prefill_flops_count_what_prefill_runs() -> None:
    """retnet/recurrent prefills in the chunkwise form, not token by token:
    the same count as retnet/chunkwise's prefill, not its own forward's."""
    counts = {}
    for name in ("retnet/recurrent", "retnet/chunkwise"):
        options = smoke_options(mixers=name)
        model = build_backbone(get_spec(name), smoke_shape(options, 64), options, "meta")
        mixer = model.mixers[0]
        dense = analytic_flops(model, "prefill", 1, 64) - mixer.prefill_flops(1, 64)
        counts[name] = (mixer.prefill_flops(1, 64), mixer.flops(1, 64), dense)
    assert counts["retnet/recurrent"][0] == counts["retnet/chunkwise"][0]
    assert counts["retnet/recurrent"][0] != counts["retnet/recurrent"][1]
    assert counts["retnet/recurrent"][2] == counts["retnet/chunkwise"][2] > 0


def test_reference_check_passes_a_faithful_variant() -> None:
    check = check_against_reference(get_spec("attention/sdpa"), smoke_options())
    assert check.worst <= 1e-4 and check.failures(1e-4) == []


def test_the_reference_itself_is_checked_for_steps_and_causality_only() -> None:
    check = check_against_reference(get_spec("attention/math"), smoke_options())
    assert check.forward is None
    assert check.stepped <= 1e-10 and check.causality == 0


def test_a_failed_check_says_which_check_failed() -> None:
    from suite.workloads import ReferenceCheck

    failures = ReferenceCheck(forward=None, stepped=0.3, causality=0.0).failures(1e-4)
    assert failures == [
        "prefill + step disagrees with its own forward (relative error 0.3 > 0.0001)"
    ]
    assert "family reference" in ReferenceCheck(0.2, 0.0, 0.0).failures(1e-4)[0]
    assert "not causal" in ReferenceCheck(0.0, 0.0, 0.5).failures(1e-4)[0]


def point(mixer: str, workload: str, x: int, sweep: str = "length") -> Point:
    return Point(mixer, workload, sweep, {"length": 64, "batch": 1, "d_model": 32, sweep: x})


def test_prediction_skips_what_the_smaller_points_rule_out() -> None:
    options = smoke_options(time_budget_s="20")
    history = SweepHistory()
    history.add(point("m/a", "forward", 1024), Outcome(1024, Status.OK, call_s=0.1))
    history.add(point("m/a", "forward", 2048), Outcome(2048, Status.OK, call_s=0.4))
    assert predict(history, options, point("m/a", "forward", 4096)) is None
    over = predict(history, options, point("m/a", "forward", 16384))
    assert over.status == Status.TIMEOUT and over.reason.startswith("predicted")
    assert "L^2.00" in over.reason
    # one point: the least slope (linear in the tokens) bounds the next from below
    history.add(point("m/c", "forward", 64), Outcome(64, Status.OK, call_s=1.0))
    assert predict(history, options, point("m/c", "forward", 128)) is None
    alone = predict(history, options, point("m/c", "forward", 1 << 20))
    assert alone.status == Status.TIMEOUT and "L^1.00 from L=64)" in alone.reason
    history.add(point("m/b", "decode", 512), Outcome(512, Status.OOM))
    after_oom = predict(history, options, point("m/b", "decode", 1024))
    assert after_oom.status == Status.OOM and "L=512" in after_oom.reason
    assert predict(history, options, point("m/b", "decode", 256)) is None


def test_a_first_call_that_dooms_its_point_makes_it_a_timeout_at_once() -> None:
    options = smoke_options()  # no warm-up round, at least 2 timed rounds
    rounds = options.profile.warmup_rounds + options.profile.min_rounds
    assert doomed_by_first_call(options, 4.0, 4.0, 10.0) is None  # 8 s <= 1.5 x 6 s left
    doomed = doomed_by_first_call(options, 4.0, 6.0, 10.0)  # 8 s > 1.5 x 4 s left
    assert doomed.status == Status.TIMEOUT and doomed.reason.startswith("predicted from its first")
    assert f"{rounds} rounds need ~8 s" in doomed.reason


def test_a_first_call_counts_the_meters_the_smaller_points_measured() -> None:
    options = smoke_options()
    assert doomed_by_first_call(options, 1.0, 0.0, 10.0, meters_s=0.0) is None
    doomed = doomed_by_first_call(options, 1.0, 0.0, 10.0, meters_s=14.0)  # 16 s > 15 s
    assert "2 rounds and its meters ~14 s need ~16 s" in doomed.reason
    history = SweepHistory()
    assert expected_meter_calls(history, point("m/a", "forward", 128)) == 0.0  # none measured
    history.add(point("m/a", "forward", 32), Outcome(32, Status.OK, call_s=0.1, meter_calls=30))
    history.add(point("m/a", "forward", 64), Outcome(64, Status.TIMEOUT))
    assert expected_meter_calls(history, point("m/a", "forward", 128)) == 30
    assert expected_meter_calls(history, point("m/a", "forward", 32)) == 0.0


def test_a_decode_point_is_predicted_from_the_prefill_of_its_context() -> None:
    options = smoke_options(time_budget_s="10")
    history = SweepHistory()
    history.add(point("m/a", "prefill", 1024), Outcome(1024, Status.OK, call_s=0.1))
    history.add(point("m/a", "prefill", 2048), Outcome(2048, Status.OK, call_s=0.8))
    assert predict(history, options, point("m/a", "decode", 4096)) is None  # 6.4 s: one call
    over = predict(history, options, point("m/a", "decode", 8192))  # 51 s
    assert over.status == Status.TIMEOUT and "prefill of its context alone" in over.reason
    assert "L^3.00 from L=1024, 2048" in over.reason
    history.add(point("m/b", "prefill", 64), Outcome(64, Status.OOM))
    assert predict(history, options, point("m/b", "decode", 32)) is None
    oom = predict(history, options, point("m/b", "decode", 64))
    assert oom.status == Status.OOM and "L=64" in oom.reason
    assert predict(history, options, point("m/b", "forward", 64)) is None  # decode's only


def test_the_profile_leaves_the_token_loops_out_past_their_lengths() -> None:
    options = resolve_options(
        {"profile": "default", "device": "cpu"},
        [spec.name for spec in list_mixers()],
        cuda_available=False,
    )
    limits = options.profile.length_limits
    assert limits and all(get_spec(name).cls for name in limits)  # every name is registered
    assert left_out_reason(options, point("mamba/reference", "forward", 1024)) is None
    longer = left_out_reason(options, point("mamba/reference", "forward", 2048))
    assert "times mamba/reference's forward up to L=1024" in longer
    never = left_out_reason(options, point("retnet/recurrent", "forward", 1024))
    assert "at no length" in never
    assert left_out_reason(options, point("retnet/recurrent", "decode", 8192)) is None
    assert left_out_reason(options, point("mamba/scan", "forward", 8192)) is None
    # a batch sweep at a length within the limit keeps it at every batch
    assert left_out_reason(options, point("mamba/reference", "forward", 64, "batch")) is None
    given = resolve_options(
        {"profile": "default", "device": "cpu", "lengths": "4096"},
        [spec.name for spec in list_mixers()],
        cuda_available=False,
    )
    assert left_out_reason(given, point("retnet/recurrent", "forward", 4096)) is None


def test_memory_and_flops_in_one_call_are_those_of_two() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 64)
    x = torch.randn(32, 64, requires_grad=True)

    def step() -> None:
        layer(x).sum().backward()

    device = torch.device("cpu")
    memory, flops = memory_and_flops(step, device)
    assert memory["peak_mem_bytes"] == peak_memory_bytes(step, device) > 0
    # a CPU has no allocator pool and no NVML: those figures are unknown, not zero
    assert memory["peak_reserved_bytes"] is None and memory["device_mem_bytes"] is None
    assert flops == counted_flops(step) == 3 * 2 * 32 * 64 * 64


def test_prediction_follows_the_swept_axis_and_never_mixes_sweeps() -> None:
    options = smoke_options(time_budget_s="20")
    history = SweepHistory()
    history.add(point("m/a", "forward", 4, "batch"), Outcome(4, Status.TIMEOUT))
    after = predict(history, options, point("m/a", "forward", 16, "batch"))
    assert after.status == Status.TIMEOUT and "B=4" in after.reason
    assert predict(history, options, point("m/a", "forward", 16)) is None


def test_rounds_fill_the_target_time_within_the_budget() -> None:
    options = smoke_options(time_budget_s="10")
    profile = options.profile
    assert rounds_for(options, round_s=1e-6, elapsed_s=0, budget_s=10) == profile.max_rounds
    assert rounds_for(options, round_s=5.0, elapsed_s=0, budget_s=10) == profile.min_rounds


def test_failures_are_saved_when_no_point_ran(tmp_path: Path) -> None:
    """The calibration matmul always runs, so pytest-benchmark itself saves the file."""
    done = run_smoke_speed(
        "attention/flash-attn",
        "-k",
        "test_forward or matmul",
        "--benchmark-json",
        str(tmp_path / "run.json"),
        timeout=300,
        files=("suite/test_speed.py", "suite/test_calibration.py"),
    )
    assert done.returncode == 0, done.stdout[-4000:]
    data = json.loads((tmp_path / "run.json").read_text())
    assert [b["extra_info"]["workload"] for b in data["benchmarks"]] == ["calibration"]
    assert [f["extra_info"]["status"] for f in data[FAILURES_KEY]] == ["unavailable"] * 2


def test_a_batch_sweep_saves_its_batch_values(tmp_path: Path) -> None:
    done = run_smoke_speed(
        "attention/sdpa,retnet/recurrent",
        "--sweep",
        "batch",
        "--batches",
        "1,4",
        "-k",
        "test_decode",
        "--benchmark-json",
        str(tmp_path / "run.json"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    data = json.loads((tmp_path / "run.json").read_text())
    benchmarks = {b["name"]: b for b in data["benchmarks"]}
    assert set(benchmarks) == {
        f"test_decode[{m}-B{b}-L32]" for m in ("attention/sdpa", "retnet/recurrent") for b in (1, 4)
    }
    for name, bench in benchmarks.items():
        info = bench["extra_info"]
        assert info["sweep"] == "batch" and f"-B{info['batch']}-" in name
        assert bench["group"] == f"decode-B{info['batch']}-L32"
        per_token = statistics.median(timed_rounds(info["round_times_s"], info["round_cpu_s"]))
        assert info["tokens_per_s"] == pytest.approx(info["batch"] / per_token)
    assert data["mixbench_options"]["sweep"] == "batch"
    out = tmp_path / "report"
    command = [
        sys.executable,
        "-m",
        "reports",
        "--run",
        str(tmp_path / "run.json"),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = (out / "report.md").read_text()
    assert "batch size" in report  # the figures and tables name the swept axis
    assert any("batch" in path.name for path in (out / "figures").glob("*.png"))


def test_an_interrupted_run_is_saved_and_marked_partial(tmp_path: Path) -> None:
    """Ctrl-C: pytest-benchmark saves what ran; the file says it is not the whole run."""
    import os
    import select
    import signal
    import time

    # a budget that the 2k train step's first call, slow on a busy machine, cannot
    # look doomed against (sweep.doomed_by_first_call): the run must still be going
    command = [
        sys.executable, "-m", "pytest", "suite/test_calibration.py", "suite/test_speed.py",
        "--profile", "smoke", "--mixers", "retnet/recurrent", "--lengths", "32,2k,4k,8k,16k",
        "--time-budget-s", "120", "-k", "matmul or test_train_step",
        "--benchmark-json", str(tmp_path / "run.json"), "-q",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C's default handling in the run, however this test was started: a shell
    # without job control starts background jobs with SIGINT ignored, and a
    # Python started so keeps ignoring it
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # wait for the first passed test (the calibration), then interrupt the token
    # loop's train step at 2k, which runs for many seconds
    seen, deadline = b"", time.monotonic() + 120
    while b"." not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            seen += os.read(process.stdout.fileno(), 1024)
    time.sleep(2)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["mixbench_partial"] is True
    assert data["benchmarks"], "what ran before Ctrl-C is kept"
    # the point Ctrl-C stopped in its rounds is left out, not saved without times
    assert all(b["stats"]["rounds"] > 0 for b in data["benchmarks"])


def test_the_mode_speed_files_build_and_feed_the_runs_dtype(tmp_path: Path) -> None:
    mode_files = tuple(f"suite/test_{family}_speed.py" for family in MODE_FAMILIES)
    done = run_smoke_speed(
        "retnet/chunkwise,mamba/scan,mamba2/chunked,hyena/fft,attention/sdpa",
        "--dtype",
        "bfloat16",
        "--benchmark-json",
        str(tmp_path / "run.json"),
        timeout=300,
        files=mode_files,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    saved = json.loads((tmp_path / "run.json").read_text())
    points = [b["extra_info"] for b in saved["benchmarks"]]
    families = {p["mixer"].split("/")[0] for p in points if p.get("mixer")}
    assert families >= set(MODE_FAMILIES)
    assert {p["dtype"] for p in points} == {"bfloat16"}


def test_a_suite_point_says_how_it_was_timed(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    infos = [b["extra_info"] for b in data["benchmarks"]]
    swept = [info for info in infos if info["workload"] == "forward"]
    assert swept
    for info in swept:
        assert info["timer"] == "thread_cpu" and info["warmup_s"] == 0.0
        assert info["l2_flushed"] is False and info["cuda_graph"] is None
        # on a CPU: no allocator pool, no NVML
        assert info["peak_reserved_bytes"] is None and info["device_mem_bytes"] is None


def test_the_gpu_switches_are_taken_and_a_cpu_point_says_what_they_did(tmp_path: Path) -> None:
    done = run_smoke_speed(
        "mamba/scan",
        "--cuda-graphs",
        "--flush-l2",
        "--warmup-s",
        "0.05",
        "-k",
        "test_decode",
        "--benchmark-json",
        str(tmp_path / "run.json"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    saved = json.loads((tmp_path / "run.json").read_text())
    infos = [b["extra_info"] for b in saved["benchmarks"]]
    decode = [info for info in infos if info["workload"] == "decode"]
    assert decode
    for info in decode:
        assert info["cuda_graph"] == "not captured: CUDA graphs need a CUDA device"
        assert info["l2_flushed"] is False and info["warmup_s"] == 0.05

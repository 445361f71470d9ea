"""The speed suite end to end (a smoke run in a subprocess: saved JSON, every
key, failures, pytest-benchmark's compare) and the pieces of a sweep: decode
rounds, analytic FLOPs, prediction and round sizing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.registry import list_mixers
from suite.options import RawOptions, resolve_options
from suite.records import EXTRA_INFO_KEYS, FAILURES_JSON_KEY
from suite.sweep import Outcome, SweepHistory, predict, rounds_for
from suite.workloads import analytic_flops, build_backbone, decode_workload, reference_error

ROOT = Path(__file__).resolve().parents[1]
SMOKE_MIXERS = "attention/sdpa,attention/flash-attn,retnet/recurrent"
#: the recurrent forward at 4096 is a token loop far over a 10 s budget
SMOKE_ARGS = ["--lengths", "32,64,4096", "--time-budget-s", "10"]


def smoke_options(**raw):
    names = [spec.name for spec in list_mixers()]
    return resolve_options(RawOptions(profile="smoke", **raw), names, cuda_available=False)


def run_smoke_speed(mixers: str, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """suite/test_speed.py on the CPU with the smoke profile, in a subprocess."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suite/test_speed.py",
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
    benchmarks = data["benchmarks"]
    workloads = {b["extra_info"]["workload"] for b in benchmarks}
    assert workloads == {"forward", "train_step", "prefill", "decode"}
    for bench in benchmarks:
        info = bench["extra_info"]
        assert set(EXTRA_INFO_KEYS) <= set(info), bench["name"]
        assert info["status"] == "ok"
        assert bench["group"] == f"{info['workload']}-L{info['seq_len']}"
        for key in ("params", "flops", "peak_mem_bytes", "state_bytes", "tokens_per_s"):
            assert info[key] > 0, (bench["name"], key)
        assert info["ref_rel_err"] <= 1e-4
    names = {b["name"] for b in benchmarks}
    assert "test_decode[retnet/recurrent-L64]" in names
    assert "test_forward[attention/sdpa-L4096]" in names


def test_decode_stats_are_per_token(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    decode = [b for b in data["benchmarks"] if b["extra_info"]["workload"] == "decode"]
    tokens = data["mixbench_options"]["decode_tokens"]
    for bench in decode:
        assert bench["stats"]["iterations"] == tokens
        assert bench["extra_info"]["tokens_per_s"] == pytest.approx(1 / bench["stats"]["median"])


def test_points_that_did_not_run_are_saved_with_their_status(smoke_run: tuple[dict, Path]) -> None:
    data, _ = smoke_run
    failures = data[FAILURES_JSON_KEY]
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
    assert slow["reason"].startswith("predicted")
    assert slow["seq_len"] == 4096 and slow["flops"] > 0
    assert not {b["name"] for b in data["benchmarks"]} & set(by_name)
    assert data["machine_info"]["torch_version"] == torch.__version__
    assert data["machine_info"]["torch_threads"] >= 1


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
    model = build_backbone("attention/sdpa", options, "cpu")
    work = decode_workload(model, options, 32)
    per_round = options.profile.decode_tokens
    work.prepare(3 * per_round)
    first_round = [work.call() for _ in range(per_round)]
    second_round = [work.call() for _ in range(per_round)]
    for a, b in zip(first_round, second_round, strict=True):
        torch.testing.assert_close(a, b)


def test_analytic_flops_add_the_backbone_matmuls_to_the_mixers() -> None:
    options = smoke_options(mixers="attention/sdpa")
    model = build_backbone("attention/sdpa", options, "meta")
    d, vocab, length = options.d_model, model.cfg.vocab_size, 64
    dense = 2 * 2 * length * d * 4 * d + 2 * length * vocab * d
    mixer = model.mixers[0].flops(1, length)
    assert analytic_flops(model, "forward", 1, length) == mixer + dense
    assert analytic_flops(model, "train_step", 1, length) == 3 * (mixer + dense)


def test_reference_check_passes_a_faithful_variant() -> None:
    assert reference_error("attention/sdpa", smoke_options()) <= 1e-4


def test_prediction_skips_what_the_shorter_points_rule_out() -> None:
    options = smoke_options(time_budget_s=20.0)
    history = SweepHistory()
    history.add("m/a", "forward", Outcome(1024, "ok", call_s=0.1))
    history.add("m/a", "forward", Outcome(2048, "ok", call_s=0.4))
    assert predict(history, options, "m/a", "forward", 4096) is None
    over = predict(history, options, "m/a", "forward", 16384)
    assert over.status == "timeout" and over.reason.startswith("predicted")
    assert "L^2.00" in over.reason
    history.add("m/c", "forward", Outcome(64, "ok", call_s=1.0))
    assert predict(history, options, "m/c", "forward", 1 << 20) is None  # no trend yet
    history.add("m/b", "decode", Outcome(512, "oom"))
    after_oom = predict(history, options, "m/b", "decode", 1024)
    assert after_oom.status == "oom" and "L=512" in after_oom.reason
    assert predict(history, options, "m/b", "decode", 256) is None


def test_rounds_fill_the_target_time_within_the_budget() -> None:
    options = smoke_options(time_budget_s=10.0)
    profile = options.profile
    assert rounds_for(options, round_s=1e-6, elapsed_s=0) == profile.max_rounds
    assert rounds_for(options, round_s=5.0, elapsed_s=0) == profile.min_rounds


def test_failures_are_saved_when_no_benchmark_ran(tmp_path: Path) -> None:
    done = run_smoke_speed(
        "attention/flash-attn",
        "-k",
        "forward",
        "--benchmark-json",
        str(tmp_path / "run.json"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["benchmarks"] == []
    assert [f["extra_info"]["status"] for f in data[FAILURES_JSON_KEY]] == ["unavailable"] * 2

"""python -m reports on small autosaves shaped like the harness's
(tests/fixtures/benchmarks, written by tests/fixtures/make_benchmarks.py).

Rendering figures is the slow part, so the whole report is made once per
module and the other tests look at tables and DataFrames.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from reports.__main__ import main
from reports.claim_sources import all_claims
from reports.claims import FAILS, HOLDS, INCONCLUSIVE, claims_table
from reports.compare import compare_runs, flag_point
from reports.figures import STATUS_MARKERS, metric_by_workload
from reports.fits import fit_loglog, fit_window
from reports.load import (
    ReportError,
    SkippedFileWarning,
    load,
    select_run_files,
)
from reports.render import Section, current_umask, format_value, write_report
from reports.report import missing_key_notes
from reports.tables import (
    Table,
    inference_cost_table,
    scaling_table,
    training_cost_table,
)
from schema import EXTRA_INFO_KEYS, METRICS_BY_FIELD, timed_rounds

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
CPU_DIR = "Linux-CPython-3.11-64bit"
CPU_1 = FIXTURES / CPU_DIR / "0001_aaa1111_20260101_120000.json"
CPU_2 = FIXTURES / CPU_DIR / "0002_bbb2222_20260102_120000.json"
GPU_1 = FIXTURES / "gpu-box" / "0001_bbb2222_20260103_120000.json"
FIGURES = (
    "headline",
    "time",
    "peak_memory",
    "tokens_per_s",
    "decode_cost",
    "flops_per_s",
    "accuracy",
)
TABLES = ("runs", "claims", "training_cost", "inference_cost", "scaling", "accuracy", "not_ok")


def autosave(path: Path) -> dict:
    return json.loads(path.read_text())


def extra_infos(path: Path, **match: object) -> list[dict]:
    data = autosave(path)
    entries = data["benchmarks"] + data.get("mixbench_failures", [])
    return [
        e["extra_info"]
        for e in entries
        if all(e["extra_info"].get(k) == v for k, v in match.items())
    ]


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    return load(FIXTURES, ["all"])


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One full report over two machines' runs and a corrupt file, compared."""
    storage = tmp_path_factory.mktemp("storage")
    for source in (CPU_1, GPU_1):
        target = storage / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    corrupt = storage / CPU_DIR / "0002_ccc_20260105_120000.json"
    corrupt.write_text('{"benchmarks": [')
    out = tmp_path_factory.mktemp("out") / "report"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--storage", str(storage), "--run", "all", "--compare", "--out", str(out)])
    return {"code": code, "out": out, "stderr": stderr.getvalue(), "corrupt": corrupt}


# -- loading --------------------------------------------------------------------


def test_every_point_of_every_run_is_one_row(points):
    expected = sum(
        len(d["benchmarks"]) + len(d.get("mixbench_failures", []))
        for d in map(autosave, FIXTURES.rglob("*.json"))
    )
    assert len(points) == expected
    assert points["run"].nunique() == 4
    assert set(EXTRA_INFO_KEYS) <= set(points.columns)
    assert {"machine", "machine_gpu", "machine_torch", "commit", "time_median_s"} <= set(
        points.columns
    )


def test_failed_points_are_kept_with_status_and_reason(points):
    timeout = points[(points["status"] == "timeout") & (points["run"] == "0001 AMD EPYC")]
    assert timeout[["mixer", "workload", "seq_len"]].values.tolist() == [
        ["attention/math", "forward", 2048]
    ]
    assert timeout["reason"].iloc[0] == "over the 10 s budget"
    assert math.isnan(timeout["time_s"].iloc[0])


def test_an_older_run_without_keys_loads_and_is_noted(points):
    old = points[points["run"] == "0001 Intel Xeon"]
    assert len(old) == 2 and old["ok"].all()
    assert old["peak_mem_bytes"].isna().all() and old["device"].isna().all()
    assert old["family"].tolist() == ["retnet", "retnet"]  # from the mixer name
    notes = missing_key_notes(points)
    assert any(n.startswith("0001 Intel Xeon records no device") for n in notes)


def test_runs_are_told_apart_by_machine(points):
    assert set(points["run"]) == {
        "0001 AMD EPYC",
        "0002 AMD EPYC",
        "0001 NVIDIA H200",
        "0001 Intel Xeon",
    }


def test_run_selection():
    assert [f.path for f in select_run_files(FIXTURES, ["latest"])] == [GPU_1]
    assert [f.path for f in select_run_files(FIXTURES, [])] == [GPU_1]
    assert [f.path for f in select_run_files(FIXTURES, ["0002"])] == [CPU_2]
    assert [f.path for f in select_run_files(FIXTURES, ["gpu-box/1"])] == [GPU_1]
    assert [f.path for f in select_run_files(FIXTURES, [str(CPU_1), "0002"])] == [CPU_1, CPU_2]
    with pytest.raises(ReportError, match="ambiguous.*gpu-box/0001"):
        select_run_files(FIXTURES, ["0001"])
    with pytest.raises(ReportError, match="no run '0009'"):
        select_run_files(FIXTURES, ["0009"])
    with pytest.raises(ReportError, match="neither"):
        select_run_files(FIXTURES, ["yesterday"])


def test_a_corrupt_file_is_named_in_a_warning_and_skipped(tmp_path):
    shutil.copy(CPU_1, tmp_path / CPU_1.name)
    (tmp_path / "0002_x_20990101_000000.json").write_text("not json")
    (tmp_path / "0003_x_20990102_000000.json").write_text("[1, 2]")
    with pytest.warns(SkippedFileWarning) as caught:
        points = load(tmp_path, ["all"])
    messages = " ".join(str(w.message) for w in caught)
    assert "0002_x_20990101_000000.json" in messages and "0003_x_20990102_000000.json" in messages
    assert points["run"].unique().tolist() == ["0001 AMD EPYC"]


# -- tables ---------------------------------------------------------------------


def test_slope_fit_returns_two_on_quadratic_data():
    lengths = np.array([128, 256, 512, 1024, 2048, 4096])
    fit = fit_loglog(lengths, 3e-9 * lengths**2)
    assert fit.slope == pytest.approx(2.0, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit_loglog([1024, 2048], [5.0, 5.0]).slope == pytest.approx(0.0)
    assert math.isnan(fit_loglog([1024], [1.0]).slope)


def test_fit_window_takes_the_longer_half():
    assert fit_window(pd.Index([8, 1, 2, 4, 16, 32, 64, 128]), "half").tolist() == [16, 32, 64, 128]
    assert fit_window(pd.Index([1, 2, 4, 8]), "half").tolist() == [2, 4, 8]
    assert fit_window(pd.Index([1, 2, 4, 8]), "all").tolist() == [1, 2, 4, 8]


def test_scaling_table_recovers_the_fixture_exponents(points):
    frame = scaling_table(points, "half").frame.set_index(["run", "workload", "mixer"])
    cpu = frame.loc["0001 AMD EPYC"]
    assert cpu.loc[("forward", "attention/sdpa"), "time_slope"] == pytest.approx(2.0)
    assert cpu.loc[("forward", "attention/sdpa"), "memory_slope"] == pytest.approx(2.0)
    assert cpu.loc[("train_step", "retnet/chunkwise"), "time_slope"] == pytest.approx(1.0)
    assert cpu.loc[("decode", "retnet/recurrent"), "time_slope"] == pytest.approx(0.0, abs=1e-9)
    assert cpu.loc[("forward", "retnet/chunkwise"), "time_r2"] == pytest.approx(1.0)
    assert cpu.loc[("forward", "attention/sdpa"), "fit_lengths"] == "512–2048 (3 points)"


def test_training_cost_values_equal_the_inputs(points):
    frame = training_cost_table(points).frame
    row = frame[(frame["run"] == "0001 AMD EPYC") & (frame["mixer"] == "retnet/chunkwise")]
    assert row["seq_len"].tolist() == [2048]
    source = extra_infos(CPU_1, mixer="retnet/chunkwise", workload="train_step", seq_len=2048)[0]
    attention = extra_infos(CPU_1, mixer="attention/sdpa", workload="train_step", seq_len=2048)[0]
    assert row["peak_mem_bytes"].item() == source["peak_mem_bytes"]
    assert row["tokens_per_s"].item() == source["tokens_per_s"]
    assert row["memory_vs_attention_x"].item() == pytest.approx(
        source["peak_mem_bytes"] / attention["peak_mem_bytes"]
    )
    assert row["tokens_vs_attention_x"].item() == pytest.approx(
        source["tokens_per_s"] / attention["tokens_per_s"]
    )


def test_inference_cost_values_equal_the_inputs(points):
    frame = inference_cost_table(points).frame
    gpu = frame[frame["run"] == "0001 NVIDIA H200"].set_index(["seq_len", "mixer"])
    source = extra_infos(GPU_1, mixer="attention/sdpa", workload="decode", seq_len=1024)[0]
    row = gpu.loc[(1024, "attention/sdpa")]
    assert row["state_bytes"] == source["state_bytes"]
    assert row["peak_mem_bytes"] == source["peak_mem_bytes"]
    timing = next(b["stats"] for b in autosave(GPU_1)["benchmarks"] if b["extra_info"] == source)
    assert row["latency_per_token_s"] == timing["median"]  # decode stats are per token
    assert row["memory_vs_attention_x"] == pytest.approx(1.0)
    recurrent = extra_infos(GPU_1, mixer="retnet/recurrent", workload="decode", seq_len=2048)[0]
    attention = extra_infos(GPU_1, mixer="attention/sdpa", workload="decode", seq_len=2048)[0]
    assert gpu.loc[(2048, "retnet/recurrent"), "state_vs_attention_x"] == pytest.approx(
        recurrent["state_bytes"] / attention["state_bytes"]
    )


def test_claims_hold_fail_or_are_not_measured(points):
    cpu = points[points["run"] == "0001 AMD EPYC"]
    frame = claims_table(cpu, "half", all_claims()).frame.set_index(["claim", "mixer"])
    state = "Decode state (KV-cache) bytes constant in context length"
    assert frame.loc[(state, "retnet/recurrent"), "verdict"] == HOLDS
    assert "slope 0.00" in frame.loc[(state, "retnet/recurrent"), "measured"]
    linear = "Chunkwise time linear in length"
    assert frame.loc[(linear, "retnet/chunkwise forward"), "verdict"] == HOLDS
    same = "parallel ≡ chunkwise ≡ recurrent (same outputs)"
    assert frame.loc[(same, "retnet/chunkwise"), "verdict"] == HOLDS
    assert "3.00e-06" in frame.loc[(same, "retnet/chunkwise"), "measured"]
    old = claims_table(points[points["run"] == "0001 Intel Xeon"], "half", all_claims()).frame
    assert old.loc[old["claim"] == same, "verdict"].tolist() == [INCONCLUSIVE]

    growing = cpu.copy()
    decode = (growing["workload"] == "decode") & (growing["mixer"] == "retnet/recurrent")
    growing.loc[decode, "state_bytes"] = growing.loc[decode, "seq_len"] * 100.0
    frame = claims_table(growing, "half", all_claims()).frame.set_index(["claim", "mixer"])
    assert frame.loc[(state, "retnet/recurrent"), "verdict"] == FAILS


def test_attention_running_out_of_memory_where_retnet_ran_is_the_answer(points):
    cpu = points[points["run"] == "0001 AMD EPYC"].copy()
    at = (cpu["mixer"] == "attention/sdpa") & (cpu["workload"] == "train_step")
    at &= cpu["seq_len"] == 2048
    cpu.loc[at, ["status", "ok", "peak_mem_bytes"]] = ["oom", False, None]
    frame = claims_table(cpu, "half", all_claims()).frame.set_index(["claim", "mixer"])
    row = frame.loc[("Training uses less memory than attention (Table 4)", "retnet/chunkwise")]
    assert row["verdict"] == HOLDS
    assert row["measured"] == (
        "decided by oom: at L=2048 retnet/chunkwise ran and attention/sdpa hit oom"
    )


def test_a_variant_that_disagrees_with_its_reference_breaks_the_equivalence_claim(points):
    cpu = points[points["run"] == "0001 AMD EPYC"].copy()
    recurrent = cpu["mixer"] == "retnet/recurrent"
    cpu.loc[recurrent, "ref_rel_err"] = np.nan
    cpu.loc[recurrent, "status"] = "reference_failed"
    cpu.loc[recurrent, "ok"] = False
    cpu.loc[recurrent, "reason"] = "relative error 0.3 over the tolerance 1e-4"
    frame = claims_table(cpu, "half", all_claims()).frame
    same = frame[frame["claim"].str.startswith("parallel")].set_index("mixer")["verdict"]
    assert same.to_dict() == {
        "retnet/chunkwise": HOLDS,
        "retnet/parallel": HOLDS,
        "retnet/recurrent": FAILS,
    }


# -- figures and the report -----------------------------------------------------


def test_broken_points_are_marked_at_their_length(points):
    cpu = points[points["run"] == "0001 AMD EPYC"]
    result = metric_by_workload(cpu, METRICS_BY_FIELD["time_s"], "time", "Time")
    forward = next(ax for ax in result.figure.axes if ax.get_title().startswith("forward"))
    marks = [c.get_offsets()[:, 0].tolist() for c in forward.collections]
    assert [2048.0] in marks
    labels = [t.get_text() for t in result.figure.legends[0].get_texts()]
    assert "timeout (at the axis edge)" in labels and "attention/math" in labels
    assert "timeout" in STATUS_MARKERS
    plt.close(result.figure)


def test_the_report_has_every_table_and_figure(report_run):
    out = report_run["out"]
    assert report_run["code"] == 0
    for name in FIGURES:
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    for name in TABLES:
        assert (out / "tables" / f"{name}.csv").exists()
    markdown = (out / "report.md").read_text()
    for title in ("## Claims", "## Training cost", "## Inference cost", "## Scaling exponents"):
        assert title in markdown
    assert "![Decode cost against context length](figures/decode_cost.png)" in markdown


def test_the_html_report_is_self_contained(report_run):
    page = (report_run["out"] / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(FIGURES) + 1  # + the comparison
    assert 'src="figures/' not in page


def test_the_report_compares_two_machines(report_run):
    markdown = (report_run["out"] / "report.md").read_text()
    assert "## Comparison: 0001 AMD EPYC → 0001 NVIDIA H200" in markdown
    assert (report_run["out"] / "figures" / "report_compare_speedup.svg").exists()
    compared = pd.read_csv(report_run["out"] / "tables" / "report_compare.csv")
    forward = compared[(compared["workload"] == "forward") & (compared["status_b"] == "ok")]
    assert forward["speedup_x"].to_numpy() == pytest.approx(100.0)  # the GPU fixture: 0.01×


def test_a_corrupt_file_does_not_break_the_report(report_run):
    assert report_run["code"] == 0
    assert f"warning: skipping {report_run['corrupt']}" in report_run["stderr"]
    assert report_run["corrupt"].name in (report_run["out"] / "report.md").read_text()


def test_nothing_but_the_report_is_written(report_run):
    out = report_run["out"]
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not [p for p in written if p.endswith(".tmp")]
    assert {"report.md", "report.html", "points.csv"} <= written
    points = pd.read_csv(out / "points.csv")
    assert set(points["run"]) == {"0001 AMD EPYC", "0001 NVIDIA H200"}


def test_a_report_is_swapped_in_whole_with_readable_files(tmp_path):
    table = Table("t", "t", "", pd.DataFrame({"x": [1]}))
    out = tmp_path / "deep" / "out"
    write_report(out, "first", [Section("S", tables=[table])], ["md"])
    write_report(out, "second", [Section("S", tables=[table])], ["md"])
    assert "# second" in (out / "report.md").read_text()
    for path in (out / "report.md", out / "tables" / "t.csv"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # not mkstemp's 0600
    assert out.stat().st_mode & 0o777 == 0o777 & ~current_umask()
    assert [p.name for p in out.parent.iterdir()] == ["out"]  # no staging folder left


def test_a_new_report_removes_only_its_own_stale_files(tmp_path):
    kept, dropped = (Table(name, name, "", pd.DataFrame({"x": [1]})) for name in ("kept", "gone"))
    write_report(tmp_path, "old", [Section("S", tables=[kept, dropped])], ["md"])
    write_report(tmp_path, "cmp", [Section("S", tables=[dropped])], ["md"], stem="compare")
    (tmp_path / "tables" / "mine.csv").write_text("a user's file")
    write_report(tmp_path, "new", [Section("S", tables=[kept])], ["md"])
    assert (tmp_path / "tables" / "kept.csv").exists()
    assert (tmp_path / "tables" / "mine.csv").exists()
    assert (tmp_path / "tables" / "gone.csv").exists()  # compare.md's still
    write_report(tmp_path, "cmp", [Section("S", tables=[])], ["md"], stem="compare")
    assert not (tmp_path / "tables" / "gone.csv").exists()


def test_values_are_shown_in_units():
    assert format_value("peak_mem_bytes", 3 * 2**20) == "3 MiB"
    assert format_value("latency_per_token_s", 0.0025) == "2.5 ms"
    assert format_value("tokens_per_s", 12_300.0) == "12.3 k/s"
    assert format_value("memory_vs_attention_x", 0.5) == "0.50×"
    assert format_value("time_slope", -0.0001) == "0.00"
    assert format_value("listops", 0.371, percent=True) == "37.1"
    assert format_value("seq_len", 2048.0) == "2048"
    assert format_value("tokens_per_s", math.nan) == "N/A"


@pytest.mark.parametrize("storage", ["empty", "missing"])
def test_empty_storage_exits_non_zero_with_a_message(tmp_path, capsys, storage):
    folder = tmp_path / "benchmarks"
    if storage == "empty":
        folder.mkdir()
    code = main(["--storage", str(folder), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "no autosaved runs in" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_module_runs_as_a_command(tmp_path):
    command = [sys.executable, "-m", "reports", "--storage", str(tmp_path / "nothing")]
    ran = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 2
    assert ran.stderr.startswith("error: no autosaved runs in")


# -- comparing runs -------------------------------------------------------------


def test_compare_flags_a_regression(points):
    table = compare_runs(points, "0001 AMD EPYC", "0002 AMD EPYC", 0.1)
    flagged = table.frame[table.frame["regression"]]
    assert set(flagged["mixer"]) == {"retnet/chunkwise"}
    assert set(flagged["workload"]) == {"forward", "train_step"}
    assert flagged["change"].str.contains("30% slower").all()
    assert flagged["speedup_x"].to_numpy() == pytest.approx(1 / 1.3)
    same = table.frame[~table.frame["regression"] & (table.frame["mixer"] == "attention/sdpa")]
    assert (same["change"] == "within threshold").all()
    assert not compare_runs(points, "0001 AMD EPYC", "0002 AMD EPYC", 0.5).frame["regression"].any()


def ok_pair(time_a: float, time_b: float, low: float, high: float) -> pd.Series:
    return pd.Series(
        {
            "status_a": "ok", "status_b": "ok", "time_a_s": time_a, "time_b_s": time_b,
            "speedup_low_x": low, "speedup_high_x": high, "memory_a_bytes": math.nan,
            "memory_b_bytes": math.nan, "accuracy_a": math.nan, "accuracy_b": math.nan,
        }
    )  # fmt: skip


def test_compare_flags_a_slowdown_only_when_its_whole_interval_is_beyond_the_threshold():
    sure = flag_point(ok_pair(1.0, 1.3, 0.70, 0.80), 0.1)
    assert sure == ("regression: 30% slower", True)
    text, flagged = flag_point(ok_pair(1.0, 1.3, 0.55, 1.05), 0.1)
    assert not flagged
    assert text == "30% slower (inconclusive: speed-up CI 0.55–1.05×)"
    text, flagged = flag_point(ok_pair(1.3, 1.0, 0.95, 1.6), 0.1)
    assert not flagged and text.startswith("30% faster (inconclusive")
    assert flag_point(ok_pair(1.3, 1.0, 1.2, 1.4), 0.1) == ("30% faster", False)


def test_compare_flags_a_point_that_broke(points):
    table = compare_runs(points, "0001 NVIDIA H200", "0001 AMD EPYC", 0.1).frame
    row = table[(table["mixer"] == "attention/math") & (table["workload"] == "forward")]
    broke = row[row["seq_len"] == 2048]
    assert broke["status_a"].item() == "oom" and broke["change"].item() == "still timeout"
    only_b = table[table["workload"] == "train_step"]
    assert (only_b["change"] == "only in B").all()


def test_compare_command_writes_a_report_and_fails_on_regression(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "compare", f"{CPU_DIR}/0001", f"{CPU_DIR}/0002", "--storage", str(FIXTURES),
            "--out", str(out), "--format", "md", "--fail-on-regression",
        ]
    )  # fmt: skip
    assert code == 1
    assert "regressions" in capsys.readouterr().out
    assert "30% slower" in (out / "compare.md").read_text()
    assert not (out / "compare.html").exists()


# -- a real autosave ------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "suite" / "options.py"


@pytest.mark.skipif(
    not HARNESS.exists(), reason="the speed harness (suite/options.py) has not landed"
)
@pytest.mark.slow
def test_a_real_smoke_autosave_makes_a_report(tmp_path):
    storage, out = tmp_path / "benchmarks", tmp_path / "out"
    suite = [
        sys.executable, "-m", "pytest", "suite/test_speed.py", "--profile", "smoke",
        "--mixers", "retnet/chunkwise,attention/sdpa", "-k", "forward or decode",
        "--benchmark-autosave", f"--benchmark-storage={storage}", "-q", "-p", "no:cacheprovider",
    ]  # fmt: skip
    ran = subprocess.run(suite, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    code = main(["--storage", str(storage), "--out", str(out), "--format", "md"])
    assert code == 0
    data = autosave(next(storage.rglob("*.json")))
    points = pd.read_csv(out / "points.csv")
    assert len(points) == len(data["benchmarks"]) + len(data["mixbench_failures"])
    assert set(EXTRA_INFO_KEYS) <= set(points.columns)
    assert {"time_low_s", "time_high_s", "time_spread"} <= set(points.columns)
    measured = points[points["time_low_s"].notna()]
    assert not measured.empty
    assert (measured["time_low_s"] <= measured["time_s"]).all()
    assert (measured["time_s"] <= measured["time_high_s"]).all()
    for name in ("time", "decode_cost"):
        assert (out / "figures" / f"{name}.png").exists()
    inference = pd.read_csv(out / "tables" / "inference_cost.csv")
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if info["workload"] != "decode":
            continue
        row = inference[
            (inference["mixer"] == info["mixer"]) & (inference["seq_len"] == info["seq_len"])
        ]
        assert row["state_bytes"].item() == info["state_bytes"]
        # one torch thread (the smoke profile's): the median of the rounds' CPU seconds
        per_token = statistics.median(timed_rounds(info["round_times_s"], info["round_cpu_s"]))
        assert row["latency_per_token_s"].item() == pytest.approx(per_token)
    claims = pd.read_csv(out / "tables" / "claims.csv")
    same = claims[
        claims["claim"].str.startswith("parallel") & (claims["mixer"] == "retnet/chunkwise")
    ]
    assert same["verdict"].tolist() == [HOLDS]

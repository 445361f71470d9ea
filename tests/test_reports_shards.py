"""Shard merging (``pytest suite/ --shard K/N`` on N machines): the reader
merges the autosaves of one shard group into one run with no point missing
or duplicated, each shard keeping its own machine; a shard saved twice keeps
the newest, missing shards and shards on different hardware are named, and
'latest' takes the newest group as a whole (tests/fixtures/shards, written
by tests/fixtures/make_shards.py)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from reports.__main__ import main, run_labels
from reports.load import ReportError, ShardWarning, load, select_run_files
from tests.fixtures import make_shards

SHARDS = Path(__file__).parent / "fixtures" / "shards"
WHOLE = SHARDS / "whole"
GROUP = SHARDS / "group"
SHARD_1 = GROUP / "box-a" / "0001_eee5555_20260301_100000.json"
SHARD_2 = GROUP / "box-b" / "0001_eee5555_20260301_100500.json"
LABEL = f"group {make_shards.GROUP} (2 shards)"
#: what makes two rows the same measurement
COMPARED = ["workload", "mixer", "task", "sweep", "seq_len", "status", "time_s", "accuracy"]


def storage(tmp_path: Path, *files: Path) -> Path:
    for source in files:
        target = tmp_path / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return tmp_path


def rewritten(source: Path, target: Path, change) -> Path:
    data = json.loads(source.read_text())
    change(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    return target


def measured(points: pd.DataFrame) -> pd.DataFrame:
    rows = points[points["workload"] != "calibration"]
    return rows.set_index("fullname")[COMPARED].sort_index()


def quietly(storage: Path, selectors: list[str]) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        points = load(storage, selectors)
    return points, [str(w.message) for w in caught if issubclass(w.category, ShardWarning)]


def test_two_shards_merge_into_exactly_the_points_of_the_unsharded_run():
    whole = load(WHOLE, ["all"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        merged = load(GROUP, ["all"])
    assert merged["run"].unique().tolist() == [LABEL]
    assert not measured(merged).index.duplicated().any()
    pd.testing.assert_frame_equal(measured(merged), measured(whole))
    # each shard keeps its own machine and its own calibration matmul
    assert set(merged["shard"]) == {"1/2", "2/2"}
    calibration = merged[merged["workload"] == "calibration"].set_index("shard")
    assert calibration["machine_node"].to_dict() == {"1/2": "box-a", "2/2": "box-b"}
    peaks = merged.groupby("shard")["machine_matmul_peak_flops_per_s"].first()
    assert peaks["1/2"] == pytest.approx(2 * 512**3 / 0.002)
    assert peaks["2/2"] == pytest.approx(2 * 512**3 / 0.0021)
    nodes = merged[merged["workload"] != "calibration"].groupby("shard")["machine_node"]
    assert nodes.unique().map(list).to_dict() == {"1/2": ["box-a"], "2/2": ["box-b"]}


def test_latest_takes_the_newest_group_as_a_whole(tmp_path):
    folder = storage(tmp_path, WHOLE / "box-a" / "0001_eee5555_20260301_090000.json")
    storage(folder, SHARD_1, SHARD_2)
    chosen = select_run_files(folder, ["latest"])
    assert sorted(f.path.name for f in chosen) == sorted([SHARD_1.name, SHARD_2.name])
    points = load(folder, ["latest"])
    assert points["run"].unique().tolist() == [LABEL]
    # the newest file is shard 1 (run again later): shard 2 still comes with it
    later = folder / "box-a" / "0002_eee5555_20260301_110000.json"
    rewritten(SHARD_1, later, lambda data: data.update(datetime="2026-03-01T11:00:00+00:00"))
    chosen = select_run_files(folder, ["latest"])
    assert {f.path.name for f in chosen} == {SHARD_1.name, SHARD_2.name, later.name}
    # a newer unsharded run is the latest on its own
    newer = folder / "box-c" / "0001_fff6666_20260302_090000.json"
    rewritten(WHOLE / "box-a" / "0001_eee5555_20260301_090000.json", newer, lambda data: None)
    assert [f.path.name for f in select_run_files(folder, ["latest"])] == [newer.name]


def test_a_shard_saved_twice_keeps_the_newest_and_warns(tmp_path):
    folder = storage(tmp_path, SHARD_1, SHARD_2)

    def slower(data: dict) -> None:
        data["datetime"] = "2026-03-01T11:00:00+00:00"
        for entry in data["benchmarks"]:
            entry["stats"]["median"] *= 2

    rewritten(SHARD_1, folder / "box-a" / "0002_eee5555_20260301_110000.json", slower)
    points, caught = quietly(folder, ["all"])
    assert points["run"].unique().tolist() == [LABEL]
    assert not measured(points).index.duplicated().any()
    assert len(measured(points)) == len(measured(load(WHOLE, ["all"])))
    first = json.loads(SHARD_1.read_text())["benchmarks"]
    name = next(e["fullname"] for e in first if e["extra_info"]["workload"] == "forward")
    time_s = points.set_index("fullname").loc[name, "time_s"]
    assert time_s == pytest.approx(
        2 * next(e for e in first if e["fullname"] == name)["stats"]["median"]
    )
    assert len(points[points["workload"] == "calibration"]) == 2  # one per shard
    assert any("box-a/0001" in m and "box-a/0002" in m and "kept the newest" in m for m in caught)


def test_a_group_with_a_missing_shard_says_which(tmp_path):
    folder = storage(tmp_path, SHARD_1)
    points, caught = quietly(folder, ["all"])
    assert points["run"].unique().tolist() == [f"group {make_shards.GROUP} (1 of 2 shards)"]
    assert any("shard 2/2 missing" in m for m in caught)


def test_shards_on_different_hardware_are_warned_about(tmp_path):
    folder = storage(tmp_path, SHARD_1)

    def xeon(data: dict) -> None:
        data["machine_info"]["cpu"]["brand_raw"] = "Intel Xeon"

    rewritten(SHARD_2, folder / "box-b" / SHARD_2.name, xeon)
    _, caught = quietly(folder, ["all"])
    assert any("different hardware" in m and "Intel Xeon" in m and "AMD EPYC" in m for m in caught)
    _, same = quietly(GROUP, ["all"])  # box-a and box-b: other nodes, the same hardware
    assert not same


def test_two_groups_compare_as_two_runs(tmp_path):
    folder = storage(tmp_path, SHARD_1, SHARD_2)

    def regrouped(data: dict) -> None:
        data["mixbench_options"]["shard_group"] = "0123456789ab"
        data["datetime"] = "2026-03-02T10:00:00+00:00"

    for source in (SHARD_1, SHARD_2):
        rewritten(source, folder / source.parent.name / f"0002_{source.name[5:]}", regrouped)
    files = select_run_files(folder, ["all"])
    points = load(folder, ["all"])
    assert run_labels(points, files) == [LABEL, "group 0123456789ab (2 shards)"]


def test_the_report_lists_each_shard_and_its_machine(tmp_path):
    folder = storage(tmp_path / "storage", SHARD_1)
    rewritten(
        SHARD_2,
        folder / "box-b" / SHARD_2.name,
        lambda data: data["machine_info"].update(gpu_name="NVIDIA H200"),
    )
    out = tmp_path / "out"
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--storage", str(folder), "--out", str(out), "--format", "md"])
    assert code == 0
    shards = pd.read_csv(out / "tables" / "shards.csv")
    assert shards["shard"].tolist() == ["1/2", "2/2"]
    assert shards["node"].tolist() == ["box-a", "box-b"]
    assert shards["gpu"].fillna("none").tolist() == ["none", "NVIDIA H200"]
    markdown = (out / "report.md").read_text()
    assert LABEL in markdown
    summary = markdown.split("## Runs")[0]
    assert "ran on different hardware" in summary


def compare_in(folder: Path, out: Path, *runs: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        code = main(
            ["compare", *runs, "--storage", str(folder), "--out", str(out), "--format", "md"]
        )
    return code, stdout.getvalue(), stderr.getvalue()


def test_compare_takes_a_shard_or_a_folder_of_one_group_as_its_whole_group(tmp_path):
    whole_file = WHOLE / "box-a" / "0001_eee5555_20260301_090000.json"
    folder = storage(tmp_path / "storage", whole_file, SHARD_1, SHARD_2)
    whole = str(folder / "box-a" / whole_file.name)
    for shard_run in (str(folder / "box-a" / SHARD_1.name), str(folder / "box-b")):
        code, text, errors = compare_in(folder, tmp_path / "out", whole, shard_run)
        assert code == 0, errors
        assert LABEL in text
    # a shard named by a path outside the storage: its group as far as it is there
    code, text, errors = compare_in(folder, tmp_path / "out", whole, str(SHARD_1))
    assert code == 0, errors
    assert f"group {make_shards.GROUP} (" in text


def test_compare_refuses_a_selector_naming_several_runs(tmp_path):
    folder = storage(tmp_path / "storage", WHOLE / "box-a" / "0001_eee5555_20260301_090000.json")
    mixed = storage(
        tmp_path / "mixed", SHARD_1, WHOLE / "box-a" / "0001_eee5555_20260301_090000.json"
    )
    code, _, errors = compare_in(folder, tmp_path / "out", str(SHARD_1), str(mixed))
    assert code == 2
    assert "names 2 runs" in errors and "the shards of one group" in errors
    assert "Traceback" not in errors


def test_shards_run_with_other_options_are_not_merged(tmp_path):
    """One --shard-group reused for another dtype and profile: refused, naming the
    options, where they became one run with a false verdict drawn across them."""
    folder = storage(tmp_path / "storage", SHARD_1)

    def other_run(data: dict) -> None:
        data["mixbench_options"].update(dtype="float64", profile="default", workers=4)

    rewritten(SHARD_2, folder / "box-b" / SHARD_2.name, other_run)
    with pytest.raises(ReportError) as error:
        load(folder, ["all"])
    message = str(error.value)
    assert '"float32" in box-a/0001' in message and '"float64" in box-b/0001' in message
    assert "profile:" in message and "workers" not in message  # a machine's own may differ
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--storage", str(folder), "--out", str(tmp_path / "out"), "--format", "md"])
    assert code != 0 and "dtype" in stderr.getvalue() and "Traceback" not in stderr.getvalue()
    assert len(stderr.getvalue().strip().splitlines()) == 1


def comparison(mixers: list[str], status: str = "ok") -> dict:
    """An interleaved point of forward at L1024 alternating ``mixers`` (as the shard
    that held test_interleaved[forward] saves it)."""
    from tests.fixtures.make_benchmarks import schema_benchmark, stats

    values = dict(
        workload="interleaved", of_workload="forward", sweep="length", seq_len=1024,
        n_layers=2, dtype="float32", device="cpu",
    )  # fmt: skip
    if status != "ok":
        return schema_benchmark(None, **values, status=status, reason="fewer than two mixers")
    times = {m: [0.01, 0.011, 0.012] for m in mixers}
    return schema_benchmark(stats(0.03), **values, interleaved_s=times, status=status)


def test_a_merged_group_says_which_ratios_are_unpaired_and_why(tmp_path):
    """Each shard alternates only the mixers dealt to it: the summary says which
    ratios of the merged run come from rounds timed apart, and why."""
    folder = storage(tmp_path / "storage", SHARD_2)
    data = json.loads(SHARD_1.read_text())
    mine = sorted(
        {e["extra_info"]["mixer"] for e in data["benchmarks"] if e["extra_info"].get("mixer")}
    )

    def compared_alone(data: dict) -> None:
        data["benchmarks"].append(comparison(["retnet/chunkwise", "mamba/scan"]))

    rewritten(SHARD_1, folder / "box-a" / SHARD_1.name, compared_alone)
    _, caught = quietly(folder, ["all"])
    [message] = [m for m in caught if "unpaired" in m]
    assert "forward: attention/sdpa" in message and "train_step" not in message
    assert "each shard alternates only the mixers dealt to it" in message
    assert mine  # the fixture's shard 1 measured mixers of its own

    def skipped(data: dict) -> None:  # the shard that held the comparison ran < 2 mixers
        data["mixbench_failures"].append(comparison([], status="skipped"))

    rewritten(SHARD_1, folder / "box-a" / SHARD_1.name, skipped)
    _, caught = quietly(folder, ["all"])
    [message] = [m for m in caught if "unpaired" in m]
    assert "forward: attention/sdpa, mamba/scan, retnet/chunkwise" in message
    _, none = quietly(GROUP, ["all"])  # no comparison tried (an older run): nothing said
    assert not none

"""The reader against the contract in schema.py: every status round-trips,
malformed records are named and never ok, plain pytest-benchmark files are
told apart, older fixtures still load, and nothing imports torch."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import schema
from reports.load import (
    InvalidPointWarning,
    ReportError,
    ShardOf,
    ShardWarning,
    SkippedFileWarning,
    load,
    load_points,
    run_file,
    shard_of,
)
from tests.fixtures import make_benchmarks as make

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
STAMP = "2026-02-01T12:00:00+00:00"
OPTIONS = {"profile": "smoke", "device": "cpu", "dtype": "float32", "sweep": "length"}


#: a value of each JSON type the schema's fields take
SAMPLES = {
    schema.INT: 7,
    schema.FLOAT: 0.5,
    schema.TEXT: "text",
    schema.MAPPING: {"n_heads": 2},
    schema.LIST: [{"lr": 1e-3, "val_accuracy": 0.4}],
    (bool,): True,
}
FIXED = {
    "mixer": "retnet/chunkwise",
    "family": None,  # make_extra_info derives family and variant from the mixer
    "variant": None,
    "workload": schema.Workload.FORWARD,
    "sweep": "length",
    "seq_len": 1024,
}


def point(status: schema.Status = schema.Status.OK, **values: object) -> dict:
    """Every field of the schema, whatever it holds now, given a value of its type."""
    fields = {f.name: SAMPLES[f.types] for f in schema.FIELDS}
    fields.update(FIXED, status=status)
    fields.update(values)
    return {k: v for k, v in fields.items() if v is not None}


def write_run(folder: Path, benchmarks: list, failures: list, name: str, **data: object) -> Path:
    path = folder / "laptop" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = make.schema_autosave(benchmarks, failures, OPTIONS, stamp=STAMP)
    saved.update(data)
    path.write_text(json.dumps(saved), encoding="utf-8")
    return path


def read_one(path: Path) -> pd.DataFrame:
    return load_points([run_file(path)])


# -- the schema, round trip -----------------------------------------------------


@pytest.mark.parametrize("status", list(schema.Status))
def test_every_status_round_trips_through_the_schema(tmp_path, status):
    accuracy = dict(workload=schema.Workload.ACCURACY, task="lra-listops", sweep=None)
    values = [point(status), point(status, **accuracy)]
    timed = status in (schema.Status.OK, schema.Status.TIMEOUT)
    entries = [make.schema_benchmark(make.stats(0.01) if timed else None, **v) for v in values]
    path = write_run(tmp_path, entries if timed else [], [] if timed else entries, "0001_x.json")
    with warnings_as_errors():
        rows = read_one(path)
    assert len(rows) == 2
    for (_, row), given in zip(rows.iterrows(), values, strict=True):
        assert row["status"] == status
        assert row["ok"] == (status == schema.Status.OK)
        for key in schema.EXTRA_INFO_KEYS:
            expected = schema.make_extra_info(**given)[key]
            if expected is None:
                assert row[key] is None or (isinstance(row[key], float) and math.isnan(row[key]))
            else:
                assert row[key] == expected, key
    speed = rows[rows["workload"] == "forward"].iloc[0]
    assert speed["axis_value"] == 1024 and speed["family"] == "retnet"
    if timed:
        assert speed["time_s"] == 0.01


@contextlib.contextmanager
def warnings_as_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_a_run_before_sweeps_is_a_length_sweep():
    points = load(FIXTURES, ["all"])
    speed = points[points["workload"].isin(schema.SPEED_WORKLOADS)]
    assert (speed["sweep"] == "length").all()
    assert (speed["axis_value"] == speed["seq_len"]).all()
    assert points.loc[points["workload"] == "accuracy", "sweep"].isna().all()


def test_the_old_fixtures_load_as_they_are():
    with warnings_as_errors():
        points = load(FIXTURES, ["all"])
    assert not (points["status"] == schema.Status.INVALID).any()
    assert points["run"].nunique() == 4
    assert points.loc[points["run"] == "0001 AMD EPYC", "ok"].sum() == 66


def test_an_old_reference_failure_reads_as_reference_failed(tmp_path):
    info = point(schema.Status.FAILED, reason="disagrees with its family reference: error 0.3")
    path = write_run(tmp_path, [], [make.schema_benchmark(**info)], "0001_x.json")
    row = read_one(path).iloc[0]
    assert row["status"] == schema.Status.REFERENCE_FAILED and not row["ok"]


# -- malformed records ----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"extra_info": 5}, "extra_info is 5"),
        ({"extra_info.seq_len": "long"}, "seq_len is 'long'"),
        ({"stats": "fast"}, "stats is 'fast'"),
        ({"stats.median": "quick"}, "stats.median is 'quick'"),
        ({"extra_info.status": "exploded"}, "status 'exploded'"),
        ({"extra_info.sweep": "width"}, "sweep 'width'"),
    ],
)
def test_a_malformed_field_is_named_and_not_ok(tmp_path, change, named):
    good = make.schema_benchmark(make.stats(0.02), **point(seq_len=2048))
    bad = make.schema_benchmark(make.stats(0.01), **point())
    for key, value in change.items():
        part, _, leaf = key.partition(".")
        if leaf:
            bad[part][leaf] = value
        else:
            bad[part] = value
    path = write_run(tmp_path, [good, bad], [], "0001_x.json")
    with pytest.warns(InvalidPointWarning) as caught:
        rows = read_one(path)
    message = " ".join(str(w.message) for w in caught)
    assert str(path) in message and bad["name"] in message and named in message
    assert rows["ok"].tolist() == [True, False]
    broken = rows.iloc[1]
    assert broken["status"] == schema.Status.INVALID and named in broken["reason"]


def test_a_plain_pytest_benchmark_file_is_named_as_such(tmp_path):
    plain = {
        "machine_info": {"node": "x"},
        "commit_info": {},
        "benchmarks": [
            {
                "name": "test_sort",
                "fullname": "tests/test_sort.py::test_sort",
                "extra_info": {},
                "stats": make.stats(0.001),
            }
        ],
        "datetime": STAMP,
        "version": "5.1.0",
    }
    (tmp_path / "0001_plain.json").write_text(json.dumps(plain))
    ours = write_run(
        tmp_path, [make.schema_benchmark(make.stats(0.01), **point())], [], "0002.json"
    )
    with pytest.warns(SkippedFileWarning, match="written by plain pytest-benchmark") as caught:
        points = load(tmp_path, ["all"])
    assert "0001_plain.json" in str(caught[0].message)
    assert points["run_path"].unique().tolist() == [str(ours)]


# -- no torch -------------------------------------------------------------------


def test_the_reports_never_import_torch():
    code = (
        "import sys, pkgutil, importlib, reports, reports.__main__\n"
        "for m in pkgutil.iter_modules(reports.__path__):\n"
        "    importlib.import_module('reports.' + m.name)\n"
        "import suite.slopes\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)\n"
        "print('ok')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "ok"


def test_points_of_no_mixer_are_valid_and_calibrate_the_peak(tmp_path):
    calibration = make.schema_benchmark(
        make.stats(0.001),
        workload=schema.Workload.CALIBRATION,
        seq_len=512,
        batch=1,
        d_model=512,
        flops=2 * 512**3,
        status=schema.Status.OK,
    )
    interleaved = make.schema_benchmark(
        make.stats(0.05),
        workload=schema.Workload.INTERLEAVED,
        of_workload="forward",
        sweep="length",
        seq_len=1024,
        interleaved_s={"retnet/chunkwise": [0.01, 0.011], "attention/sdpa": [0.02, 0.021]},
        status=schema.Status.OK,
    )
    forward = make.schema_benchmark(make.stats(0.01), **point())
    path = write_run(tmp_path, [calibration, interleaved, forward], [], "0001_x.json")
    with warnings_as_errors():
        rows = read_one(path)
    assert rows["ok"].all()
    assert rows["machine_matmul_peak_flops_per_s"].unique().tolist() == [2 * 512**3 / 0.001]


# -- shards and accuracy fields -------------------------------------------------


def test_a_shard_is_read_from_the_runs_options():
    options = schema.OPTIONS_KEY
    assert shard_of({options: {"shard": "2/4", "shard_group": "abc"}}) == ShardOf("abc", 2, 4)
    assert str(shard_of({options: {"shard": " 1 / 2 ", "shard_group": "g"}})) == "1/2"
    for not_a_shard in (
        {options: {"shard": "2/4"}},  # no group: nothing to merge it with
        {options: {"shard": "5/4", "shard_group": "abc"}},
        {options: {"shard": "half", "shard_group": "abc"}},
        {options: {"profile": "smoke"}},
        {},
        None,
    ):
        assert shard_of(not_a_shard) is None


def test_an_unsharded_run_is_its_own_file(tmp_path):
    path = write_run(tmp_path, [make.schema_benchmark(make.stats(0.01), **point())], [], "1.json")
    row = read_one(path).iloc[0]
    assert row["run_key"] == str(path) and row["run_group"] is None and row["shard"] is None


def test_a_shard_names_its_group_in_every_row(tmp_path):
    entries = [make.schema_benchmark(make.stats(0.01), **point())]
    path = write_run(tmp_path, entries, [], "0001_x.json")
    data = json.loads(path.read_text())
    data[schema.OPTIONS_KEY].update(shard="1/3", shard_group="feed")
    path.write_text(json.dumps(data))
    with pytest.warns(ShardWarning, match=r"shard 2/3, 3/3 missing"):
        row = read_one(path).iloc[0]
    assert (row["run_group"], row["shard"], row["run_key"]) == ("feed", "1/3", "shard-group:feed")
    assert row["run"] == "group feed (1 of 3 shards)"


def test_an_accuracy_points_lists_and_settings_reach_the_table(tmp_path):
    seeds = [
        {"seed": 0, "accuracy": 0.5, "status": "ok"},
        {"seed": 1, "accuracy": 0.7, "status": "ok"},
    ]
    grid = [{"lr": 1e-3, "val_accuracy": 0.6, "status": "ok"}]
    values = point(
        workload=schema.Workload.ACCURACY,
        task="mqar-L64-kv8",
        sweep=None,
        seed_accuracies=seeds,
        lr_grid=grid,
        task_config={"num_kv_pairs": 8, "seq_len": 64},
        state_bytes=None,
    )
    path = write_run(tmp_path, [make.schema_benchmark(make.stats(1.0), **values)], [], "1.json")
    with warnings_as_errors():
        row = read_one(path).iloc[0]
    assert row["seed_accuracies"] == seeds and row["lr_grid"] == grid
    assert row["task_config"] == {"num_kv_pairs": 8, "seq_len": 64}
    assert math.isnan(row["state_bytes"])  # not recorded yet: None, never a zero


# -- crafted files: bounded reads, implausible machine info -------------------------


def test_an_autosave_too_large_to_be_ours_is_skipped_by_name(tmp_path):
    """66M empty objects in 198 MB gave a MemoryError traceback: the size is checked
    before the file is read (a sparse file: no disk used)."""
    huge = tmp_path / "laptop" / "0001_huge.json"
    huge.parent.mkdir(parents=True)
    with huge.open("wb") as f:
        f.write(b'{"benchmarks": [')
        f.truncate(198 * 2**20)
    ours = write_run(
        tmp_path, [make.schema_benchmark(make.stats(0.01), **point())], [], "0002.json"
    )
    with pytest.warns(
        SkippedFileWarning, match=r"0001_huge.json: 198 MiB, larger than any"
    ) as caught:
        points = load(tmp_path, ["all"])
    assert "32 MiB at most" in str(caught[0].message)
    assert points["run_path"].unique().tolist() == [str(ours)]


def test_an_autosave_of_a_flood_of_empty_points_is_skipped_by_name(tmp_path):
    flood = write_run(tmp_path, [{}] * 100_001, [], "0001_flood.json")
    with pytest.warns(SkippedFileWarning, match="0001_flood.json: 100001 points, more than"):
        with pytest.raises(ReportError, match="none of the selected runs could be read"):
            read_one(flood)


def test_deeply_nested_json_is_skipped_by_name(tmp_path):
    nested = tmp_path / "0001_nested.json"
    nested.write_text('{"benchmarks": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.warns(SkippedFileWarning, match="0001_nested.json: not readable JSON"):
        with pytest.raises(ReportError):
            read_one(nested)


@pytest.mark.parametrize("peak", [1e308, float("inf"), -5.0, True])
def test_an_implausible_matmul_peak_is_invalid_and_named(tmp_path, peak):
    forward = make.schema_benchmark(make.stats(0.01), **point())
    path = write_run(tmp_path, [forward], [], "0001_x.json")
    data = json.loads(path.read_text())
    data["machine_info"]["matmul_peak_flops_per_s"] = peak
    path.write_text(json.dumps(data))
    with pytest.warns(InvalidPointWarning, match=r"0001_x.json: machine_info matmul_peak"):
        rows = read_one(path)
    assert rows["machine_matmul_peak_flops_per_s"].isna().all()

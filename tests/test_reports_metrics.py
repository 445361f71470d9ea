"""The schema's one table of metrics: its own rules, and a metric added to it
(with values in the points) shown in the cost tables, a figure of its own,
the comparison and the summary without an edit to reports/."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import schema
from reports.compare import compare_runs
from reports.load import load_points, run_file
from reports.render import format_value, formatted
from reports.report import Context, metric_figure_blocks
from reports.summary import headline_table
from reports.tables import inference_cost_table, training_cost_table
from reports.units import human
from schema import (
    LOWER,
    METRICS,
    SPEED_WORKLOADS,
    Metric,
    Place,
    Unit,
    Workload,
    metric_problems,
    metrics_at,
    unit_of,
)

BENCHMARKS = Path(__file__).parent / "fixtures" / "benchmarks" / "Linux-CPython-3.11-64bit"
RUN_A = BENCHMARKS / "0001_aaa1111_20260101_120000.json"
RUN_B = BENCHMARKS / "0002_bbb2222_20260102_120000.json"
JOULES = Unit("J", "J", "_j", "decimal")
ENERGY = Metric(
    "energy_j", JOULES, "Energy per call", LOWER, SPEED_WORKLOADS, frozenset(Place), "energy",
    tables=(Workload.TRAIN_STEP, Workload.DECODE), best="least_energy", figure="energy",
    doc="joules one call drew",
)  # fmt: skip
#: the mixer whose energy doubles from run A to run B
HUNGRY = "retnet/chunkwise"


def test_the_metrics_keep_their_own_rules():
    assert metric_problems(METRICS) == []
    assert {m.field for m in METRICS} >= {"time_s", "peak_mem_bytes", "tokens_per_s"}
    # every saved metric is an extra_info field of its own type
    for metric in (m for m in METRICS if m.saved):
        assert schema.FIELDS_BY_NAME[metric.field].types == metric.types


def test_a_metric_that_breaks_the_rules_is_named():
    misnamed = replace(ENERGY, field="energy", direction="up", figure="")
    problems = " ".join(metric_problems((misnamed, misnamed)))
    assert "must end with _j" in problems
    assert "neither lower nor higher" in problems
    assert "give it a figure stem" in problems
    assert "twice" in problems


def test_headers_and_units_come_from_the_table():
    memory = schema.METRICS_BY_FIELD["peak_mem_bytes"]
    assert memory.header == "Peak memory (B)"
    assert unit_of("tokens_low_per_s") is schema.TOKENS_PER_S  # per second, not seconds
    assert unit_of("accuracy") is schema.FRACTION
    assert unit_of("flops_counted") is None


@pytest.fixture
def with_energy(monkeypatch: pytest.MonkeyPatch) -> Metric:
    """ENERGY in the schema's table, as a new entry there would be."""
    monkeypatch.setattr(schema, "METRICS", (*schema.METRICS, ENERGY))
    monkeypatch.setattr(schema, "METRICS_BY_FIELD", {**schema.METRICS_BY_FIELD, "energy_j": ENERGY})
    monkeypatch.setattr(schema, "UNITS", (*schema.UNITS, JOULES))
    return ENERGY


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    """Two runs of one machine, each point with an energy: 1 J per MiB of its
    peak memory; HUNGRY's doubled in the second run."""
    points = load_points([run_file(RUN_A), run_file(RUN_B)])
    energy = points["peak_mem_bytes"] / 2**20
    second = (points["run"] == sorted(points["run"].unique())[1]) & (points["mixer"] == HUNGRY)
    return points.assign(energy_j=energy.where(~second, 2 * energy))


def runs(points: pd.DataFrame) -> list[str]:
    return sorted(points["run"].unique())


def test_without_the_entry_no_report_shows_energy(points):
    assert "energy_j" not in training_cost_table(points).frame.columns
    assert "energy_a_j" not in compare_runs(points, *runs(points), 0.1).frame.columns
    assert human("energy_j", 1234.5) == "1.23e+03"  # no unit known


def test_a_new_metric_is_a_column_of_its_cost_tables(with_energy, points):
    train = training_cost_table(points)
    assert {"energy_j", "energy_vs_attention_x"} <= set(train.frame.columns)
    assert "energy per call" in train.caption
    row = train.frame[(train.frame["mixer"] == HUNGRY) & (train.frame["run"] == runs(points)[0])]
    assert row["energy_j"].iloc[0] == pytest.approx(row["peak_mem_bytes"].iloc[0] / 2**20)
    assert row["energy_vs_attention_x"].iloc[0] == pytest.approx(
        row["memory_vs_attention_x"].iloc[0]
    )
    decode = inference_cost_table(points)
    assert "energy_j" in decode.frame.columns
    measured = decode.frame["energy_j"].notna()
    assert measured.any()
    assert formatted(decode).loc[measured, "energy_j"].str.endswith("J").all()
    assert format_value("energy_j", 1234.5) == "1.23 kJ"


def test_a_new_metric_gets_a_figure_of_its_own(with_energy, points):
    made = metric_figure_blocks(Context(points, "half"))
    try:
        by_name = {figure.name: figure for figure in made if figure is not None}
        assert {"time", "peak_memory", "tokens_per_s", "energy"} <= set(by_name)
        energy = by_name["energy"]
        assert energy.title == "Energy per call against sequence length, per workload"
        assert {ax.get_ylabel() for ax in energy.figure.axes if ax.has_data()} == {
            "Energy per call"
        }
    finally:
        for figure in made:
            if figure is not None:
                plt.close(figure.figure)


def test_a_new_metric_is_compared_and_its_regression_flagged(with_energy, points):
    table = compare_runs(points, *runs(points), 0.1)
    frame = table.frame
    assert {"energy_a_j", "energy_b_j", "energy_change_x"} <= set(frame.columns)
    hungry = frame[(frame["mixer"] == HUNGRY) & frame["energy_a_j"].notna()]
    assert hungry["energy_change_x"].to_numpy() == pytest.approx(2.0)
    assert hungry["change"].str.contains("energy \\+100%").all()
    assert hungry["regression"].all()
    others = frame[(frame["mixer"] != HUNGRY) & frame["energy_a_j"].notna()]
    assert not others["change"].str.contains("energy").any()
    assert "energy_change_x = energy per call B / A" in table.caption


def test_a_new_metric_has_its_best_mixer_in_the_summary(with_energy, points):
    frame = headline_table(points).frame
    assert {"least_energy", "least_energy_j", "least_energy_vs_attention_x"} <= set(frame.columns)
    # energy follows peak memory in the first run: the same mixer uses least of both
    first = frame[frame["run"] == runs(points)[0]]
    assert first["least_energy"].tolist() == first["least_memory"].tolist()
    assert Place.SUMMARY in ENERGY.shown and ENERGY in metrics_at(Place.SUMMARY)


def test_gpu_memory_columns_show_only_where_a_run_measured_them(points):
    """A CPU run saves no reserved or NVML memory: no empty columns; a run
    that saved them (a GPU run) shows both in its cost tables."""
    gpu_fields = ("peak_reserved_bytes", "device_mem_bytes")
    cpu = training_cost_table(points)
    assert not set(gpu_fields) & set(cpu.frame.columns)
    measured = points.assign(
        peak_reserved_bytes=2 * points["peak_mem_bytes"], device_mem_bytes=3 * 2**30
    )
    for table in (training_cost_table(measured), inference_cost_table(measured)):
        assert set(gpu_fields) <= set(table.frame.columns)
        assert "peak reserved memory" in table.caption

"""The report's headline figure (the answer in one picture) and the headers a
person reads atop every table, while the CSV files keep the field names."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import schema
from reports.figures import headline_figure
from reports.load import load_points, run_file
from reports.render import html_table, markdown_table
from reports.spread import with_spread
from reports.summary import headline_table
from reports.tables import Table, header, inference_cost_table, training_cost_table

HERE = Path(__file__).parent / "fixtures"
CPU_1 = HERE / "benchmarks" / "Linux-CPython-3.11-64bit" / "0001_aaa1111_20260101_120000.json"
ACCURACY_RUN = HERE / "accuracy" / "lab-box" / "0001_fff6666_20260305_120000.json"


@pytest.fixture(scope="module")
def cpu() -> pd.DataFrame:
    return with_spread(load_points([run_file(CPU_1)]))


@pytest.fixture(scope="module")
def both() -> pd.DataFrame:
    return with_spread(load_points([run_file(CPU_1), run_file(ACCURACY_RUN)]))


def panels_of(points: pd.DataFrame) -> list[str]:
    result = headline_figure(points)
    if result is None:
        return []
    try:
        return [ax.get_title() for ax in result.figure.axes]
    finally:
        plt.close(result.figure)


def test_the_headline_figure_has_time_latency_memory_and_accuracy(both):
    result = headline_figure(both)
    try:
        titles = [ax.get_title() for ax in result.figure.axes]
        assert titles == [
            "Training step time",
            "Decode latency per token",
            "Peak memory of a training step",
            "Test accuracy per task (grey: chance)",
        ]
        accuracy = result.figure.axes[-1]
        tasks = [t.get_text() for t in accuracy.get_yticklabels()]
        assert tasks[0] == "mqar-L64-kv4" and tasks[-2:] == ["lra-listops", "lra-text"]
        legend = [t.get_text() for t in result.figure.legends[0].get_texts()]
        assert {"retnet/chunkwise", "attention/sdpa", "mamba/scan"} <= set(legend)
        # each part from the newest run that has it, named
        assert "test accuracy per task (0001 lab-box/0001)" in result.caption
        assert "Training step time (0001 Linux-CPython-3.11-64bit/0001)" in result.caption
    finally:
        plt.close(result.figure)


def test_a_part_the_runs_lack_is_left_out_not_drawn_empty(cpu, both):
    speed_only = both[both["workload"] != "accuracy"]
    assert panels_of(speed_only) == [
        "Training step time",
        "Decode latency per token",
        "Peak memory of a training step",
    ]
    accuracy_only = both[both["workload"] == "accuracy"]
    assert panels_of(accuracy_only) == ["Test accuracy per task (grey: chance)"]
    no_decode = both[both["workload"] != "decode"]
    assert "Decode latency per token" not in panels_of(no_decode)
    assert panels_of(both[both["workload"] == "forward"]) == []


def test_an_odd_last_panel_spans_its_row(both):
    result = headline_figure(both[both["workload"] != "accuracy"])
    try:
        first, _, last = result.figure.axes
        assert last.get_position().width > 1.8 * first.get_position().width
    finally:
        plt.close(result.figure)


# -- headers --------------------------------------------------------------------


def test_every_cost_table_is_headed_in_words_and_units(cpu):
    for table in (training_cost_table(cpu), inference_cost_table(cpu), headline_table(cpu)):
        shown = markdown_table(table).splitlines()[0]
        assert "_x" not in shown and "_bytes" not in shown and "_s " not in shown, shown
    training = markdown_table(training_cost_table(cpu)).splitlines()[0]
    for words in ("Length (tokens)", "Time per call", "Time per call × attention",
                  "Peak memory × attention", "Throughput (tokens/s)", "Ratio from"):  # fmt: skip
        assert f" {words} " in training, words
    summary = markdown_table(headline_table(cpu))  # a few rows: shown on its side
    assert summary.splitlines()[0].startswith("|                           | 0001 AMD EPYC decode")
    assert "| Fastest " in summary and "| Least memory " in summary
    assert "0.25× [0.24, 0.26]" in summary  # the values keep their units
    page = html_table(inference_cost_table(cpu))
    assert "Latency per token × attention</th>" in page and "State / KV cache</th>" in page
    assert "latency_vs_attention_x" not in page


def test_the_csv_keeps_the_field_names(cpu):
    table = training_cost_table(cpu)
    assert {"time_s", "time_vs_attention_x", "peak_mem_bytes"} <= set(table.frame.columns)


def test_a_column_named_by_the_data_is_shown_as_it_is():
    assert header("lra-listops") == "lra-listops" and header("my_task") == "my_task"
    assert header("accuracy", percent=True) == "Test accuracy (%)"
    assert header("peak_mem_bytes") == "Peak memory"
    assert header("memory_a_bytes") == "Peak memory A"
    # two columns that would read alike keep their field names
    table = Table("t", "t", "", pd.DataFrame({"run": [1], "Run": [2]}))
    assert table.headers(["run", "Run"]) == ["run", "Run"]


def test_a_metric_added_to_the_schema_is_headed_by_its_label(monkeypatch):
    energy = schema.Metric(
        "energy_j", schema.Unit("J", "J", "_j", "decimal"), "Energy per call", schema.LOWER,
        schema.SPEED_WORKLOADS, frozenset(schema.Place), "energy", best="least_energy",
    )  # fmt: skip
    monkeypatch.setattr(schema, "METRICS", (*schema.METRICS, energy))
    monkeypatch.setattr(schema, "METRICS_BY_FIELD", {**schema.METRICS_BY_FIELD, "energy_j": energy})
    assert header("energy_j") == "Energy per call"
    assert header("energy_vs_attention_x") == "Energy per call × attention"
    assert header("least_energy") == "Least energy"

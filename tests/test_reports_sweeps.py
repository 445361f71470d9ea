"""Reports along any swept axis (tests/fixtures/sweeps: a --sweep batch run
beside a short length sweep), and the one registry of what a report shows."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from reports import figures
from reports.__main__ import main
from reports.load import load_points, run_file
from reports.report import PARTS, Context
from reports.tables import inference_cost_table, scaling_table, training_cost_table
from schema import AXES

HERE = Path(__file__).parent / "fixtures"
BATCH_RUN = HERE / "sweeps" / "batch-box" / "0001_ddd4444_20260104_120000.json"
CPU_1 = HERE / "benchmarks" / "Linux-CPython-3.11-64bit" / "0001_aaa1111_20260101_120000.json"


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    return load_points([run_file(BATCH_RUN)])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One report over the batch-sweep run and a length-sweep run."""
    storage = tmp_path_factory.mktemp("storage")
    for source in (BATCH_RUN, CPU_1):
        (storage / source.parent.name).mkdir()
        shutil.copy(source, storage / source.parent.name / source.name)
    out = tmp_path_factory.mktemp("out") / "report"
    plt.close("all")  # what other tests left open is not this report's
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--storage", str(storage), "--run", "all", "--out", str(out)])
    return {"code": code, "out": out, "figures_open": plt.get_fignums(), "storage": storage}


def test_batch_figures_draw_against_batch_with_the_axis_labelled(points):
    result = figures.time_figure(points, "batch")
    try:
        assert result.name == "time_batch"
        assert result.title == "Time per call against batch size, per workload"
        forward = next(ax for ax in result.figure.axes if ax.get_title().startswith("forward"))
        assert forward.get_xlabel() == AXES["batch"].label
        xs = sorted({x for line in forward.get_lines() for x in line.get_xdata()})
        assert xs == [1, 4, 16]
        assert "seq_len 256" in result.caption  # what was held fixed
    finally:
        plt.close(result.figure)


def test_the_two_sweeps_of_one_run_are_not_merged(points):
    result = figures.time_figure(points, "length")
    try:
        forward = next(ax for ax in result.figure.axes if ax.get_title().startswith("forward"))
        xs = sorted({x for line in forward.get_lines() for x in line.get_xdata()})
        assert xs == [256, 512, 1024]  # no batch-sweep point at L=256, B=4 or 16
        for line in forward.get_lines():
            assert len(line.get_xdata()) == 3
    finally:
        plt.close(result.figure)
    decode = figures.decode_cost(points, "batch")
    try:
        assert decode.figure.axes[0].get_xlabel() == AXES["batch"].label
    finally:
        plt.close(decode.figure)


def test_scaling_along_batch_names_the_axis(points):
    table = scaling_table(points, "all", "batch")
    assert table.name == "scaling_batch" and "batch" in table.title
    assert "batch size" in table.caption
    frame = table.frame.set_index(["workload", "mixer"])
    assert frame.loc[("forward", "attention/sdpa"), "time_slope"] == pytest.approx(1.0)
    assert frame.loc[("train_step", "retnet/chunkwise"), "memory_slope"] == pytest.approx(1.0)
    assert frame.loc[("forward", "attention/sdpa"), "fit_batch"] == "1–16 (3 points)"
    length = scaling_table(points, "all", "length").frame.set_index(["workload", "mixer"])
    assert length.loc[("forward", "attention/sdpa"), "time_slope"] == pytest.approx(2.0)
    assert "train_step" not in length.index.get_level_values("workload")


def test_cost_tables_along_batch(points):
    train = training_cost_table(points, "batch")
    assert train.name == "training_cost_batch" and "batch" in train.frame.columns
    assert train.frame["batch"].tolist() == [16, 16]  # attention broke at 64: an oom, not a row
    decode = inference_cost_table(points, "batch").frame.set_index(["batch", "mixer"])
    assert decode.loc[(4, "attention/sdpa"), "state_vs_attention_x"] == pytest.approx(1.0)
    assert decode.index.get_level_values("batch").unique().tolist() == [1, 4, 16]


@pytest.mark.slow
def test_every_registered_builder_is_placed_in_the_report(report, points):
    markdown = (report["out"] / "report.md").read_text()
    ctx = Context(load_points([run_file(BATCH_RUN), run_file(CPU_1)]), "half")
    plt.close("all")
    names = []
    for part in PARTS:
        for block in part.build(ctx):
            if block is None:
                continue
            if isinstance(block, str):
                assert block.splitlines()[0] in markdown
            elif hasattr(block, "frame"):
                names.append(block.name)
                assert f"(tables/{block.name}.csv)" in markdown, block.name
            else:
                names.append(block.name)
                plt.close(block.figure)
                assert f"(figures/{block.name}.png)" in markdown, block.name
    assert {"time", "time_batch", "decode_cost_batch", "scaling_batch", "accuracy"} <= set(names)
    assert plt.get_fignums() == []


def test_a_report_leaves_no_figure_open(report):
    assert report["code"] == 0
    assert report["figures_open"] == []

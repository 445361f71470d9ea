"""Costs a reader can trust (tests/fixtures/spread, written by
tests/fixtures/make_spread.py): every time with its spread, ratios with a 95%
interval from the interleaved passes or the rounds, points timed under
contention marked, and FLOP counts held to the machine's matmul peak."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from reports import figures, flops
from reports.load import load_points, run_file
from reports.render import markdown_table
from reports.spread import (
    CI,
    IQR,
    NO_SPREAD,
    PAIRED,
    QUARTILES,
    UNPAIRED,
    median_ci,
    paired_ratio,
    time_ratio,
    unpaired_ratio,
    with_spread,
)
from reports.summary import decode_table, headline_table
from reports.tables import inference_cost_table, training_cost_table
from tests.fixtures import make_spread

HERE = Path(__file__).parent / "fixtures"
CPU_1 = HERE / "benchmarks" / "Linux-CPython-3.11-64bit" / "0001_aaa1111_20260101_120000.json"


@pytest.fixture(scope="module")
def spread() -> pd.DataFrame:
    return with_spread(load_points([run_file(make_spread.PATH)]))


@pytest.fixture(scope="module")
def old() -> pd.DataFrame:
    """A run saved before the rounds were: q1/q3 only."""
    return with_spread(load_points([run_file(CPU_1)]))


def point(points: pd.DataFrame, mixer: str, workload: str, length: int) -> pd.Series:
    chosen = points[
        (points["mixer"] == mixer)
        & (points["workload"] == workload)
        & (points["seq_len"] == length)
    ]
    return chosen.iloc[0]


# -- the spread of every time ------------------------------------------------------


def test_every_time_has_a_bootstrap_ci_of_its_median(spread):
    speed = spread[spread["workload"].isin(["forward", "decode"]) & spread["ok"]]
    assert (speed["time_spread"] == CI).all()
    assert (speed["time_low_s"] <= speed["time_s"]).all()
    assert (speed["time_s"] <= speed["time_high_s"]).all()
    noisy = point(spread, "mamba/scan", "forward", 1024)
    quiet = point(spread, "retnet/chunkwise", "forward", 1024)
    width = lambda p: (p["time_high_s"] - p["time_low_s"]) / p["time_s"]  # noqa: E731
    assert width(noisy) > 3 * width(quiet)  # 25% noise against 2%
    failed = spread[spread["status"] == "timeout"]
    assert (failed["time_spread"] == NO_SPREAD).all()


def test_runs_without_rounds_fall_back_to_their_quartiles(old):
    ok = old[old["ok"] & old["workload"].eq("forward")]
    assert (ok["time_spread"] == IQR).all()
    assert np.allclose(ok["time_low_s"], ok["time_q1_s"])
    table = training_cost_table(old)
    shown = markdown_table(table)
    assert "(IQR " in shown and "ms [" not in shown


def test_the_bootstrap_is_reproducible_and_brackets_the_median():
    times = [1.0, 1.2, 0.9, 1.1, 1.05, 5.0, 0.95]
    low, high = median_ci(times)
    assert (low, high) == median_ci(times)  # a fixed seed: the same report twice
    assert low <= float(np.median(times)) <= high
    assert high < 5.0  # the median shrugs off the outlier
    assert all(math.isnan(v) for v in median_ci([1.0]))


def test_cost_tables_show_the_interval_in_the_cell(spread):
    table = inference_cost_table(spread)
    assert {"latency_low_s", "latency_high_s", "ratios_from"} <= set(table.frame.columns)
    shown = markdown_table(table)
    assert "latency_low_s" not in shown  # folded into the latency cell
    row = next(
        line for line in shown.splitlines() if "| retnet/chunkwise" in line and "512" in line
    )
    assert "µs [" in row or "ms [" in row
    assert "†" in row  # the contended point


# -- ratios -------------------------------------------------------------------------


def test_paired_passes_cancel_a_slow_phase_that_unpaired_rounds_cannot(spread):
    passes = spread.loc[spread["workload"] == "interleaved", "interleaved_s"].iloc[0]
    mine, theirs = passes["retnet/chunkwise"], passes["attention/sdpa"]
    paired = paired_ratio(mine, theirs)
    unpaired = unpaired_ratio(np.array(mine), np.array(theirs))
    assert paired.source == PAIRED and unpaired.source == UNPAIRED
    assert paired.low <= 0.25 <= paired.high  # L=2048: 0.020 s over 0.080 s
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 3


def test_ratios_come_from_the_interleaved_passes_where_the_run_has_them(spread):
    frame = headline_table(spread).frame.set_index("workload")
    forward = frame.loc["forward"]
    assert forward["at"] == "seq_len=2048" and forward["fastest"] == "retnet/chunkwise"
    assert forward["ratios_from"] == "interleaved"
    low, high = forward["fastest_vs_attention_low_x"], forward["fastest_vs_attention_high_x"]
    assert low < forward["fastest_vs_attention_x"] < high
    assert low < 0.25 < high
    decode = decode_table(spread).frame.set_index("mixer")  # no interleaved decode passes
    assert decode.loc["retnet/chunkwise", "ratios_from"] == "rounds"
    assert decode.loc["attention/sdpa", "ratios_from"] == "baseline"
    assert decode.loc["attention/sdpa", "latency_vs_attention_x"] == 1.0


def test_a_ratio_falls_back_to_rounds_then_quartiles(spread, old):
    mine = spread[(spread["mixer"] == "retnet/chunkwise") & spread["workload"].eq("decode")]
    theirs = spread[(spread["mixer"] == "attention/sdpa") & spread["workload"].eq("decode")]
    at = lambda rows: rows[rows["seq_len"] == 1024]  # noqa: E731
    assert time_ratio(at(mine), at(theirs)).source == UNPAIRED
    forward = old[old["workload"].eq("forward") & old["seq_len"].eq(1024)]
    found = time_ratio(
        forward[forward["mixer"] == "retnet/chunkwise"],
        forward[forward["mixer"] == "attention/sdpa"],
    )
    assert found.source == QUARTILES and found.low < found.value < found.high


# -- contention ----------------------------------------------------------------------


def test_contended_points_are_ringed_in_time_figures(spread):
    result = figures.time_figure(spread, "length")
    try:
        forward = next(ax for ax in result.figure.axes if ax.get_title().startswith("forward"))
        rings = [
            c for c in forward.collections if len(c.get_offsets()) and c.get_facecolor().size == 0
        ]
        assert any(1024.0 in c.get_offsets()[:, 0] for c in rings)
        labels = [t.get_text() for t in result.figure.legends[0].get_texts()]
        assert "timed under contention" in labels
        assert "Ringed" in result.caption and "bootstrap 95% CI" in result.caption
        assert forward.containers, "no error bars"
    finally:
        plt.close(result.figure)


# -- FLOPs that obey physics ------------------------------------------------------------


def test_the_peak_is_the_calibration_matmuls_best_round(spread):
    peaks = flops.point_peaks(spread)
    calibration = spread[spread["workload"] == "calibration"].iloc[0]
    expected = 2 * make_spread.PEAK_SIZE**3 / calibration["time_min_s"]
    assert peaks.dropna().unique() == pytest.approx([expected])


def test_a_point_above_the_matmul_peak_is_a_flop_count_error(spread):
    flagged = spread[flops.above_peak(spread)]
    assert flagged[["mixer", "workload", "seq_len"]].values.tolist() == [
        ["retnet/chunkwise", "forward", 2048]
    ]
    table = flops.flop_errors_table(spread)
    assert table.frame["of_peak_x"].item() > 3
    blocks = flops.section_blocks(spread)
    assert "models/attention.py" in blocks[0] and "causal pairs" in blocks[0]


def test_the_flop_figure_draws_an_error_as_a_cross_not_a_fast_kernel(spread):
    result = figures.flops_per_s(spread, "length")
    try:
        forward = next(ax for ax in result.figure.axes if ax.get_title().startswith("forward"))
        colour = figures.mixer_palette(spread)["retnet/chunkwise"]
        lines = [line for line in forward.get_lines() if line.get_marker() == "o"]
        chunkwise = [line for line in lines if np.allclose(line.get_color(), colour)]
        assert len(lines) == 3 and len(chunkwise) == 1
        assert list(chunkwise[0].get_xdata()) == [256, 512, 1024]  # not drawn at 2048
        crosses = [c for c in forward.collections if c.get_offsets()[:, 0].tolist() == [2048.0]]
        assert crosses and np.allclose(crosses[0].get_edgecolor()[0][:3], (1, 0, 0))
        assert "FLOP count is wrong" in result.caption
        assert "retnet/chunkwise forward seq_len=2048" in result.caption
    finally:
        plt.close(result.figure)


def test_old_runs_without_a_peak_are_said_to_be_unchecked(old):
    text = flops.convention_text(old)
    assert "cannot be checked" in text and "0001 AMD EPYC" in text
    assert flops.flop_errors_table(old).frame.empty


# -- two runs compared ------------------------------------------------------------------


def test_a_speed_up_between_runs_carries_its_interval(spread):
    from reports.compare import compare_runs

    slower = spread.assign(
        run="0002 B",
        round_times_s=spread["round_times_s"].map(
            lambda r: [1.1 * t for t in r] if isinstance(r, list) else r
        ),
        time_s=spread["time_s"] * 1.1,
    ).drop(columns=["time_low_s", "time_high_s", "time_spread"])
    both = pd.concat([spread.drop(columns=["time_low_s", "time_high_s", "time_spread"]), slower])
    table = compare_runs(both, "0001 AMD EPYC", "0002 B", 0.05)
    forward = table.frame[table.frame["workload"].eq("forward") & table.frame["seq_len"].eq(1024)]
    forward = forward.set_index("mixer")
    chunkwise = forward.loc["retnet/chunkwise"]
    assert chunkwise["speedup_low_x"] < chunkwise["speedup_x"] < chunkwise["speedup_high_x"]
    assert chunkwise["speedup_x"] == pytest.approx(1 / 1.1)
    assert forward.loc["mamba/scan", "contended"]  # contended in A
    shown = markdown_table(table)
    assert "0.91× [" in shown and "†" in shown
    result = figures.speedup_figure(table.frame, "A → B", 0.05)
    try:
        assert any(ax.containers for ax in result.figure.axes)  # error bars
        assert "Bars: the speed-up's 95% interval" in result.caption
    finally:
        plt.close(result.figure)

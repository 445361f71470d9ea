"""One log–log fit with R² behind the report's scaling table, its claims and
``python -m suite.slopes``; throughput is the suite's tokens_per_s."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.fits import (
    BOOTSTRAP,
    EXACT,
    MIN_PASSES,
    NO_INTERVAL,
    PASSES,
    STANDARD_ERROR,
    fit_loglog,
    fit_series,
)
from reports.load import load_points, run_file
from reports.render import markdown_table
from reports.tables import header, scaling_table, training_cost_table
from schema import values_key, values_of_keys
from suite import slopes

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
CPU_1 = FIXTURES / "Linux-CPython-3.11-64bit" / "0001_aaa1111_20260101_120000.json"
FIT_FIELDS = ("workload", "mixer", "time_slope", "time_r2", "fit_lengths")


def slopes_output(*args: str) -> pd.DataFrame:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert slopes.main([str(CPU_1), *args]) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    # the table is headed in words (reports.tables.header); back to its fields
    fields = {header(field): field for field in FIT_FIELDS}
    return pd.DataFrame(cells[2:], columns=[fields.get(c, c) for c in cells[0]])


def test_slopes_prints_the_reports_fit_with_r2():
    printed = slopes_output("--min-len", "512").set_index(["workload", "mixer"])
    points = load_points([run_file(CPU_1)])
    kept = points["axis_value"].isna() | (points["axis_value"] >= 512)
    table = scaling_table(points[kept], "all")
    expected = table.frame.set_index(["workload", "mixer"])
    assert set(printed.index) == set(expected.index)
    for key, row in expected.iterrows():
        assert float(printed.loc[key, "time_slope"]) == pytest.approx(row["time_slope"], abs=0.005)
        assert float(printed.loc[key, "time_r2"]) == pytest.approx(row["time_r2"], abs=0.005)
    assert printed.loc[("forward", "attention/sdpa"), "time_slope"] == "2.00"
    assert printed.loc[("forward", "retnet/chunkwise"), "fit_lengths"] == "512–2048 (3 points)"


def test_slopes_says_what_is_wrong_with_its_argument(tmp_path, capsys):
    assert slopes.main([str(tmp_path / "missing.json")]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_r2_drops_on_noisy_data():
    clean = fit_loglog([256, 512, 1024, 2048], [1.0, 2.0, 4.0, 8.0])
    noisy = fit_loglog([256, 512, 1024, 2048], [1.0, 3.0, 2.5, 8.0])
    assert clean.r2 == pytest.approx(1.0) and noisy.r2 < 0.95
    assert clean.span == "256–2048 (4 points)"


def test_throughput_is_the_suites_tokens_per_s_not_recomputed():
    points = load_points([run_file(CPU_1)])
    train = points["workload"] == "train_step"
    points.loc[train, "tokens_per_s"] = 123.0  # whatever the suite wrote is what is shown
    frame = training_cost_table(points).frame
    assert (frame.loc[frame["status"] == "ok", "tokens_per_s"] == 123.0).all()


# -- the slope's 95% interval ----------------------------------------------------

SPREAD = Path(__file__).parent / "fixtures" / "spread" / "spread-box"
SPREAD_RUN = SPREAD / "0001_eee5555_20260105_120000.json"


def one(points: pd.DataFrame, mixer: str, workload: str) -> pd.DataFrame:
    return points[(points["mixer"] == mixer) & (points["workload"] == workload)]


def test_a_times_slope_gets_a_bootstrap_interval_over_its_rounds():
    points = load_points([run_file(SPREAD_RUN)])
    quiet = fit_series(one(points, "retnet/chunkwise", "forward"), "time_s", "half")
    assert quiet.interval == BOOTSTRAP and quiet.n == 3
    assert 0.95 < quiet.low < quiet.slope < quiet.high < 1.05
    noisy = fit_series(one(points, "mamba/scan", "forward"), "time_s", "half")
    assert noisy.high - noisy.low > 5 * (quiet.high - quiet.low)  # 25% noise against 2%
    assert noisy.low < 1.2 < noisy.high
    assert fit_series(one(points, "mamba/scan", "forward"), "time_s", "half") == noisy  # seeded
    assert "95% CI [" in noisy.interval_text() and "bootstrap" in noisy.interval_text()


def test_a_slope_from_values_alternated_pass_by_pass_ignores_slow_phases():
    """Each pass's times over L: a slow phase (pass 2, 3x) lifts every value of
    its pass alike, so the passes' slopes agree; the points' medians, timed
    apart, would not see that."""
    lengths = [512, 1024, 2048]
    passes = {512: [1.0, 3.0, 1.1, 0.9], 1024: [2.0, 6.0, 2.2, 1.8], 2048: [4.0, 12.0, 4.4, 3.6]}
    points = pd.DataFrame(
        {
            "ok": True,
            "axis_value": lengths,
            "time_s": [5.0, 1.0, 9.0],  # medians that met different phases
            "round_times_s": [[5.0, 5.1], [1.0, 1.1], [9.0, 9.1]],
            "value_passes_s": [passes[n] for n in lengths],
        }
    )
    fit = fit_series(points, "time_s", "all")
    assert fit.interval == PASSES and fit.slope == pytest.approx(1.0)
    assert fit.low == pytest.approx(1.0) and fit.high == pytest.approx(1.0)
    # a value without passes, or too few passes: the rounds decide, as before
    assert fit_series(points.assign(value_passes_s=None), "time_s", "all").interval == BOOTSTRAP
    short = points.assign(value_passes_s=[passes[n][:2] for n in lengths])
    assert fit_series(short, "time_s", "all").interval == BOOTSTRAP
    assert MIN_PASSES == 3


def test_values_keys_name_one_mixers_values_and_nothing_else():
    keys = [values_key("mamba/scan", "length", n) for n in (512, 1024)]
    assert keys == ["mamba/scan@L512", "mamba/scan@L1024"]
    assert values_of_keys(keys, "length") == {"mamba/scan@L512": 512, "mamba/scan@L1024": 1024}
    assert values_of_keys(["mamba/scan", "attention/sdpa"], "length") is None  # mixers
    assert values_of_keys([*keys, "retnet/chunkwise@L512"], "length") is None  # two mixers
    assert values_of_keys(keys, "batch") is None  # not along that sweep
    assert values_of_keys(["mamba/scan@Lx"], "length") is None


def test_without_rounds_the_interval_is_the_regressions():
    xs = [256, 512, 1024, 2048]
    exact = fit_loglog(xs, [1.0, 2.0, 4.0, 8.0])
    assert exact.interval == STANDARD_ERROR and exact.low == exact.high == pytest.approx(1.0)
    noisy = fit_loglog(xs, [1.0, 2.3, 3.6, 8.4])
    assert noisy.interval == STANDARD_ERROR and noisy.low < noisy.slope < noisy.high
    assert noisy.high - noisy.low > 0.1
    two = fit_loglog([256, 512], [1.0, 2.0])
    assert not two.has_interval and "no interval" in two.interval_text()


def test_the_regressions_interval_is_students_at_any_number_of_values():
    """slope ± t(0.975, n−2)·SE with the exact quantile, past any table's end
    (40 values: t = 2.024, where a hand table's tail guessed 1.96 + 2.4/38)."""
    xs = np.geomspace(64, 65536, 40)
    wobble = np.where(np.arange(40) % 2, 1.1, 0.9)
    fit = fit_loglog(xs, xs**1.5 * wobble)
    x, y = np.log(xs), np.log(xs**1.5 * wobble)
    (slope, _), covariance = np.polyfit(x, y, 1, cov="unscaled")
    residual = np.sum((y - np.polyval(np.polyfit(x, y, 1), x)) ** 2)
    se = math.sqrt(covariance[0, 0] * residual / 38)
    assert fit.slope == pytest.approx(slope)
    assert fit.high - fit.slope == pytest.approx(2.0244 * se, rel=1e-4)


def test_two_counted_values_are_exact_but_two_untimed_times_are_not():
    points = load_points([run_file(CPU_1)])
    chunkwise = one(points, "retnet/chunkwise", "forward")
    chunkwise = chunkwise[chunkwise["seq_len"] >= 1024]
    memory = fit_series(chunkwise, "peak_mem_bytes", "half")
    assert memory.interval == EXACT and memory.low == memory.high == memory.slope
    time = fit_series(chunkwise, "time_s", "half")  # no rounds, two lengths
    assert time.interval == NO_INTERVAL and not time.has_interval


def test_the_scaling_table_shows_each_slope_with_its_interval():
    points = load_points([run_file(SPREAD_RUN)])
    table = scaling_table(points, "half")
    frame = table.frame.set_index(["workload", "mixer"])
    row = frame.loc[("forward", "mamba/scan")]
    assert (
        row["time_interval"] == BOOTSTRAP and row["time_slope_low"] < 1.2 < row["time_slope_high"]
    )
    assert row["contended"] == "seq_len=1024 (×1.9)"
    assert frame.loc[("decode", "attention/sdpa"), "contended"] == ""  # its timeout is no fit
    shown = markdown_table(table)
    line = next(ln for ln in shown.splitlines() if "| forward" in ln and "mamba/scan" in ln)
    assert f"{row['time_slope']:.2f} [{row['time_slope_low']:.2f}, " in line

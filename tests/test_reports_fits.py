"""One log–log fit with R² behind the report's scaling table, its claims and
``python -m suite.slopes``; throughput is the suite's tokens_per_s."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd
import pytest

from reports.fits import fit_loglog
from reports.load import load_points, run_file
from reports.tables import scaling_table, training_cost_table
from suite import slopes

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
CPU_1 = FIXTURES / "Linux-CPython-3.11-64bit" / "0001_aaa1111_20260101_120000.json"


def slopes_output(*args: str) -> pd.DataFrame:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert slopes.main([str(CPU_1), *args]) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return pd.DataFrame(cells[2:], columns=cells[0])


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

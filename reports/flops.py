"""FLOPs that obey physics: each point's achieved FLOP/s (analytic FLOPs over
its median time) against the machine's measured matmul peak for the point's
dtype and device. A point above ``TOLERANCE`` × that peak did not do the work
its ``flops`` says: the count is wrong (or the peak was measured badly), and
the report names it rather than drawing it as a fast kernel.

The peak of a run, per dtype and device, is the best of what it measured: its
calibration matmul (workload ``calibration``: FLOPs over the fastest round)
and the matmul peak in its machine_info (conftest.py, the run's own dtype).
"""

from __future__ import annotations

import math

import pandas as pd

from schema import SPEED_WORKLOADS, Workload

from . import axes
from .spread import with_spread
from .tables import Table, ran_or_broke

#: achieved FLOP/s above this many times the peak is a FLOP-count error
TOLERANCE = 1.05
CONVENTION_SOURCE = "models/attention.py"
CONVENTION = (
    "FLOPs are analytic and count useful work by one convention, stated in the comment "
    f"block at the top of {CONVENTION_SOURCE}: 2 FLOPs per multiply-add; the products with "
    "weights and, for mixing positions, only the causal pairs (L(L+1)/2 for L positions); an "
    "algorithm's own work as it does it (a chunked form's per-chunk state products, a scan's "
    "multiply-adds, an FFT's 2.5 n log2 n); not pairs a kernel computes and then masks, nor "
    "elementwise work (softmax, activations, norms, gates). Achieved FLOP/s is those FLOPs "
    "over the median time per call, so no point can honestly exceed the machine's matmul "
    f"peak: a point above {TOLERANCE:g}× the peak measured for its dtype and device is a "
    "FLOP-count error, listed below and drawn as a red cross, not as a point of its line."
)


def run_peaks(points: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(run, dtype, device) -> the best matmul FLOP/s the run measured there."""
    peaks: dict[tuple[str, str, str], float] = {}
    calibration = points[(points["workload"] == Workload.CALIBRATION) & points["ok"]]
    for _, point in calibration.iterrows():
        fastest = point.get("time_min_s")
        if not (pd.notna(point["flops"]) and pd.notna(fastest) and fastest > 0):
            continue
        key = (point["run"], str(point["dtype"]), str(point["device"]))
        peaks[key] = max(peaks.get(key, 0.0), float(point["flops"]) / float(fastest))
    return peaks


def point_peaks(points: pd.DataFrame) -> pd.Series:
    """Each point's matmul peak in FLOP/s: its run's at its dtype and device,
    at least the machine_info peak (NaN where the run measured none)."""
    peaks = run_peaks(points)
    keys = zip(
        points["run"], points["dtype"].astype(str), points["device"].astype(str), strict=True
    )
    measured = pd.Series([peaks.get(k, math.nan) for k in keys], index=points.index, dtype=float)
    if "machine_matmul_peak_flops_per_s" not in points.columns:
        return measured
    recorded = pd.to_numeric(points["machine_matmul_peak_flops_per_s"], errors="coerce")
    return pd.concat([measured, recorded], axis=1).max(axis=1, skipna=True)


def above_peak(points: pd.DataFrame) -> pd.Series:
    """The ok speed points whose achieved FLOP/s exceeds TOLERANCE × their peak."""
    speed = points["workload"].isin(SPEED_WORKLOADS) & points["ok"]
    achieved = pd.to_numeric(points["achieved_flops_per_s"], errors="coerce")
    return speed & (achieved > TOLERANCE * point_peaks(points))


def flop_errors_table(points: pd.DataFrame) -> Table:
    """Every point whose FLOP count its time cannot have done."""
    chosen = with_spread(ran_or_broke(points))
    flagged = chosen[above_peak(chosen)]
    peaks = point_peaks(chosen)
    rows = [
        {
            "run": point["run"],
            "workload": point["workload"],
            "mixer": point["mixer"],
            "at": axes.at(point["sweep"], point["axis_value"])
            if point["sweep"] in axes.AXES
            else "",
            "dtype": point["dtype"],
            "device": point["device"],
            "flops": point["flops"],
            "time_s": point["time_s"],
            "time_low_s": point["time_low_s"],
            "time_high_s": point["time_high_s"],
            "time_spread": point["time_spread"],
            "achieved_flops_per_s": point["achieved_flops_per_s"],
            "matmul_peak_flops_per_s": peaks[index],
            "of_peak_x": point["achieved_flops_per_s"] / peaks[index],
        }
        for index, point in flagged.iterrows()
    ]
    columns = [
        "run", "workload", "mixer", "at", "dtype", "device", "flops", "time_s", "time_low_s",
        "time_high_s", "time_spread", "achieved_flops_per_s", "matmul_peak_flops_per_s",
        "of_peak_x",
    ]  # fmt: skip
    caption = (
        f"Points whose achieved FLOP/s is above {TOLERANCE:g}× the matmul peak the run measured "
        "for their dtype and device: their analytic FLOPs count work the time cannot have "
        "done (a FLOP-count error in the mixer's flops, by the convention above). They are "
        "drawn as red crosses in the FLOP/s figure, not as points of their line."
    )
    empty = f"No point is above {TOLERANCE:g}× its run's matmul peak (or no run measured a peak)."
    return Table(
        "flop_count_errors", "FLOP-count errors", caption, pd.DataFrame(rows, columns=columns),
        empty=empty, intervals={"time_s": ("time_low_s", "time_high_s", "time_spread")},
    )  # fmt: skip


def no_peak_runs(points: pd.DataFrame) -> list[str]:
    """Runs with speed points but no measured matmul peak: nothing to check against."""
    speed = points[points["workload"].isin(SPEED_WORKLOADS) & points["ok"]]
    peaks = point_peaks(speed)
    return sorted(speed.loc[peaks.isna(), "run"].unique())


def convention_text(points: pd.DataFrame) -> str:
    missing = no_peak_runs(points)
    if not missing:
        return CONVENTION
    return CONVENTION + (
        f" {', '.join(missing)} measured no matmul peak: its FLOP counts cannot be checked."
    )


def section_blocks(points: pd.DataFrame) -> list[str | Table]:
    """The FLOP/s section's text and table; nothing where no speed point has FLOPs."""
    speed = points[points["workload"].isin(SPEED_WORKLOADS) & points["ok"]]
    if not (pd.to_numeric(speed["achieved_flops_per_s"], errors="coerce") > 0).any():
        return []
    return [convention_text(points), flop_errors_table(points)]

"""Do the verdicts survive a noisy machine? The same reduced sweep runs twice,
once as the machine is and once beside CPU hogs (``yes > /dev/null``, one per
``--hogs``) that this command starts and stops; each run goes through
``python -m reports``, and the two reports' claims and slopes are compared:

- no claim may hold in one run and fail in the other (it may become inconclusive);
- the time slopes of points that ran ok in both may differ by at most ``--max-slope-gap``;
- the busy run keeps at least ``--min-kept`` of the points the quiet run measured.

    python -m suite.stability --out /tmp/stability

Both runs use the default profile's one torch thread (``--threads`` to change
it): then a point's time is its thread's CPU seconds (schema.timed_rounds),
which leave out the waits for a core behind the hogs. With more threads than
the hogs leave cores, every op ends at a barrier where one thread waits for
another that waits for a core (2-10x slower beside two hogs on two cores),
and no clock of this process can tell that wait from work: such a run's
points are flagged contended, and its slopes are the load's.

Exit status 0 when all three hold, 1 when one does not, 2 when a run broke.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from reports.claims import FAILS, HOLDS

ROOT = Path(__file__).resolve().parents[1]
MIXERS = "attention/sdpa,retnet/chunkwise,retnet/recurrent,mamba/scan,hyena/fft"
LENGTHS = "512,1k,2k,4k"
WORKLOADS = "test_forward or test_decode or test_interleaved or test_matmul"


@contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    hogs = [
        subprocess.Popen(["yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def run_sweep(storage: Path, args: argparse.Namespace) -> None:
    command = [
        sys.executable, "-m", "pytest", "suite/test_speed.py", "suite/test_calibration.py",
        "--profile", "default", "--device", "cpu", "--mixers", args.mixers,
        "--lengths", args.lengths, "-k", WORKLOADS, "-q", "-p", "no:cacheprovider",
        "--benchmark-autosave", "--benchmark-storage", str(storage),
        *(["--threads", str(args.threads)] if args.threads else []),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: the sweep into {storage} failed:\n{done.stdout[-3000:]}")


def write_report(storage: Path, out: Path) -> None:
    command = [sys.executable, "-m", "reports", "--storage", str(storage), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: the report of {storage} failed:\n{done.stderr[-3000:]}")


def read_tables(report: Path, stem: str) -> pd.DataFrame:
    frames = [pd.read_csv(path) for path in sorted((report / "tables").glob(f"{stem}*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def flipped_claims(quiet: pd.DataFrame, busy: pd.DataFrame) -> pd.DataFrame:
    keys = ["claim", "mixer"]
    both = quiet[[*keys, "verdict"]].merge(
        busy[[*keys, "verdict"]], on=keys, suffixes=("", "_busy")
    )
    flips = {(HOLDS, FAILS), (FAILS, HOLDS)}
    mask = [(a, b) in flips for a, b in zip(both["verdict"], both["verdict_busy"], strict=True)]
    return both.assign(flipped=mask)


def slope_gaps(quiet: pd.DataFrame, busy: pd.DataFrame) -> pd.DataFrame:
    keys = ["workload", "mixer"]
    both = quiet[[*keys, "time_slope"]].merge(
        busy[[*keys, "time_slope"]], on=keys, suffixes=("_quiet", "_busy")
    )
    both = both.dropna()
    return both.assign(gap=(both["time_slope_busy"] - both["time_slope_quiet"]).abs())


def kept_share(quiet: pd.DataFrame, busy: pd.DataFrame) -> float:
    def ok_points(points: pd.DataFrame) -> set[tuple]:
        ok = points[points["status"] == "ok"]
        return set(zip(ok["workload"], ok["mixer"], ok["seq_len"], strict=True))

    measured = ok_points(quiet)
    return len(measured & ok_points(busy)) / max(1, len(measured))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for both runs")
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--mixers", default=MIXERS)
    parser.add_argument("--lengths", default=LENGTHS)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads per run (default: the profile's)"
    )
    parser.add_argument("--max-slope-gap", type=float, default=0.15)
    parser.add_argument("--min-kept", type=float, default=0.9)
    args = parser.parse_args()
    for name in ("quiet", "busy"):
        if (args.out / name).exists():
            sys.exit(f"error: {args.out / name} exists; give an --out without earlier runs")
    run_sweep(args.out / "quiet", args)
    with cpu_hogs(args.hogs):
        run_sweep(args.out / "busy", args)
    for name in ("quiet", "busy"):
        write_report(args.out / name, args.out / f"{name}-report")
    claims = flipped_claims(
        *(read_tables(args.out / f"{n}-report", "claims") for n in ("quiet", "busy"))
    )
    slopes = slope_gaps(
        *(read_tables(args.out / f"{n}-report", "scaling") for n in ("quiet", "busy"))
    )
    kept = kept_share(
        *(pd.read_csv(args.out / f"{n}-report" / "points.csv") for n in ("quiet", "busy"))
    )
    print(claims.to_markdown(index=False))
    print()
    print(slopes.to_markdown(index=False, floatfmt=".2f"))
    print(f"\nbusy run kept {kept:.0%} of the quiet run's ok points")
    holds = not claims["flipped"].any() and (slopes["gap"] <= args.max_slope_gap).all()
    holds = holds and kept >= args.min_kept
    print("stable" if holds else "NOT stable")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())

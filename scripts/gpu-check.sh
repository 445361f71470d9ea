#!/usr/bin/env bash
# One command that checks the GPU path on one GPU, in under 8 minutes, with
# nothing installed beyond what travels in the checkout:
#   1. the GPU-only tests (pytest tests -m gpu: kernels against references,
#      CUDA events against host timing, the matmul peak, a planted OOM);
#   2. the suite at the gpu-smoke profile, every family's fastest variant
#      (suite.profiles.GPU_CHECK_MIXERS), saved under OUT/benchmarks;
#   3. the report of that run, in OUT/report, and a summary in OUT/summary.txt.
# A wheel found under shared/ or wheels/ (fla's, say) is installed into
# OUT/site-packages (--no-deps --no-index: nothing is downloaded); without fla,
# its variants are recorded unavailable; without a package the suite itself
# needs, the check stops at once saying which.
#
#   bash scripts/gpu-check.sh [OUT]             on a GPU (OUT: gpu-check-out)
#   bash scripts/gpu-check.sh --dry-run [OUT]   the same steps on the CPU at smoke size
#
# Every step runs even when one before it failed; the exit status is 1 when any did.
set -uo pipefail
cd "$(dirname "$0")/.."

dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then
    dry_run=1
    shift
fi
if [[ $# -gt 1 || "${1:-}" == -* ]]; then
    echo "usage: bash scripts/gpu-check.sh [--dry-run] [OUT]" >&2
    exit 2
fi
out="${1:-gpu-check-out}"
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"

# the GPU machine has its packages in the system's Python; a CPU checkout has .venv
if [[ -n "${PYTHON:-}" ]]; then
    python="$PYTHON"
elif [[ $dry_run == 1 && -x .venv/bin/python ]]; then
    python=.venv/bin/python
else
    python=python3
fi

# wheels that travel with the checkout (fla-core; psutil, tqdm, tabulate where the
# machine lacks them) go into OUT/site-packages, first on the path; pip where the
# machine has it, else unpacked (a wheel is a zip of what it installs)
mapfile -t wheels < <(find shared wheels -name '*.whl' 2>/dev/null | sort)
if [[ ${#wheels[@]} -gt 0 ]]; then
    echo "== installing ${wheels[*]} into $out/site-packages"
    if ! "$python" -m pip install --quiet --no-deps --no-index --target "$out/site-packages" \
        "${wheels[@]}"; then
        for wheel in "${wheels[@]}"; do
            "$python" -m zipfile -e "$wheel" "$out/site-packages" || exit 2
        done
    fi
    export PYTHONPATH="$out/site-packages${PYTHONPATH:+:$PYTHONPATH}"
fi
missing="$("$python" - <<'PY'
import importlib.util

needed = ("torch", "pytest_benchmark", "pandas", "scipy", "seaborn", "jinja2", "psutil",
          "tqdm", "tabulate")
print(" ".join(name for name in needed if importlib.util.find_spec(name) is None))
PY
)"
if [[ -n "$missing" ]]; then
    echo "gpu-check: $python lacks $missing; put their wheels under wheels/ (pip download" \
        "$missing --no-deps --only-binary=:all: --python-version 3.12 -d wheels) and rerun" >&2
    exit 2
fi

if [[ $dry_run == 1 ]]; then
    run_args=(--profile smoke --device cpu)
else
    # half a second of warm-up per point: Triton's compiling happens in the untimed first call
    run_args=(--profile gpu-smoke --device cuda --warmup-s 0.5)
fi
mixers="$("$python" -c 'from suite.profiles import GPU_CHECK_MIXERS; print(",".join(GPU_CHECK_MIXERS))')"
failed=()

# timeout -s INT: pytest stops as on Ctrl-C and pytest-benchmark still saves what ran
step() {
    local name="$1" limit="$2"
    shift 2
    echo "== $name: $*"
    timeout -s INT -k 10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
    local status=${PIPESTATUS[0]}
    if [[ $status -ne 0 ]]; then
        failed+=("$name (exit $status)")
    fi
}

start=$SECONDS
step gpu-tests 150 "$python" -m pytest tests -m gpu -q -rs
step suite 300 "$python" -m pytest suite/ "${run_args[@]}" --mixers "$mixers" -q -rs \
    --benchmark-autosave --benchmark-storage "$out/benchmarks"
step report 90 "$python" -m reports --storage "$out/benchmarks" --out "$out/report"

"$python" - "$out" <<'EOF' | tee "$out/summary.txt"
"""The figures a GPU check is read for, from the report's points.csv."""
import sys
from pathlib import Path

import pandas as pd

out = Path(sys.argv[1])
points_csv = out / "report" / "points.csv"
if not points_csv.exists():
    sys.exit(f"no {points_csv}: the report step failed")
points = pd.read_csv(points_csv)
ok = points[points["status"] == "ok"]
peak = points["machine_matmul_peak_flops_per_s"].dropna()
print(f"matmul peak: {peak.max() / 1e12:.4g} TFLOP/s" if len(peak) else "matmul peak: unknown")
speed = ok[ok["workload"].isin(["forward", "train_step", "decode"])]
for (mixer, workload), rows in speed.groupby(["mixer", "workload"]):
    row = rows.loc[rows["seq_len"].idxmax()]
    flops = row.get("achieved_flops_per_s")
    rate = f", {flops / 1e12:.3g} TFLOP/s" if pd.notna(flops) else ""
    reserved = row.get("peak_reserved_bytes")
    memory = f"peak {row['peak_mem_bytes'] / 2**20:.4g} MiB allocated"
    if pd.notna(reserved):
        memory += f", {reserved / 2**20:.4g} MiB reserved"
    print(f"{mixer} {workload} L{row['seq_len']:.0f}: {row['time_s'] * 1e3:.4g} ms{rate}; {memory}")
for status, rows in points[points["status"] != "ok"].groupby("status"):
    print(f"{status}: " + "; ".join(sorted(set(rows["mixer"].fillna("-")))))
EOF

echo "== done in $((SECONDS - start)) s; results in $out"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi

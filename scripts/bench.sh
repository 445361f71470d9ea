#!/usr/bin/env bash
# The main job: the benchmark suite on the CPU (default profile), then the report.
# The accuracy grid trains on Ray, one worker per core; it finishes before the
# speed sweeps start, since timings taken beside other work are not comparable.
# Extra arguments go to pytest, e.g. --profile smoke or --mixers 'retnet/*'.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
.venv/bin/python -m pytest suite/ --device cpu --workers auto --benchmark-autosave "$@"
.venv/bin/python -m reports

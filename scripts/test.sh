#!/usr/bin/env bash
# Install into .venv and run the correctness tests (the README's test command),
# one pytest-xdist worker per core (-n logical): a file's tests stay together on
# one worker, the files with slow tests dealt first, and tests of one xdist_group
# never run at once (tests/conftest.py).
# Extra arguments go to pytest; -n 0 runs them in this one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest tests/ -q -n logical --dist loadfile --no-loadscope-reorder "$@"

#!/usr/bin/env bash
# Install into .venv and run the correctness tests (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest tests/ -q "$@"

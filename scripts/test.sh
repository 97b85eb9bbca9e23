#!/usr/bin/env bash
# Quickstart 2: set up, then lint and run the test suite (what CI runs, through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
pytest -n 2 --dist loadgroup "$@"

#!/usr/bin/env bash
# Quickstart 2: set up, then lint and run the test suite (what CI runs, through .ci/run).
# With CI=true the slow suite (crash and concurrency drills, a few minutes) runs too.
set -euo pipefail
cd "$(dirname "$0")/.."
# The gallery's browser test drives Debian's Chromium (installed when we may; the test skips, saying why, if not).
EMOSCORE_WITH_BROWSER=1 bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
pytest -n 2 --dist loadgroup "$@"
if [ "${CI:-}" = "true" ]; then
    pytest -m slow "$@"
fi

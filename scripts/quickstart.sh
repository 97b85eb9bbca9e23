#!/usr/bin/env bash
# Quickstart 1: set up, then reproduce every stage on the bundled sample data (`dvc repro`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
dvc repro "$@"
dvc metrics show reports/eval_vad.json 2>/dev/null | cut -c1-200 || true

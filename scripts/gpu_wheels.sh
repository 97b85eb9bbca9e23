#!/usr/bin/env bash
# Wheels the lent GPU machine lacks (Python 3.12, x86-64; its own packages: /work/.library/device/KINDS.md) for
# benchmarks/gpu_music.py and gpu_e2e.py, into .whl/ (ignored) at the versions this project's .venv tests with.
# Found by running the scripts under an import blocker that lets only that machine's packages through.
# On the machine: python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl; PYTHONPATH=/tmp/site
set -euo pipefail
cd "$(dirname "$0")/.."
NEEDED="pydantic pydantic_core annotated_types typing_inspection miditoolkit mido chorder muspy music21 more_itertools
webcolors pretty_midi importlib_resources pypianoroll bidict soundfile cffi pycparser jsonpickle"
mkdir -p .whl
for name in $NEEDED; do
    version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$name'))")
    spec="$name==$version"
    if ! python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl "$spec" 2>/dev/null; then
        # no wheel for that machine in the registry: a pure-Python package, built into one here
        python3 -m pip wheel -q --no-deps -w .whl "$spec"
    fi
done
ls .whl

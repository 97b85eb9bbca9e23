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
        --platform manylinux1_x86_64 -d .whl "$spec"; then
        # no wheel for that machine in the registry: build one here, which only a pure-Python package may be
        echo "building $spec here" >&2
        python3 -m pip wheel -q --no-deps -w .whl "$spec"
        built=$(ls .whl/"${name//-/_}"-"$version"-*.whl 2>/dev/null | head -1)
        case "$built" in
            *-py3-none-any.whl | *-py2.py3-none-any.whl) ;;
            *) echo "$spec: no wheel for Python 3.12 x86-64 and not pure Python (${built:-none built})" >&2; exit 1 ;;
        esac
    fi
done
ls .whl

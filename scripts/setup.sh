#!/usr/bin/env bash
# Set up everything emoscore needs on a fresh machine: system packages where we may install them, a virtualenv
# in .venv with the project and its pinned torch/torchvision pair. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

install_system_packages() {
    # FluidSynth + a General MIDI SoundFont render MIDI to audio; chromium runs the gallery's browser test.
    local wanted=(fluidsynth timgm6mb-soundfont)
    [ "${EMOSCORE_WITH_BROWSER:-0}" = 1 ] && wanted+=(chromium)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo="sudo -n" || {
            echo "setup: cannot install ${missing[*]} (not root); audio rendering will be skipped" >&2
            return 0
        }
    fi
    command -v apt-get >/dev/null 2>&1 || { echo "setup: no apt-get; install ${missing[*]} yourself" >&2; return 0; }
    echo "setup: installing ${missing[*]}"
    ($sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" \
        >/dev/null) || echo "setup: could not install ${missing[*]}; audio rendering will be skipped" >&2
}

install_python_packages() {
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    local stamp=.venv/.emoscore-installed
    local wanted
    wanted=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        .venv/bin/python -m pip install -q --upgrade pip
        # pip takes the torch/torchvision pair pinned in pyproject.toml (several GB; runs on the CPU too), every
        # other package at the version in constraints.txt (the set the tests passed with)
        .venv/bin/python -m pip install -q -c constraints.txt -e ".[pipeline,dev]"
        echo "$wanted" > "$stamp"
    fi
}

install_system_packages
install_python_packages

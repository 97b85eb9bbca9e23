"""The prepared GPU measurement (benchmarks/gpu.py) stays runnable between GPU sessions: run here on the CPU at
tiny sizes, its own checks (a batched piece equals the piece alone; bf16 VAD within rounding of fp32) pass."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT


def test_the_gpu_script_runs_its_checks_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    command = [sys.executable, "-m", "benchmarks.gpu", "--out", str(out), "--device", "cpu", "--quick"]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    generation = figures["generation"]["quick"]
    assert figures["device"] == "cpu" and generation["batch"] == 8
    assert generation["batch_check"] == {"pieces_equal": 8, "pieces": 8}  # fixed shapes = eager, token for token
    assert generation["one_fixed_piece_steps_per_s"] > 0 and figures["vad"]["bf16_people_per_s"] > 0
    assert figures["jpeg"]["files"] == 4 and figures["jpeg"]["device_images_per_s"] > 0


@pytest.mark.slow
def test_the_end_to_end_gpu_script_scores_every_photo_on_the_cpu(tmp_path):
    """benchmarks/gpu_e2e.py as the GPU session runs it, at tiny sizes: every photo gets its row, audio and chart."""
    from emoscore.config import RenderParams
    from emoscore.music.audio import bank_for
    from emoscore.music.bank import bank_folder
    from emoscore.music.render import find_soundfont, renderer_available

    if not renderer_available():
        pytest.skip("FluidSynth or a General MIDI SoundFont is missing (the bank is built here)")
    bank_for(RenderParams(), 44100)
    bank = bank_folder(find_soundfont(), 44100, Path(os.environ["EMOSCORE_CACHE"]))
    out = tmp_path / "e2e.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.gpu_e2e",
        "--out",
        str(out),
        "--bank",
        str(bank),
        "--photos",
        "24",
        "--device",
        "cpu",
        "--quick",
        "--work",
        str(tmp_path / "work"),
    ]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    summary = figures["run"]["all"]["summary"]
    assert summary["scored"] == summary["rows_with_audio"] == summary["rows_with_chart"] == 24
    assert figures["run"]["tenth"]["summary"]["scored"] == 2 and summary["failed"] == 0
    assert figures["stages"]["bank_render_pieces_per_s"] > 0 and figures["stages"]["chart_ms_per_photo_one_core"] > 0

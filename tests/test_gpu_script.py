"""The prepared GPU measurement (benchmarks/gpu.py) stays runnable between GPU sessions: run here on the CPU at
tiny sizes, its own checks (a batched piece equals the piece alone; bf16 VAD within rounding of fp32) pass."""

import json
import subprocess
import sys

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

"""`dvc repro` killed mid-stage (slow): the rerun finishes and `dvc status` is clean."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import PROJECT

pytestmark = pytest.mark.slow

TINY = {
    "sample": {
        "emotic_images": {"train": 16, "val": 8, "test": 8},
        "image_width": 96,
        "image_height": 80,
        "emopia_source": "synthetic",  # every quadrant in every split, whatever the size
        "emopia_songs_per_quadrant": 2,
        "emopia_clips_per_song": 2,
        "emopia_bars": 4,
        "photos": 3,
        "unlabeled_pieces": 4,
        "film_scenes": 2,
        "film_scene_seconds": 2.0,
        "film_width": 96,
        "film_height": 64,
    },
    "midi_corpus": {"music21_files": 2, "transpositions": [0]},
    "pretrain_music": {"epochs": 1},
    "emotic": {"context_size": 32, "body_size": 32, "num_workers": 0},
    "vad": {"epochs": 3, "batch_size": 8, "num_workers": 0, "fusion_hidden": 16},
    "music": {"d_model": 32, "n_layers": 1, "n_heads": 2, "seq_len": 128, "epochs": 1},
    "music_classifier": {"d_model": 16, "n_layers": 1, "window": 64, "epochs": 1},
    "eval_music": {"pieces_per_quadrant": 1, "intensity_pieces": 1, "bars": 2},
    "score": {"bars": 1, "audio": "none", "workers": 0},
    "film": {"frames_per_scene": 1},
}


def _project_copy(target: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(target)], check=True)
    params = yaml.safe_load((target / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    (target / "params.yaml").write_text(yaml.safe_dump(params))
    (target / "dvc.lock").unlink(missing_ok=True)
    return target


def test_killed_stage_reruns_and_status_is_clean(tmp_path):
    if shutil.which("dvc", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("dvc is not installed next to this Python")
    project = _project_copy(tmp_path / "project")
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    environment.pop("PREFECT_API_URL", None)
    first = subprocess.Popen(
        ["dvc", "repro"],
        cwd=project,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "Running stage 'train_vad'" in line:
            time.sleep(12)  # inside the training flow
            break
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert any("train_vad" in line for line in seen), "".join(seen)[-2000:]
    rerun = subprocess.run(["dvc", "repro"], cwd=project, env=environment, capture_output=True, text=True)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    status = subprocess.run(["dvc", "status"], cwd=project, env=environment, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout + status.stderr
    assert (project / "data/catalog/images/_delta_log").is_dir() and (project / "reports/eval_vad.json").is_file()
    assert (project / "data/film/film.cues.csv").is_file() and (project / "reports/score_film_demo.json").is_file()

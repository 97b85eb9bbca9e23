"""`dvc repro` reruns exactly what changed: checked on a copy of the pipeline whose outputs are committed as
placeholders, so DVC's own status (not a re-implementation of it) answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
DVC = [sys.executable, "-m", "dvc"]


def dvc(root: Path, *args: str) -> str:
    result = subprocess.run([*DVC, *args], cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """The project's dvc.yaml, params.yaml and code, with every stage committed over placeholder files."""
    root = tmp_path_factory.mktemp("pipeline")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(PROJECT / name, root / name)
    for name in ("emoscore", "flows", "tasks"):
        shutil.copytree(PROJECT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    dvc(root, "init", "--no-scm", "-q")
    placeholders = (
        "from dvc.repo import Repo\n"
        "from pathlib import Path\n"
        "for stage in Repo('.').index.stages:\n"
        "    for item in stage.deps + stage.outs:\n"
        "        path = Path(item.fs_path)\n"
        "        if path.exists(): continue\n"
        "        if path.suffix: path.parent.mkdir(parents=True, exist_ok=True); path.write_text('x')\n"
        "        else: path.mkdir(parents=True, exist_ok=True); (path / 'f').write_text('x')\n"
    )
    subprocess.run([sys.executable, "-c", placeholders], cwd=root, check=True, timeout=120)
    dvc(root, "commit", "--force", "-q")
    return root


@pytest.fixture
def pipeline(committed, tmp_path) -> Path:
    copy = tmp_path / "pipeline"
    shutil.copytree(committed, copy, symlinks=True)
    return copy


def changed_stages(root: Path) -> set[str]:
    return set(json.loads(dvc(root, "status", "--json") or "{}"))


def set_params(root: Path, **changes: object) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        params[section][key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def test_committed_pipeline_is_clean(pipeline):
    assert changed_stages(pipeline) == set()


def test_speed_only_knobs_change_nothing(pipeline):
    set_params(
        pipeline,
        score__workers=3,
        score__engine="torch",
        score__batch_size=5,
        score__chunk_size=9,
        vad__num_workers=4,
        vad__device="cpu",
        music__device="cpu",
        emotic__num_workers=0,
        eval_vad__batch_size=7,
        emotic__max_logged_errors=3,
    )
    assert changed_stages(pipeline) == set()


def test_a_training_knob_reruns_its_stage_and_everything_downstream(pipeline):
    set_params(pipeline, vad__epochs=2)
    assert changed_stages(pipeline) == {"train_vad", "compare_vad_objectives"}
    (pipeline / "models" / "vad.pt").write_text("retrained")  # what rerunning it does, then DVC records it
    dvc(pipeline, "commit", "--force", "-q", "train_vad")
    assert changed_stages(pipeline) == {"eval_vad", "score_demo", "score_film_demo", "compare_vad_objectives"}


def test_a_code_change_reruns_the_stages_that_import_it(pipeline):
    with (pipeline / "emoscore" / "music" / "generate.py").open("a") as handle:
        handle.write("# a comment\n")
    assert changed_stages(pipeline) == {"eval_music", "score_demo", "score_film_demo"}


def test_the_real_dataset_root_is_tracked(pipeline):
    real = pipeline / "elsewhere" / "emotic"
    (real / "Annotations").mkdir(parents=True)
    (real / "Annotations" / "Annotations.mat").write_bytes(b"MATLAB")
    set_params(pipeline, emotic__root=str(real))
    assert "prepare_emotic" in changed_stages(pipeline)
    dvc(pipeline, "commit", "--force", "-q", "prepare_emotic")
    assert changed_stages(pipeline) == set()
    (real / "Annotations" / "Annotations.mat").write_bytes(b"MATLAB, edited")
    assert changed_stages(pipeline) == {"prepare_emotic"}

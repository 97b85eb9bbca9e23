"""dvc.yaml is what pipeline.yaml and the config marks write: every stage depends on exactly the project code it
imports and on the params that change its outputs, and the core library never reaches up into flows or tasks."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from emoscore.config import Params, result_keys, role
from emoscore_flows import pipeline
from emoscore_flows.pipeline import PROJECT, import_closure, imported_modules, render


def test_dvc_yaml_is_what_pipeline_yaml_writes():
    check = subprocess.run(
        [sys.executable, "-m", "emoscore_flows.pipeline", "--check"], cwd=PROJECT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_a_stale_stage_is_named(tmp_path, monkeypatch):
    written = render(pipeline.SOURCE.read_text())
    stale = written.replace("      - emoscore/film/arc.py\n", "", 1)
    monkeypatch.setattr(pipeline, "TARGET", tmp_path / "dvc.yaml")
    (tmp_path / "dvc.yaml").write_text(stale)
    assert pipeline.main(["--check"]) == 1
    (tmp_path / "dvc.yaml").write_text(written)
    assert pipeline.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(yaml.safe_load(render(pipeline.SOURCE.read_text()))["stages"]))
def test_each_stage_lists_its_import_closure_and_only_result_params(name):
    stage = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"][name]
    module = stage["cmd"].split()[-1]
    code = {dep for dep in stage["deps"] if dep.split("/")[0] in {"emoscore", "flows", "tasks"}}
    assert code == {str(path.relative_to(PROJECT)) for path in import_closure(module)}
    for key in stage["params"]:
        section, field = key.split(".", 1)
        assert role(Params.model_fields[section].annotation, field) == "result", f"{name}: {key}"


def test_params_entries_that_are_not_result_keys_are_refused():
    for entry, words in (
        ("score.workers", "marked runtime"),
        ("film.out", "marked location"),
        ("score.nope", "not a key"),
        ("nope", "not a key"),
    ):
        with pytest.raises(ValueError, match=words):
            render(f"stages:\n  s:\n    cmd: python -m emoscore_flows.sample_data\n    params:\n      - {entry}\n")


def test_the_marks_keep_what_the_catalog_identity_and_fingerprints_leave_out():
    score = Params.model_fields["score"].annotation
    assert set(score.model_fields) - set(result_keys(score)) == {
        "batch_size",
        "chunk_size",
        "workers",
        "engine",
        "device",
        "precision",
        "jpeg_decoder",
        "library",
        "catalog",
        "catalog_storage",
    }
    vad = Params.model_fields["vad"].annotation
    assert set(vad.model_fields) - set(result_keys(vad)) == {"num_workers", "device", "resume", "out"}


def test_core_library_never_imports_flows_or_tasks():
    for path in sorted((PROJECT / "emoscore").rglob("*.py")):
        names = {"emoscore_flows", "emoscore_tasks", "flows", "tasks"}
        reaching_up = sorted(m for m in imported_modules(path) if m.split(".")[0] in names)
        assert not reaching_up, f"{path.relative_to(PROJECT)} imports {reaching_up}"


def test_closure_follows_function_level_and_package_imports():
    closure = {str(p.relative_to(PROJECT)) for p in import_closure("emoscore_flows.score_images")}
    assert {"flows/__init__.py", "tasks/__init__.py", "tasks/score.py", "emoscore/__init__.py"} <= closure
    assert "emoscore/music/compose.py" in closure  # the scorer composes each photo's piece
    assert "emoscore/music/train.py" not in closure

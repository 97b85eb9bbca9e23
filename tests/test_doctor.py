"""`emoscore doctor`: one line per piece of the installation, the fix beside each missing one, exit 1 when a
required piece is missing."""

import socket

import yaml
from typer.testing import CliRunner

from emoscore.cli.app import app

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_doctor_reports_models_with_digests_and_missing_ones_with_the_fix(project, tmp_path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["music_classifier"] = {"out": str(tmp_path / "absent_classifier.pt")}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["doctor", "--params", str(tmp_path / "params.yaml")], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    assert lines["ok      VAD model"].endswith(")") and "sha256 " in lines["ok      VAD model"]
    assert "absent_classifier.pt: not found — fix: train it with `dvc repro`" in lines["missing music classifier"]
    assert lines["ok      torch"] and "emoscore" in result.stdout
    assert "FFmpeg" in lines["ok      video"]  # PyAV's own FFmpeg, with what film scoring needs


def test_doctor_passes_when_everything_required_is_there(project, tmp_path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    for section, key, name in (("music_classifier", "out", "classifier.pt"), ("emopia", "vocabulary", "vocab.json")):
        (tmp_path / name).write_text("{}")
        params.setdefault(section, {})[key] = str(tmp_path / name)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["doctor", "--params", str(tmp_path / "params.yaml")], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    unreachable = f"http://127.0.0.1:{_free_port()}/api"
    result = runner.invoke(
        app,
        ["doctor", "--params", str(tmp_path / "params.yaml")],
        env={"COLUMNS": "250", "PREFECT_API_URL": unreachable},
    )
    assert result.exit_code == 1 and f"{unreachable} unreachable" in result.stdout
    assert "fix: start it, or unset PREFECT_API_URL" in result.stdout


def test_doctor_names_what_film_scoring_lacks(monkeypatch):
    import av

    from emoscore.cli.doctor import check_video

    monkeypatch.setattr(av, "codecs_available", av.codecs_available - {"aac"})
    check = check_video()
    assert not check.ok and not check.required and "missing aac" in check.found and "PyAV wheel" in check.fix

"""The film flow and the `score_film_demo` stage: the sample film's stage writes its truth beside it, the demo
stage reports the cuts it found and the quadrants it read next to what the film was made with."""

import csv
import json

import pytest
import yaml

from emoscore.config import SampleParams
from emoscore.samples.film import write_sample_film


def test_the_demo_stage_reports_its_cue_sheet_beside_the_sample_films_truth(
    prefect_harness, project, tmp_path, monkeypatch
):
    from emoscore_flows.score_film import score_film_demo

    sample = SampleParams(film_scenes=2, film_scene_seconds=2.0, film_width=128, film_height=80)
    video, cuts, quadrants = write_sample_film(sample, tmp_path / "film.mp4")
    video.with_suffix(".json").write_text(json.dumps({"cuts": cuts, "quadrants": quadrants}))
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["film"] = {
        "video": str(video),
        "out": str(tmp_path / "out"),
        "catalog": str(tmp_path / "catalog"),
        "frames_per_scene": 1,
        "min_scene_s": 1.0,
    }
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    score_film_demo(str(params))
    report = json.loads((tmp_path / "reports" / "score_film_demo.json").read_text())
    assert report["scenes"] == 2 and report["added_rows"] == 2 and len(report["cues"]) == 2
    assert report["sample"]["cut_frames"] == cuts
    assert all(abs(a - b) <= 1 for a, b in zip(report["sample"]["cut_frames_found"], cuts, strict=True))
    assert report["sample"]["quadrants_read"] == [cue["quadrant"] for cue in report["cues"]]
    assert report["cut_and_hit_rate"] == {
        "events": 1,
        "on_downbeat": 1,
        "rate": 1.0,
        "mean_offset_ms": pytest.approx(0, abs=1),
    }
    heard = [cue["heard"] for cue in report["cues"]]
    assert set(heard) <= {"Q1", "Q2", "Q3", "Q4"} and len(heard) == 2
    assert report["controllability_per_cue"] == sum(c["heard"] == c["quadrant"] for c in report["cues"]) / 2
    assert report["loudness"]["mix"]["integrated_lufs"] == pytest.approx(-23, abs=0.5)
    with (tmp_path / "out" / "film.cues.csv").open(newline="") as sheet:
        cues = list(csv.DictReader(sheet))
    assert [(c["start_timecode"], c["quadrant"], int(c["bars"])) for c in cues] == [
        (cue["start_timecode"], cue["quadrant"], cue["bars"]) for cue in report["cues"]
    ]
    assert float(cues[0]["start_s"]) == 0 and float(cues[-1]["end_s"]) == pytest.approx(report["duration_s"])

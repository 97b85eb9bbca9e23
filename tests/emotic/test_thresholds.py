"""Thresholds files: what scoring applies, and the clear errors when the file is missing or belongs elsewhere."""

import json

import numpy as np
import pytest

from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.thresholds import Thresholds
from emoscore.errors import CheckpointError


def test_round_trip_and_names_above_highest_first(tmp_path):
    values = dict.fromkeys(CATEGORIES, 0.5) | {"Sadness": 0.2, "Fear": 0.9}
    Thresholds.from_mapping("abc", values).save(tmp_path / "t.json")
    thresholds = Thresholds.load(tmp_path / "t.json", "abc")
    scores = np.zeros(26)
    scores[CATEGORIES.index("Sadness")] = 0.3  # above its 0.2
    scores[CATEGORIES.index("Fear")] = 0.8  # below its 0.9
    scores[CATEGORIES.index("Peace")] = 0.6  # above 0.5
    scores[CATEGORIES.index("Pain")] = 0.5  # exactly at: counts
    assert thresholds.above(scores) == ["Peace", "Pain", "Sadness"]


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(CheckpointError, match=r"t\.json: thresholds file not found \(run `dvc repro eval_vad`\)"):
        Thresholds.load(tmp_path / "t.json", "abc")


def test_thresholds_of_another_model_are_refused(tmp_path):
    Thresholds.from_mapping("old", dict.fromkeys(CATEGORIES, 0.5)).save(tmp_path / "t.json")
    with pytest.raises(CheckpointError, match="computed for VAD model old, but scoring uses new"):
        Thresholds.load(tmp_path / "t.json", "new")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({name: 0.5 for name in CATEGORIES}, "not an emoscore thresholds file"),  # the earlier bare layout
        ({"format": "emoscore.thresholds/1", "vad_model": "m", "thresholds": {"Peace": 0.5}}, "26 EMOTIC"),
        (
            {"format": "emoscore.thresholds/1", "vad_model": "m", "thresholds": dict.fromkeys(CATEGORIES, "high")},
            "not a number",
        ),
    ],
)
def test_malformed_files_are_refused_with_the_reason(tmp_path, document, reason):
    (tmp_path / "t.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=reason):
        Thresholds.load(tmp_path / "t.json", "m")
    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable thresholds file"):
        Thresholds.load(tmp_path / "t.json", "m")

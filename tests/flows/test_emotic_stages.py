"""The EMOTIC stage flows, run for real under one Prefect test harness on a tiny sample."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from emoscore.digests import model_digest
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.thresholds import Thresholds

TINY = {
    "sample": {
        "seed": 3,
        "emotic_images": {"train": 16, "val": 8, "test": 8},
        "image_width": 96,
        "image_height": 80,
        "emopia_music21": ["bach"],  # the default real-score EMOPIA set, from a few chorales
        "emopia_music21_files": 6,
    },
    "emotic": {"context_size": 32, "body_size": 32, "num_workers": 0},
    "vad": {"epochs": 1, "batch_size": 8, "num_workers": 0, "fusion_hidden": 16},
    "eval_vad": {"batch_size": 8},
}


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_emotic_stages_end_to_end(prefect_harness, tiny_project):
    from emoscore_flows.compare_vad_objectives import compare_vad_objectives
    from emoscore_flows.eval_vad import eval_vad
    from emoscore_flows.prepare_emotic import prepare_emotic
    from emoscore_flows.sample_data import sample_data
    from emoscore_flows.train_vad import train_vad

    sample_data()
    assert (tiny_project / "data/sample/emotic/Annotations/Annotations.mat").is_file()
    reports = prepare_emotic()
    # the sample carries one missing image, one NaN VAD and one empty box per split, on purpose
    assert reports["train"]["skipped_by_reason"] == {"bbox_empty": 1, "image_missing": 1, "vad_missing": 1}
    train_vad()
    trained = EmoticNet.from_checkpoint(tiny_project / "models/vad.pt")  # the stage's config, its best epoch
    assert (trained.config.fusion_hidden, trained.config.context_size, trained.config.body_size) == (16, 32, 32)
    history = json.loads((tiny_project / "reports/train_vad.json").read_text())
    assert len(history["epochs"]) == 1 and np.isfinite(history["epochs"][0]["train_loss"])
    report = eval_vad()
    saved = json.loads((tiny_project / "reports/eval_vad.json").read_text())
    assert set(saved["ap_per_category"]) == set(report["ap_per_category"]) and len(saved["ap_per_category"]) == 26
    assert 0 <= saved["mAP"] <= 1 and 0 <= saved["baseline_label_frequency_mAP"] <= 1
    assert set(saved["vad_mae"]) == {"valence", "arousal", "dominance", "mean"}
    thresholds = Thresholds.load(tiny_project / "models/thresholds.json", model_digest(tiny_project / "models/vad.pt"))
    assert len(thresholds.values) == 26
    with Image.open(tiny_project / "reports/plots/pr_curves.png") as curves:  # one panel per category, readable
        assert curves.format == "PNG" and min(curves.size) >= 400
    compared = compare_vad_objectives()
    assert set(compared["objectives"]) == {"reference", "normalized"} and compared["default"] == "reference"
    assert compared["objectives"]["reference"]["mAP"] == pytest.approx(report["mAP"])  # the stage's own model
    assert all(0 <= row["mAP"] <= 1 for row in compared["objectives"].values())
    assert json.loads((tiny_project / "reports/vad_objectives.json").read_text()) == json.loads(json.dumps(compared))


def test_bad_params_stop_the_stage_with_the_key(prefect_harness, tiny_project):
    from emoscore.errors import ConfigError
    from emoscore_flows.train_vad import train_vad

    (tiny_project / "params.yaml").write_text(yaml.safe_dump({"vad": {"continuous_loss": "l3"}}))
    with pytest.raises(ConfigError, match=r"vad\.continuous_loss"):
        train_vad()

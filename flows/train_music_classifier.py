"""Stage `train_music_classifier`: the quadrant classifier that judges generated music."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.train import train_music_classifier as train_classifier
from emoscore.music.vocabulary import Vocabulary
from emoscore.reports import write_json
from emoscore_flows._stage import run_stage

REPORT = Path("reports/train_music_classifier.json")


@flow(name="train_music_classifier")
def train_music_classifier(params_path: str = "params.yaml") -> None:
    """Train on the train split, keep the best epoch on val clip accuracy."""
    params = load_params(params_path)
    model, history = train_classifier(params.emopia.out, params.music_classifier)
    model.save(params.music_classifier.out, Vocabulary.load(params.emopia.vocabulary), extra={"history": history})
    write_json(REPORT, history)


if __name__ == "__main__":
    run_stage(train_music_classifier)

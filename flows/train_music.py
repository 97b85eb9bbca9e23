"""Stage `train_music`: fine-tune the pretrained CP transformer on EMOPIA with emotion words (or train it from
scratch when `music.pretrained` is false); write models/music.pt."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.train import Schedule, train_music_model
from emoscore.music.vocabulary import Vocabulary
from emoscore.reports import write_csv, write_json
from emoscore_flows._stage import run_stage

REPORT = Path("reports/train_music.json")
CURVE = Path("reports/plots/train_music.csv")


@flow(name="train_music")
def train_music(params_path: str = "params.yaml") -> None:
    """Train on windows of the train split; the checkpoint carries its vocabulary."""
    params = load_params(params_path)
    schedule = Schedule.of(params.music, params.music.device)
    init = params.pretrain_music.out if params.music.pretrained else None
    model, history = train_music_model(params.emopia.out, params.music, schedule, init=init)
    vocabulary = Vocabulary.load(params.emopia.vocabulary)
    model.save(params.music.out, vocabulary, extra={"history": history})
    write_json(REPORT, history)
    write_csv(CURVE, history["epochs"])


if __name__ == "__main__":
    run_stage(train_music)

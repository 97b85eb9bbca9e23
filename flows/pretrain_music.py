"""Stage `pretrain_music`: train the CP transformer on the unlabeled corpus (no emotion words), the starting point
that `train_music` fine-tunes on EMOPIA, as the EMOPIA authors did with AILabs Pop1K7."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.train import Schedule, train_music_model
from emoscore.music.vocabulary import VOCABULARY
from emoscore.reports import write_csv, write_json
from emoscore_flows._stage import run_stage

REPORT = Path("reports/pretrain_music.json")
CURVE = Path("reports/plots/pretrain_music.csv")


@flow(name="pretrain_music")
def pretrain_music(params_path: str = "params.yaml") -> None:
    """Train at `music`'s size with `pretrain_music`'s schedule; the checkpoint carries its vocabulary."""
    params = load_params(params_path)
    schedule = Schedule.of(params.pretrain_music, params.music.device)
    model, history = train_music_model(params.midi_corpus.out, params.music, schedule)
    model.save(params.pretrain_music.out, VOCABULARY, extra={"history": history, "pretrained": True})
    write_json(REPORT, history)
    write_csv(CURVE, history["epochs"])


if __name__ == "__main__":
    run_stage(pretrain_music)

"""Stage `prepare_midi_corpus`: any folder of unlabeled MIDI → CP steps for pretraining, with a report."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.corpus import prepare_corpus
from emoscore.reports import write_json
from flows._stage import run_stage

REPORT = Path("reports/prepare_midi_corpus.json")


@flow(name="prepare_midi_corpus")
def prepare_midi_corpus(params_path: str = "params.yaml") -> dict:
    """Tokenise every MIDI file under `midi_corpus.root` into data/processed/midi_corpus/{train,val}.npz."""
    params = load_params(params_path)
    report = prepare_corpus(params.midi_corpus.root, params.midi_corpus.out, params.midi_corpus.timing)
    write_json(REPORT, report)
    return report


if __name__ == "__main__":
    run_stage(prepare_midi_corpus)

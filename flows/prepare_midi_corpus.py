"""Stage `prepare_midi_corpus`: a folder of unlabeled MIDI and music21's scores → CP steps for pretraining."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.corpus import prepare_corpus
from emoscore.reports import write_json
from emoscore_flows._stage import run_stage

REPORT = Path("reports/prepare_midi_corpus.json")


@flow(name="prepare_midi_corpus")
def prepare_midi_corpus(params_path: str = "params.yaml") -> dict:
    """Tokenise the folder and the music21 scores into data/processed/midi_corpus/{train,val}.npz."""
    params = load_params(params_path)
    corpus = params.midi_corpus
    report = prepare_corpus(
        corpus.root,
        corpus.out,
        corpus.timing,
        music21=corpus.music21,
        music21_files=corpus.music21_files,
        transpositions=corpus.transpositions,
    )
    write_json(REPORT, report)
    return report


if __name__ == "__main__":
    run_stage(prepare_midi_corpus)

"""music21's bundled scores as pretraining material: parsed, merged, aligned to bars, transposed, bad ones counted."""

import pytest

from emoscore.errors import InvalidMidi
from emoscore.music.corpus import prepare_corpus
from emoscore.music.emopia import load_split
from emoscore.music.scores import ScoreSource, corpus_files, score_notes, transposed

pytest.importorskip("music21")


def source(collection, stem):
    return next(s for s in corpus_files([collection], 10_000) if s.path.stem == stem)


def test_a_chorale_becomes_four_voices_on_one_grid_with_its_pickup_before_the_first_bar():
    notes, tempi = score_notes(source("bach", "bwv1.6"))
    assert len(notes) > 150 and len(tempi) == 1 and 40 <= tempi[0][1] <= 200
    onsets = sorted({n.onset for n in notes})
    # bwv1.6 starts with a one-beat pickup: it sits on the last beat of bar 0 and the first full bar starts at 16
    assert onsets[0] == 12 and 16 in onsets
    chord = sorted(n.pitch for n in notes if n.onset == 16)
    assert len(chord) >= 4  # soprano, alto, tenor and bass (and the doubling part) merged into one piano part


def test_scores_in_triple_metre_are_refused_by_name():
    with pytest.raises(InvalidMidi, match="not duple"):
        score_notes(source("mozart", "movement2"))


def test_transposition_keeps_rhythm_and_drops_nothing_in_range():
    notes, _ = score_notes(source("bach", "bwv10.7"))
    up = transposed(notes, 5)
    assert [(n.onset, n.duration) for n in up] == [(n.onset, n.duration) for n in notes]
    assert [n.pitch - 5 for n in up] == [n.pitch for n in notes]
    assert len(transposed(notes, 80)) == 0


def test_a_corpus_of_scores_keeps_transpositions_of_one_score_in_one_split(tmp_path):
    report = prepare_corpus(None, tmp_path, music21=["bach", "mozart"], music21_files=6, transpositions=[0, 7])
    assert report["skipped_by_reason"].get("not_duple", 0) >= 1
    names = load_split(tmp_path / "train.npz")[2] + load_split(tmp_path / "val.npz")[2]
    assert len(names) == 2 * sum(1 for n in names if n.endswith("@+0"))
    for split in ("train", "val"):
        stems = {n.split("@")[0] for n in load_split(tmp_path / f"{split}.npz")[2]}
        other = {n.split("@")[0] for n in load_split(tmp_path / f"{'val' if split == 'train' else 'train'}.npz")[2]}
        assert not stems & other


def test_an_unparseable_score_is_an_invalid_midi_naming_it(tmp_path):
    bad = tmp_path / "broken.mxl"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InvalidMidi, match="broken"):
        score_notes(ScoreSource("music21/x/broken.mxl", bad))

"""music21's bundled scores as pretraining material: parsed, merged, aligned to bars, transposed, bad ones counted."""

import pytest

from emoscore.errors import InvalidMidi
from emoscore.music.corpus import prepare_corpus
from emoscore.music.emopia import load_split
from emoscore.music.scores import ScoreSource, corpus_files, read_score, read_scores, score_notes, transposed

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


def test_a_score_that_turns_to_triple_metre_is_refused_naming_that_metre(tmp_path):
    """The refusal names the metre that is not duple, not the score's first (which was '4/4 is not duple')."""
    from music21 import meter, note, stream

    part = stream.Part()
    for index, signature in enumerate(("4/4", "4/4", "3/4")):
        measure = stream.Measure([note.Note(60 + index, quarterLength=int(signature[0]))], number=index + 1)
        if index != 1:
            measure.insert(0, meter.TimeSignature(signature))
        part.append(measure)
    written = tmp_path / "turns.musicxml"
    stream.Score([part]).write("musicxml", fp=written)
    with pytest.raises(InvalidMidi, match=r"metre 3/4, after 4/4, is not duple"):
        score_notes(ScoreSource("music21/x/turns.musicxml", written))


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


def test_repeats_are_played_as_written_out_and_a_file_we_write_with_them_too(tmp_path):
    from music21 import bar, meter, note, stream

    reel = source("ryansMammoth", "7thRegimentReel")  # two 8-bar strains, each repeated
    notes, _ = score_notes(reel)
    assert max(n.onset for n in notes) >= 60 * 4  # 64 beats heard, 32 written
    part = stream.Part([meter.TimeSignature("4/4")])
    for index, pitch in enumerate((60, 62, 64, 65)):
        measure = stream.Measure([note.Note(pitch, quarterLength=2), note.Note(pitch + 12, quarterLength=2)])
        measure.number = index + 1
        if index == 1:
            measure.rightBarline = bar.Repeat(direction="end")
        part.append(measure)
    written = tmp_path / "repeated.musicxml"
    stream.Score([part]).write("musicxml", fp=written)
    played = [n.pitch for n in score_notes(ScoreSource("music21/x/repeated.musicxml", written))[0]]
    assert played == [60, 72, 62, 74, 60, 72, 62, 74, 64, 76, 65, 77]  # bars 1–2 twice, then 3–4


def test_the_corpus_lists_scores_only_each_under_a_name_of_its_own():
    files = corpus_files(["monteverdi", "mozart", "haydn"], 10_000)
    assert files and not [s for s in files if s.path.suffix == ".rntxt"]  # RomanText analyses are not music
    assert len({s.name for s in files}) == len(files)  # mozart/k155/movement1 and haydn/…/movement1 differ


def test_scores_read_in_worker_processes_come_back_in_order_as_read_alone(tmp_path):
    """The corpus is parsed in a process per core (~1 h on one for the whole of it): same notes, same order, and a
    refused score's InvalidMidi arrives whole (its reason and kind) from the worker."""
    bad = tmp_path / "broken.mxl"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    sources = [*corpus_files(["bach", "mozart"], 4), ScoreSource("music21/x/broken.mxl", bad)]
    alone = list(read_scores(sources, read_score, workers=1))
    together = list(read_scores(sources, read_score, workers=2))
    assert [source for source, _ in together] == sources
    for (_, one), (_, other) in zip(alone, together, strict=True):
        if isinstance(one, InvalidMidi):
            assert (other.path, other.reason, other.kind) == (one.path, one.reason, one.kind)
        else:
            assert other == one
    assert isinstance(together[-1][1], InvalidMidi) and together[-1][1].kind == "unparseable"
    assert sum(isinstance(read, InvalidMidi) for _, read in together) >= 2  # a Mozart movement in 3/4 too


def _touch_slowly(source):
    """A reader that marks each file it reads (in the folder the source's path names) and takes its time."""
    import time

    time.sleep(0.3)
    (source.path / source.name).touch()
    return source.name


def test_a_caller_that_stops_early_does_not_read_the_rest_of_the_corpus(tmp_path):
    """Ctrl-C or an error in the caller's loop cancels the scores not yet started, not after the whole corpus."""
    sources = [ScoreSource(f"score{i}", tmp_path) for i in range(24)]
    reading = read_scores(sources, _touch_slowly, workers=2)
    assert next(reading) == (sources[0], "score0")
    reading.close()
    assert 1 <= len(list(tmp_path.iterdir())) < 24

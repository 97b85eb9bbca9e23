"""The demo's real-score EMOPIA set: clips cut from music21 scores, quadrants by rule, split by piece."""

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emoscore.config import SampleParams
from emoscore.music.corpus import corpus_split
from emoscore.music.cp import Note, load_notes
from emoscore.music.emopia import EmopiaReport, list_clips, prepare_emopia, read_labels
from emoscore.music.emotion_rules import CueFeatures
from emoscore.music.tonality import find_key
from emoscore.samples.score_clips import (
    LabelledClip,
    ScoreClip,
    balance,
    clip_features,
    cut_clips,
    quadrants,
    write_emopia_scores,
)


def _clip(notes: list[Note], bpm: float = 120.0, bars: int = 2) -> ScoreClip:
    return ScoreClip("music21/x/a.mxl", 0, tuple(notes), bars, bpm, True)


def _arpeggio(pitches: tuple[int, ...], bars: int = 2, step: int = 4, velocity: int = 80) -> list[Note]:
    return [Note(onset, pitches[i % len(pitches)], step, velocity) for i, onset in enumerate(range(0, 16 * bars, step))]


def test_mode_gives_valence_and_speed_loudness_register_give_arousal():
    major = clip_features(_clip(_arpeggio((60, 64, 67, 72))))  # C major
    minor = clip_features(_clip(_arpeggio((57, 60, 64, 69))))  # A minor
    assert major.mode_margin > 0 > minor.mode_margin
    slow = clip_features(_clip(_arpeggio((60, 64, 67)), bpm=60))
    fast = clip_features(_clip(_arpeggio((60, 64, 67)), bpm=120))
    assert fast.onsets_per_second == pytest.approx(2 * slow.onsets_per_second) == pytest.approx(2.0)  # quarters at 120
    features = [
        CueFeatures(0.2, 6.0, 72, 100),  # major, fast, high, loud
        CueFeatures(-0.2, 6.0, 70, 100),  # minor, fast, loud
        CueFeatures(-0.2, 1.0, 50, 40),  # minor, slow, low, soft
        CueFeatures(0.2, 1.0, 55, 45),  # major, slow, soft
    ]
    assert quadrants(features) == [1, 2, 3, 4]


def test_clips_start_at_zero_end_at_their_last_bar_and_skip_what_hands_cannot_play():
    notes = _arpeggio((60, 64, 67), bars=8, step=2)  # bars 0–7, 8 notes per bar
    notes += [Note(16 * 5, 40 + i, 4, 80) for i in range(11)]  # bar 5: eleven notes struck at once
    notes.append(Note(16 * 2 - 2, 72, 16, 80))  # rings past the end of the first clip (bars 0–1)
    notes.sort(key=lambda n: n.onset)
    clips = cut_clips("p", notes, 100.0, False, bars=2, most=5)
    # a score starting on a downbeat: bars 0–1, 2–3, 6–7 (4–5 holds the eleven-note chord)
    assert [(clip.index, clip.notes[0].onset) for clip in clips] == [(0, 0), (1, 0), (2, 0)]
    assert all(max(n.onset + n.duration for n in clip.notes) <= 32 for clip in clips)
    assert max(n.duration for n in clips[0].notes) == 2  # the ringing note cut at the clip's end
    pickup = [n for n in notes if n.onset >= 12]  # a one-beat pickup: bar 0 starts on its last beat
    clips = cut_clips("p", pickup, 100.0, False, bars=2, most=5)
    assert [clip.index for clip in clips] == [0, 1]  # bars 1–2 and 3–4; 5–6 has the chord, 7 is too short
    sparse = [Note(16, 60, 4, 80), Note(40, 62, 4, 80), Note(60, 64, 4, 80)]
    assert cut_clips("p", sparse, 100.0, False, bars=2, most=5) == []  # fewer than two notes a bar


def test_rarer_quadrants_are_written_again_transposed_until_about_even():
    clip, features = _clip(_arpeggio((60, 64, 67))), CueFeatures(0.1, 2.0, 60, 80)
    sizes = {1: 6, 2: 2, 3: 3, 4: 6}
    labelled = [LabelledClip(clip, features, 0.0, quadrant) for quadrant, size in sizes.items() for _ in range(size)]
    balanced = balance(labelled)
    assert Counter(item.quadrant for item, _ in balanced) == {1: 6, 2: 6, 3: 6, 4: 6}
    assert {semitones for item, semitones in balanced if item.quadrant == 2} == {0, 5, -3}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    params = SampleParams(
        out=tmp_path_factory.mktemp("scores"),
        emopia_music21=["bach", "ryansMammoth"],
        emopia_music21_files=24,
        emopia_clips_per_song=2,
    )
    return write_emopia_scores(params, workers=1)


def test_the_set_is_real_emopia_split_by_piece_and_never_the_judges_reference(written, tmp_path):
    report = EmopiaReport()
    clips = list_clips(written, report)
    assert sum(map(len, clips.values())) == len(read_labels(written / "label.csv")) > 20
    assert report.as_dict()["clips_skipped"] == 0
    split_of = {clip.clip_id: split for split, listed in clips.items() for clip in listed}
    with (written / "labels_by_rule.csv").open() as handle:
        rules = list(csv.DictReader(handle))
    assert sorted(row["clip_id"] for row in rules) == sorted(split_of)
    piece_splits: dict[str, set[str]] = {}
    for row in rules:
        assert row["split"] == split_of[row["clip_id"]]
        piece_splits.setdefault(row["piece"], set()).add(row["split"])
        assert corpus_split(row["piece"]) == "train"  # the judge's held-out real scores are never learnt from
    assert all(len(splits) == 1 for splits in piece_splits.values())  # transposed copies stay with their piece
    per_quadrant = Counter(row["quadrant"] for row in rules)
    assert len(per_quadrant) == 4 and max(per_quadrant.values()) <= 2 * min(per_quadrant.values())
    kept = prepare_emopia(written, tmp_path / "prepared")
    assert kept["clips_skipped"] == 0 and kept["beat_tracked"] > 0  # a share is written as transcriptions are


def test_each_written_clip_sounds_in_the_mode_its_quadrant_says(written):
    labels = read_labels(written / "label.csv")
    agree = 0
    for clip_id, quadrant in labels.items():
        notes, _, _ = load_notes(written / "midis" / f"{clip_id}.mid", "auto")
        key = find_key(notes)
        agree += (key.mode == "major") == (quadrant in (1, 4))
    assert agree >= 0.9 * len(labels)  # the rule reads the margin of the best major over the best minor key


def test_the_rule_fitted_on_the_fine_tuning_clips_hears_which_quadrant_a_piece_was_asked_for():
    from emoscore.music.cp import encode_notes
    from emoscore.music.emotion_rules import rule_agreement

    def clip(quadrant: int, shift: int) -> np.ndarray:
        chord = (60, 64, 67, 72) if quadrant in (1, 4) else (57, 60, 64, 69)
        fast = quadrant in (1, 2)
        notes = _arpeggio(tuple(p + shift for p in chord), bars=8, step=2 if fast else 8, velocity=100 if fast else 50)
        return encode_notes(notes, [(0, 140.0 if fast else 70.0)], emotion=quadrant)

    data = {q: [clip(q, shift) for shift in (0, 2, 5)] for q in (1, 2, 3, 4)}
    judged = rule_agreement(data, data, bars=8)
    assert judged["fine_tuning_clips"] == {"quadrant": 1.0, "valence": 1.0, "arousal": 1.0}
    assert judged["generated"]["quadrant"] == 1.0 and set(judged["generated_per_quadrant"]) == {"Q1", "Q2", "Q3", "Q4"}
    swapped = {1: data[2], 2: data[1], 3: data[4], 4: data[3]}  # asked for Q1, played Q2's music, …
    judged = rule_agreement(swapped, data, bars=8)
    assert judged["generated"] == {"quadrant": 0.0, "valence": 0.0, "arousal": 1.0}
    judged = rule_agreement(data, data, bars=8, held_out=swapped)  # held-out clips whose labels the rule disputes
    assert judged["held_out_clips"] == {"quadrant": 0.0, "valence": 0.0, "arousal": 1.0}
    assert "held_out_clips" not in rule_agreement(data, data, bars=8)

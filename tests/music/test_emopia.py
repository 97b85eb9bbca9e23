"""The EMOPIA reader and prepare step on a dataset in the real layout, with the faults real folders have."""

import numpy as np

from emoscore.music.cp import TYPE, Note
from emoscore.music.emopia import EmopiaReport, list_clips, load_split, prepare_emopia, song_split, windows
from emoscore.music.metrics import grooving_patterns, grooving_similarity, note_density, piece_features
from emoscore.music.vocabulary import TYPE_EMOTION
from tests.music.test_cp import write_midi


def _dataset(root, with_splits=True):
    midis = root / "midis"
    midis.mkdir(parents=True)
    melody = [(i * 240, i * 240 + 200, 60 + (i * 7) % 12, 80) for i in range(32)]
    for name in ["Q1_songA_0", "Q1_songA_1", "Q2_songB_0", "Q3_songC_0", "Q4_songD_0", "Q4_songE_0"]:
        write_midi(midis / f"{name}.mid", melody)
    (midis / "Q2_empty_0.mid").write_bytes(b"")
    (midis / "Q3_text_0.mid").write_text("not midi at all")
    write_midi(midis / "Q1_drums_0.mid", [(0, 100, 36, 100)], drums=True)
    (root / "label.csv").write_text(
        "ID,4Q,annotator\nQ1_songA_0,1,a\nQ1_songA_1,1,a\nQ2_songB_0,2,a\nQ3_songC_0,3,a\nQ4_songD_0,2,a\n"
        "Q4_songE_0,4,a\nQ2_empty_0,2,a\nQ3_text_0,3,a\nQ1_drums_0,1,a\nQ1_gone_0,1,a\n"
    )
    if with_splits:
        (root / "split").mkdir()
        (root / "split" / "train_clip.csv").write_text(
            "clip_name\nQ1_songA_0\nQ1_songA_1\nQ2_songB_0\nQ2_empty_0\nQ3_text_0\nQ1_drums_0\n"
        )
        (root / "split" / "val_clip.csv").write_text("clip_name\nQ3_songC_0\n")
        (root / "split" / "test_clip.csv").write_text("clip_name\nQ4_songD_0\nQ4_songE_0\n")


def test_prepare_counts_every_fault_and_keeps_the_rest(tmp_path):
    _dataset(tmp_path / "emopia")
    report = prepare_emopia(tmp_path / "emopia", tmp_path / "out")
    assert report["clips_kept"] == {"train": 3, "val": 1, "test": 2}
    assert report["skipped_by_reason"] == {"drums_only": 1, "empty_file": 1, "listed_but_missing": 1, "not_midi": 1}
    assert report["label_conflicts"] == 1  # Q4_songD_0 is labelled 2 in label.csv, which wins
    pieces, quadrants, clips = load_split(tmp_path / "out" / "test.npz")
    assert dict(zip(clips, quadrants.tolist(), strict=True)) == {"Q4_songD_0": 2, "Q4_songE_0": 4}
    assert all(piece[0, TYPE] == TYPE_EMOTION for piece in pieces)
    assert pieces[0][0, 7] == 2


def test_without_split_files_clips_of_a_song_stay_together(tmp_path):
    _dataset(tmp_path / "emopia", with_splits=False)
    clips = list_clips(tmp_path / "emopia", EmopiaReport())
    where = {clip.clip_id: split for split, items in clips.items() for clip in items}
    assert where["Q1_songA_0"] == where["Q1_songA_1"] == song_split("songA")


def test_windows_cover_a_long_piece_and_start_with_emotion_and_bar():
    piece = np.zeros((1000, 8), dtype=np.int64)
    piece[0, 3], piece[0, 7] = TYPE_EMOTION, 1
    piece[1:, 3] = 2
    piece[1::50, 3], piece[1::50, 2] = 1, 1  # a Bar every 50 steps
    parts = windows(piece, 256)
    assert all(len(p) <= 256 and p[0, 3] == TYPE_EMOTION for p in parts)
    assert all(p[1, 2] == 1 for p in parts)  # each window opens with a Bar
    covered = set()
    for part in parts:
        for row in part[1:]:
            covered.add(row.tobytes())
    assert len(parts) > 3


def test_music_metrics_by_hand():
    notes = [Note(0, 60, 4, 80), Note(0, 64, 4, 80), Note(2, 67, 2, 80), Note(16, 72, 16, 80)]
    measures = piece_features(notes)
    assert piece_features([Note(0, 60, 1, 1), Note(1, 72, 1, 1)])["pitch_class_entropy"] == 0.0
    assert measures["pitch_class_entropy"] == 1.5  # C twice, E, G: -(.5 log .5 + 2 × .25 log .25)
    assert measures["scale_consistency"] == 1.0 and measures["pitch_range"] == 12
    assert measures["note_density"] == note_density(notes) == 2.0  # 4 notes over 2 bars
    assert measures["polyphony"] == (2 * 2 + 3 * 2 + 16 * 1) / 20  # pitches sounding at steps where any sounds
    chromatic = piece_features([Note(i, 60 + i, 1, 80) for i in range(12)])
    assert chromatic["scale_consistency"] == 7 / 12
    patterns = grooving_patterns(notes)
    assert patterns.shape == (2, 16) and patterns[0, [0, 2]].all() and patterns[1, 0]
    assert grooving_similarity(patterns[:1], patterns[:1]) == 1.0
    assert grooving_similarity(patterns[:1], patterns[1:]) == 1 - 1 / 16


def test_a_split_is_read_into_one_array_not_one_per_clip(tmp_path):
    """Reading a split must cost about its size: each clip used to be cut from its own decompressed copy of every
    step, ~40 GB for music21's whole corpus (killed on a 24 GB machine)."""
    import tracemalloc

    from emoscore.music.emopia import save_split

    rng = np.random.default_rng(0)
    pieces = [rng.integers(0, 50, (200, 8)) for _ in range(100)]
    save_split(tmp_path / "train.npz", pieces, [f"clip{i}" for i in range(100)], [1 + i % 4 for i in range(100)])
    tracemalloc.start()
    read, quadrants, clips = load_split(tmp_path / "train.npz")
    assert list(quadrants) == [1 + i % 4 for i in range(100)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert all(np.array_equal(a, b) for a, b in zip(read, pieces, strict=True)) and clips[99] == "clip99"
    assert peak < 4 * sum(p.nbytes for p in pieces), peak  # was ~100× (a copy of all 100 clips per clip)

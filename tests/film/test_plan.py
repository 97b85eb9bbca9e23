"""The tempo plan read back through the MIDI file's own tempo map and time signatures: every cut that must hit and
every hit point lands on a bar line, each scene's tempo stays near its aim, odd bars are written as metres."""

import io
import math

import miditoolkit
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.film.placement import Event, bar_line_ticks, downbeats, place
from emoscore.film.plan import ODD_BARS, TooShort, bar_layout, beats_of, plan_film
from emoscore.film.soundtrack import accented, soundtrack_midi
from emoscore.music.cp import Note
from emoscore.music.timing import seconds_at

TEMPI = {"Q1": 120.0, "Q2": 116.0, "Q3": 72.0, "Q4": 84.0}


def _film(durations):
    ends = np.cumsum(durations)
    return [(float(end - d), float(end)) for d, end in zip(durations, ends, strict=True)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.3, 60.0), min_size=1, max_size=7), st.data())
def test_every_cut_and_hit_lands_on_a_bar_line_of_the_written_tempo_map(durations, data):
    n = len(durations)
    quadrants = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    intensities = data.draw(st.lists(st.floats(-0.5, 0.5), min_size=n, max_size=n))
    spans = _film(durations)
    hits = data.draw(
        st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=3).map(lambda xs: [x * spans[-1][1] for x in xs])
    )
    try:
        segments = plan_film(
            spans, quadrants, intensities, hits=hits, tempo_bpm=TEMPI, steering=0.5, tempo_range=0.15, frame_s=0.04
        )
    except TooShort as refused:  # two hits (or a hit and an end) closer than any bar: refused, never squeezed
        assert refused.first.kind != "cut"
        return
    buffer = io.BytesIO()  # written and read back: the tempo map as a DAW reads it (microseconds per beat)
    soundtrack_midi(segments, []).dump(file=buffer)
    buffer.seek(0)
    midi = miditoolkit.MidiFile(file=buffer)
    end_tick = segments[-1].end * midi.ticks_per_beat // 4
    lines = downbeats(midi, end_tick)
    starts = {segment.start for segment in segments}
    kept = [
        s for i, (s, _) in enumerate(spans[1:], 1) if any(i == seg.scene and "cut" in seg.starts_on for seg in segments)
    ]
    placed = place([Event("cut", s, "", True) for s in kept], lines, frame_s=1e-3)  # exactly on its bar line
    placed += place([Event("hit", h, "", True) for h in hits], lines, frame_s=0.04 + 1e-3)  # a hit snaps to a cut
    assert all(p.on_downbeat for p in placed), [p.offset_ms for p in placed if not p.on_downbeat]
    assert lines[-1] == pytest.approx(spans[-1][1], abs=1e-3)  # the last bar ends with the film
    for index, (start, end) in enumerate(spans[1:], 1):  # a cut passes inside a bar only when its neighbour is short
        if start not in kept and not any(abs(h - start) < 0.04 for h in hits):
            neighbours = [end - start, start - spans[index - 1][0], *(abs(h - start) for h in hits)]
            assert min(neighbours) < 90 / (40 * 2.0) + 1e-9
    written = [m for segment in segments for m in segment.metres]
    assert len(bar_line_ticks(midi, end_tick)) == len(written) + 1 and len(starts) == len(segments)
    for segment in segments:
        assert len(segment.beat_tempi) == len(beats_of(segment.bars))
        seconds = float(np.diff(seconds_at(midi, np.array([segment.start, segment.end]) * 120.0))[0])
        if seconds * segment.aim / 15 >= 8:  # long enough that some layout is within 15% of the aim: kept to it
            assert abs(segment.tempo_bpm / segment.aim - 1) <= 0.15 + 1e-6, (segment.bars, segment.tempo_bpm)


def test_a_new_users_three_four_second_scenes_keep_their_tempi():
    """The issue's film: three 4-second scenes got 180, 49 and 125 BPM by whole 4/4 bars alone."""
    segments = plan_film(
        _film([4.0, 4.0, 4.0]), [1, 3, 1], [0.5, -0.5, 0.0], tempo_bpm=TEMPI, steering=0.5, tempo_range=0.15
    )
    for segment in segments:
        assert abs(segment.tempo_bpm / segment.aim - 1) <= 0.15
    assert any(bar != 16 for segment in segments for bar in segment.bars)  # an odd bar reached a cut
    assert [s.starts_on for s in segments] == ["start", "cut", "cut"]


def test_with_sync_quadrant_a_cut_inside_one_quadrant_passes_inside_a_bar():
    spans = _film([5.1, 3.3, 6.0])
    segments = plan_film(spans, [1, 1, 3], [0.0, 0.2, 0.0], tempo_bpm=TEMPI, steering=0.5, sync="quadrant")
    assert [s.scenes for s in segments] == [(0, 1), (2,)]
    midi = soundtrack_midi(segments, [])
    lines = downbeats(midi, segments[-1].end * midi.ticks_per_beat // 4)
    (major,) = place([Event("cut", spans[2][0], "", True)], lines, 1 / 25)
    assert major.on_downbeat
    hit = plan_film(
        spans, [1, 1, 3], [0.0, 0.2, 0.0], hits=[spans[1][0]], tempo_bpm=TEMPI, steering=0.5, sync="quadrant"
    )
    assert [s.starts_on for s in hit] == ["start", "cut+hit", "cut"]  # a hit on a minor cut makes it hit


@pytest.mark.parametrize("positions", range(6, 80, 2))
def test_every_even_length_from_a_three_eight_bar_up_has_a_layout(positions):
    layout = bar_layout(positions)
    assert layout is not None and sum(layout) == positions
    assert sum(bar != 16 for bar in layout) <= 2 and all(bar == 16 or bar in ODD_BARS for bar in layout)


def test_a_hit_gets_an_accented_downbeat_and_markers_are_written():
    notes = [Note(0, 60, 4, 70), Note(18, 64, 4, 70), Note(20, 67, 4, 60)]
    louder = accented(notes, 16, 24)
    added = [n for n in louder if n.onset == 16]
    assert len(added) == 1 and added[0].pitch == 52 and added[0].velocity == int(np.mean([70, 60])) + 24
    assert [n.velocity for n in accented(notes, 0, 24) if n.onset == 0] == [94]
    segments = plan_film(_film([4.0, 4.0]), [1, 2], [0.0, 0.0], tempo_bpm=TEMPI, steering=0.5)
    midi = soundtrack_midi(segments, [], [(32, "cut 1: scene 2 (Q2)")])
    assert [(m.text, m.time) for m in midi.markers] == [("cut 1: scene 2 (Q2)", 32 * midi.ticks_per_beat // 4)]
    assert math.isclose(seconds_at(midi, np.array([float(midi.markers[0].time)]))[0], 4.0, abs_tol=1e-6)


def test_a_cue_chosen_by_hand_gets_bar_lines_of_its_own_and_short_shots_let_their_cut_pass():
    spans = _film([5.1, 3.3, 6.0])
    merged = plan_film(spans, [1, 1, 3], [0.0, 0.0, 0.0], tempo_bpm=TEMPI, steering=0.5, sync="quadrant")
    assert [s.scenes for s in merged] == [(0, 1), (2,)]
    own = plan_film(spans, [1, 1, 3], [0.0, 0.0, 0.0], tempo_bpm=TEMPI, steering=0.5, sync="quadrant", forced=[1])
    assert [s.scenes for s in own] == [(0,), (1,), (2,)]
    flash = _film([4.0, 0.2, 4.0])  # a 0.2 s shot: no bar fits, its cut passes inside the bar before
    passed = plan_film(flash, [1, 2, 3], [0.0] * 3, tempo_bpm=TEMPI, steering=0.5, frame_s=0.04)
    assert [s.scenes for s in passed] == [(0, 1), (2,)] and all(abs(s.tempo_bpm / s.aim - 1) <= 0.15 for s in passed)
    near = plan_film(_film([4.0, 4.0]), [1, 3], [0.0] * 2, hits=[4.03], tempo_bpm=TEMPI, steering=0.5, frame_s=0.04)
    assert [s.starts_on for s in near] == ["start", "cut+hit"]  # within a frame of the cut: the cut is the hit
    with pytest.raises(TooShort, match=r"hit at 2\.000 s"):
        plan_film(_film([8.0]), [1], [0.0], hits=[2.0, 2.1], tempo_bpm=TEMPI, steering=0.5, frame_s=0.04)


@settings(max_examples=60, deadline=None)
@given(
    tempi=st.lists(st.tuples(st.integers(0, 400), st.floats(40, 240)), min_size=1, max_size=6),
    times=st.lists(st.floats(-1.0, 120.0), max_size=20),
    end=st.integers(0, 400),
)
def test_nearest_positions_is_the_grid_point_nearest_each_time(tempi, times, end) -> None:
    """One sorted search finds the 16th nearest each time under any tempo map, ties to the earlier (as an argmin)."""
    from emoscore.film.deliver import nearest_positions

    midi = miditoolkit.MidiFile(ticks_per_beat=480)
    midi.tempo_changes = [
        miditoolkit.TempoChange(bpm, at * 120) for at, bpm in sorted({0: 120.0, **dict(tempi)}.items())
    ]
    grid = seconds_at(midi, np.arange(end + 1, dtype=float) * 120)
    expected = [int(np.argmin(np.abs(grid - time))) for time in times]
    assert nearest_positions(midi, end, times) == expected

"""Scenes and timecodes: timecodes round-trip, EDLs and stills give their scenes, the arc reads each scene (the tempo
plan is tests/film/test_plan.py)."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.errors import InvalidVideo
from emoscore.film.arc import emotional_arc, fill_gaps, scene_vad, smooth
from emoscore.film.scenes import parse_timecode, read_timecodes, scenes_from_scan, still_scenes, timecode
from emoscore.film.video import FilmScan

TEMPI = {"Q1": 120.0, "Q2": 116.0, "Q3": 72.0, "Q4": 84.0}


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10 * 3600 * 30), st.sampled_from([24, 25, 30, 50]))
def test_timecodes_round_trip_whole_frames(frames, fps):
    text = timecode(frames / fps, fps)
    assert parse_timecode(text, fps) == pytest.approx(frames / fps, abs=1e-9)


def test_timecode_forms():
    assert parse_timecode("01:00:10:12", 25) == pytest.approx(3610.48)
    assert parse_timecode("00:01:02.5", 25) == pytest.approx(62.5)
    assert parse_timecode("12.25", 25) == 12.25
    with pytest.raises(ValueError, match="not a timecode"):
        parse_timecode("soon", 25)


EDL = """TITLE: ACT ONE
FCM: NON-DROP FRAME

001  AX       V     C        00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME: shot_1.jpg
002  AX       V     C        00:00:00:00 00:00:03:12 01:00:04:00 01:00:07:12
* FROM CLIP NAME: shot_2.jpg

003  AX       V     D    012 00:00:00:00 00:00:05:00 01:00:07:12 01:00:12:12
"""


def test_an_edl_gives_record_in_and_out_of_every_event_on_the_films_clock(tmp_path):
    edl = tmp_path / "cut.edl"
    edl.write_text(EDL)
    spans = read_timecodes(edl, 25)  # record 01:00:00:00 is the film's 0 s
    assert spans == [(0.0, 4.0), (4.0, 7.48), (7.48, 12.48)]


def test_stills_follow_their_timecodes_in_natural_order(tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    for name in ("shot_10.jpg", "shot_2.jpg", "shot_1.jpg", "notes.txt"):
        (folder / name).write_bytes(b"x")
    cues = tmp_path / "cues.csv"
    cues.write_text("in,out\n00:00:10:00,00:00:12:00\n00:00:12:00,00:00:15:00\n00:00:15:00,00:00:16:00\n")
    scenes = still_scenes(folder, cues, 6.0, 25)
    assert [s.still.name for s in scenes] == ["shot_1.jpg", "shot_2.jpg", "shot_10.jpg"]
    assert [(s.start_s, s.end_s) for s in scenes] == [(0.0, 2.0), (2.0, 5.0), (5.0, 6.0)]
    assert [(s.start_s, s.end_s) for s in still_scenes(folder, None, 6.0, 25)][-1] == (12.0, 18.0)
    cues.write_text("in,out\n00:00:10:00,00:00:12:00\n")
    with pytest.raises(InvalidVideo, match="1 scenes for the 3 stills"):
        still_scenes(folder, cues, 6.0, 25)
    cues.write_text("in,out\n00:00:10:00,later\n")
    with pytest.raises(InvalidVideo, match=r"cues.csv: line 2: not a timecode"):
        read_timecodes(cues, 25)


def test_a_flash_joins_the_scene_before_it():
    times = tuple(i / 25 for i in range(250))  # 10 s; cuts at 4 s, 4.4 s (a flash) and 7 s
    scan = FilmScan(Path("f.mp4"), 64, 64, 25, times, (100, 110, 175))
    scenes = scenes_from_scan(scan, min_scene_s=2.0)
    assert [(round(s.start_s, 6), round(s.end_s, 6)) for s in scenes] == [(0.0, 4.4), (4.4, 7.0), (7.0, 10.0)]
    opening = FilmScan(Path("f.mp4"), 64, 64, 25, times, (10, 175))  # a flash that opens the film
    assert [round(s.end_s, 6) for s in scenes_from_scan(opening, 2.0)] == [7.0, 10.0]


def test_one_odd_frame_does_not_flip_a_scene_and_scenes_without_people_are_filled():
    calm = [np.array([7.0, 3.0, 5.0])] * 4 + [np.array([2.0, 9.0, 5.0])]  # one frame reads as fear
    assert scene_vad(calm).tolist() == [7.0, 3.0, 5.0]
    filled = fill_gaps([np.array([2.0, 2.0, 2.0]), None, np.array([4.0, 6.0, 8.0])])
    assert filled[1].tolist() == [3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="no person"):
        fill_gaps([None, None])
    points = np.array([[2.0, 2.0, 2.0], [8.0, 8.0, 8.0], [2.0, 2.0, 2.0]])
    assert smooth(points, 0.1)[1].tolist() == pytest.approx([6.8, 6.8, 6.8])
    moods = emotional_arc([calm, [None, None], [np.array([8.0, 8.0, 5.0])]], [5, 0, 1], 0.0, 5.5)
    assert [m.quadrant.name for m in moods] == ["Q4", "Q1", "Q1"]
    assert moods[1].own is None and moods[1].people == 0
    assert moods[0].intensity < 0 < moods[2].intensity

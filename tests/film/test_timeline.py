"""The editor's timeline through OpenTimelineIO: timelines OTIO writes and hand-written exports read back to the
frame, SMPTE timecodes (drop-frame too) both ways, and bad timelines refused naming the file and the event."""

import logging
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentimelineio import opentime

from emoscore.errors import InvalidVideo
from emoscore.film.scenes import read_timecodes
from emoscore.film.timecode import is_drop_frame_rate, parse_timecode, timecode
from emoscore.film.timeline import read_timeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "timelines"
NTSC_FILM = Fraction(24000, 1001)
NTSC_VIDEO = Fraction(30000, 1001)
NTSC_HIGH = Fraction(60000, 1001)
RATES = [NTSC_FILM, Fraction(24), Fraction(25), NTSC_VIDEO, Fraction(30), Fraction(50), NTSC_HIGH]
# suffix: (adapter, its write options, the markers it keeps: on the timeline's stack, on a track, on a clip)
WRITERS = {
    ".otio": ("otio_json", {}, {"stack", "track", "clip"}),
    ".edl": ("cmx_3600", {}, {"clip"}),
    ".xml": ("fcp_xml", {}, {"stack", "clip"}),
    ".fcpxml": ("fcpx_xml", {}, {"clip"}),
    ".aaf": ("AAF", {"use_empty_mob_ids": True}, set()),
}


def df_frame(hours: int, minutes: int, seconds: int, frames: int, nominal: int = 30) -> int:
    """Frame number of a drop-frame timecode, by the SMPTE formula: 2 (4 at 59.94) numbers skipped each minute,
    but every tenth."""
    total_minutes = 60 * hours + minutes
    dropped = nominal // 15 * (total_minutes - total_minutes // 10)
    return (hours * 3600 + minutes * 60 + seconds) * nominal + frames - dropped


def frames_of(seconds: float, rate: Fraction) -> float:
    return seconds * float(rate)


def flat(spans: object) -> list[float]:
    """Spans as one list (in, out, in, out …), the shape pytest.approx compares."""
    return [float(time) for span in spans for time in span]


def build(
    rate: Fraction, cuts: list[tuple[int, int]], *, edl: bool = False
) -> tuple[otio.schema.Timeline, list[tuple[int, int]], dict[str, tuple[int, str]]]:
    """A timeline at `rate` of clips after gaps (`cuts`: gap before, length in frames) starting at 01:00:00:00, with
    a marker on its stack, its track and its second clip (or first); with the spans and markers expected, in frames
    on the film's clock. An EDL writes a clip's markers as they are and reads a LOC as record time, so for it each
    clip's source time is its record time."""
    fps = float(rate)
    separator = ";" if rate in (NTSC_VIDEO, NTSC_HIGH) else ":"
    timeline = otio.schema.Timeline(name="round trip")
    timeline.global_start_time = opentime.from_timecode(f"01:00:00{separator}00", fps)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    position, spans = 0, []
    for index, (gap, length) in enumerate(cuts):
        if gap:
            track.append(otio.schema.Gap(source_range=opentime.TimeRange(duration=opentime.RationalTime(gap, fps))))
        position += gap
        source = position if edl else 1000 + 37 * index
        media = otio.schema.ExternalReference(
            target_url=f"/media/shot_{index}.mov",
            available_range=opentime.TimeRange(opentime.RationalTime(0, fps), opentime.RationalTime(10**6, fps)),
        )
        track.append(
            otio.schema.Clip(
                name=f"shot_{index}",
                media_reference=media,
                source_range=opentime.TimeRange(opentime.RationalTime(source, fps), opentime.RationalTime(length, fps)),
            )
        )
        spans.append((position, position + length))
        position += length
    origin = spans[0][0]
    marked = track[-1] if len(cuts) == 1 else [item for item in track if isinstance(item, otio.schema.Clip)][1]
    into = marked.source_range.duration.value // 2
    marked.markers.append(marker("door slams", marked.source_range.start_time.value + into, fps))
    timeline.tracks.markers.append(marker("music in", origin + 1, fps))
    track.markers.append(marker("car passes", origin + 2, fps))
    clip_at = spans[1 if len(cuts) > 1 else 0][0] + into
    expected_markers = {"stack": (1, "music in"), "track": (2, "car passes"), "clip": (clip_at - origin, "door slams")}
    return timeline, [(start - origin, end - origin) for start, end in spans], expected_markers


def marker(name: str, frame: int, fps: float) -> otio.schema.Marker:
    return otio.schema.Marker(
        name=name, color=otio.schema.MarkerColor.RED, marked_range=opentime.TimeRange(opentime.RationalTime(frame, fps))
    )


def write(timeline: otio.schema.Timeline, path: Path, rate: Fraction) -> None:
    """The timeline in the format of `path`'s suffix, as OTIO's adapter writes it."""
    adapter, options, _ = WRITERS[path.suffix]
    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter, **options)
    if path.suffix == ".fcpxml":  # the writer's table has no key its NTSC lookup (by int(rate)) finds
        text = path.read_text()
        path.write_text(text.replace('frameDuration=""', f'frameDuration="{rate.denominator}/{rate.numerator}s"'))


@pytest.mark.parametrize("suffix", list(WRITERS))
@pytest.mark.parametrize("rate", RATES, ids=lambda rate: f"{float(rate):.3f}")
def test_timelines_otio_writes_read_back_to_the_frame(tmp_path, suffix, rate):
    timeline, spans, markers = build(rate, [(5, 48), (0, 31), (12, 77), (0, 250)], edl=suffix == ".edl")
    path = tmp_path / f"cut{suffix}"
    write(timeline, path, rate)
    edit = read_timeline(path, fps=rate, film_rate=rate, film_duration_s=500 / float(rate))
    stated_non_drop = suffix == ".xml"  # the fcp_xml writer gives the sequence's timecode displayformat NDF
    assert edit.rate == rate and edit.drop_frame == (rate in (NTSC_VIDEO, NTSC_HIGH) and not stated_non_drop)
    assert [frames_of(time, rate) for time in flat(edit.spans)] == pytest.approx(flat(spans), abs=0.5)
    assert edit.names == ("shot_0", "shot_1", "shot_2", "shot_3")
    kept = WRITERS[suffix][2]
    wanted = sorted(markers[kind] for kind in kept)
    got = [(frames_of(m.seconds, rate), m.name.lower()) for m in edit.markers]  # the EDL writer upper-cases a LOC
    assert [name for _, name in got] == [name for _, name in wanted]
    assert [frame for frame, _ in got] == pytest.approx([frame for frame, _ in wanted], abs=0.5)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(RATES),
    st.sampled_from([".otio", ".edl", ".xml", ".fcpxml"]),
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 5000)), min_size=2, max_size=6),
)
def test_random_clip_lengths_in_frames_round_trip_exactly(rate, suffix, cuts):
    timeline, spans, _ = build(rate, cuts, edl=suffix == ".edl")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"cut{suffix}"
        write(timeline, path, rate)
        edit = read_timeline(path, fps=rate)
    assert [frames_of(time, rate) for time in flat(edit.spans)] == pytest.approx(flat(spans), abs=1e-6)


def test_an_avid_edl_gives_its_video_events_and_locators_in_record_time(caplog):
    with caplog.at_level(logging.WARNING, logger="emoscore.film.timeline"):
        edit = read_timeline(FIXTURES / "act_one_25.edl", fps=25)
    assert edit.rate == 25 and not edit.drop_frame
    assert edit.spans == ((0.0, 4.0), (4.0, 7.48), (8.0, 11.0))  # record 01:00:00:00 is 0 s; the audio event is not
    assert edit.names == ("shot_1.jpg", "shot_2.jpg", "shot_3.jpg")
    assert [(round(m.seconds, 9), m.name) for m in edit.markers] == [(2.4, "door slams"), (9.2, "car passes")]
    assert "event 4 (clip 'shot_3.jpg') starts 0.520 s after" in caplog.text  # the gap belongs to shot_2
    assert read_timecodes(FIXTURES / "act_one_25.edl", 25) == list(edit.spans)


def test_a_drop_frame_edl_counts_across_the_minute_by_the_smpte_formula():
    edit = read_timeline(FIXTURES / "ntsc_df_2997.edl", fps=Fraction(30000, 1001))
    assert edit.rate == NTSC_VIDEO and edit.drop_frame
    start = df_frame(1, 0, 0, 0)
    records = [(df_frame(1, 0, 0, 0), df_frame(1, 0, 59, 20)), (df_frame(1, 0, 59, 20), df_frame(1, 1, 0, 4))]
    records.append((df_frame(1, 1, 0, 4), df_frame(1, 1, 5, 4)))
    assert [(a - start, b - start) for a, b in records] == [(0, 1790), (1790, 1802), (1802, 1952)]
    expected = [((a - start) * 1001 / 30000, (b - start) * 1001 / 30000) for a, b in records]
    assert flat(edit.spans) == pytest.approx(flat(expected), abs=1e-9)
    assert edit.spans[1][1] == pytest.approx(60.127, abs=1e-3)  # 12 frames; counted non-drop, 14
    assert [(m.seconds, m.name) for m in edit.markers] == [
        (pytest.approx(1800 * 1001 / 30000), "first frame of minute one")
    ]
    assert edit.names[0] == "A001C003_210301.MOV"
    assert read_timeline(FIXTURES / "ntsc_df_2997.edl", fps=25).rate == NTSC_VIDEO  # drop-frame means 29.97


def test_an_fcp7_xml_at_23976_gives_its_clipitems_and_markers():
    edit = read_timeline(FIXTURES / "reel1_23976.xml", film_rate=Fraction(24000, 1001), film_duration_s=12)
    assert edit.rate == NTSC_FILM and not edit.drop_frame
    frame = 1001 / 24000
    assert flat(edit.spans) == pytest.approx([frames * frame for frames in (0, 96, 96, 204, 216, 264)])
    assert edit.names == ("shot_010", "shot_020", "shot_030")
    # the clip marker counts from its media's first frame (the clip's in is 24, its media starts at 10:00:00:00)
    assert [(m.seconds, m.name) for m in edit.markers] == [
        (pytest.approx(48 * frame), "glance"),
        (pytest.approx(150 * frame), "door slams"),
    ]


def test_an_fcpx_xml_at_2997_gives_its_primary_storyline_and_markers(tmp_path):
    edit = read_timeline(FIXTURES / "reel1_2997.fcpxml", film_rate=Fraction(2997, 100))
    assert edit.rate == NTSC_VIDEO and not edit.drop_frame  # tcFormat="NDF"
    frame = 1001 / 30000
    assert flat(edit.spans) == pytest.approx([frames * frame for frames in (0, 120, 120, 215, 245, 305)])
    assert edit.names == ("A001C003", "A001C007", "A001C009")  # lane -1 room tone is not a scene
    assert [(m.seconds, m.name) for m in edit.markers] == [
        (pytest.approx(60 * frame), "door slams"),
        (pytest.approx(150 * frame), "glance"),
    ]
    bundle = tmp_path / "Reel 1.fcpxmld"
    bundle.mkdir()
    shutil.copy(FIXTURES / "reel1_2997.fcpxml", bundle / "Info.fcpxml")
    assert read_timeline(bundle).spans == edit.spans


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10 * 3600 * 60), st.sampled_from(RATES))
def test_timecodes_round_trip_whole_frames_at_every_rate(frames, rate):
    frames = frames % (10 * 3600 * round(rate))
    text = timecode(frames / rate, rate)
    assert (";" in text) == is_drop_frame_rate(rate) and text.count(":") == (2 if ";" in text else 3)
    assert parse_timecode(text, rate) == pytest.approx(float(frames / rate), abs=1e-9)
    plain = timecode(frames / rate, rate, drop_frame=False)  # non-drop at 29.97 counts 30 to a second of it
    assert ";" not in plain and parse_timecode(plain, rate) == pytest.approx(float(frames / rate), abs=1e-9)


def test_known_drop_frame_timecodes():
    assert timecode(1800 * 1001 / 30000, 29.97) == "00:01:00;02"
    assert timecode(17982 * 1001 / 30000, Fraction(30000, 1001)) == "00:10:00;00"
    assert timecode(1799 * 1001 / 30000, 29.97) == "00:00:59;29"
    assert timecode(3600 * 1001 / 60000, 59.94) == "00:01:00;04"
    assert timecode(1800 * 1001 / 30000, 29.97, drop_frame=False) == "00:01:00:00"
    for text, frame in [("00:01:00;02", 1800), ("00:10:00;00", 17982), ("01:00:59;20", df_frame(1, 0, 59, 20))]:
        assert parse_timecode(text, 29.97) == pytest.approx(frame * 1001 / 30000)
    assert parse_timecode("00:01:00;04", 59.94) == pytest.approx(df_frame(0, 1, 0, 4, 60) * 1001 / 60000)
    for missing in ("00:01:00;00", "01:01:00;01"):
        with pytest.raises(ValueError, match="does not exist in drop-frame"):
            parse_timecode(missing, 29.97)
    assert parse_timecode("00:10:00;00", 29.97) == pytest.approx(17982 * 1001 / 30000)  # every tenth minute keeps ;00


def test_timecode_forms_and_rates():
    assert parse_timecode("01:00:10:12", 25) == pytest.approx(3610.48)
    assert parse_timecode("00:01:02.5", 25) == pytest.approx(62.5)
    assert parse_timecode("01:02", 25) == 62.0
    assert parse_timecode(" 12.25 ", 25) == 12.25
    assert parse_timecode("00:00:01:12", 23.976) == pytest.approx(36 * 1001 / 24000)
    for bad, why in [("soon", "not a timecode"), ("nan", "not a timecode"), ("00:00:01:25", "frames run to 24")]:
        with pytest.raises(ValueError, match=why):
            parse_timecode(bad, 25)
    with pytest.raises(ValueError, match=r"only 29\.97 and 59\.94"):
        parse_timecode("00:00:01;12", 25)
    with pytest.raises(ValueError, match="drop-frame"):
        timecode(1.0, 25, drop_frame=True)
    assert timecode(3.6, 15) == "00:00:03:09" and parse_timecode("00:00:03:09", 15) == pytest.approx(3.6)  # not SMPTE
    assert [is_drop_frame_rate(r) for r in (29.97, NTSC_VIDEO, 59.94, 30, 25, 23.976)] == [True] * 3 + [False] * 3


EDL_HEAD = "TITLE: BAD\nFCM: NON-DROP FRAME\n\n"


def refused(path: Path, text: str | bytes, **options: object) -> str:
    """The message read_timeline refuses `text` (written to `path`) with."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(InvalidVideo) as error:
        read_timeline(path, **options)
    assert error.value.path == str(path)
    return str(error.value)


def test_a_timeline_at_another_rate_than_the_film_is_refused():
    with pytest.raises(InvalidVideo, match=r"reel1_23976\.xml: its rate is 23\.976 fps but the film runs at 25 fps"):
        read_timeline(FIXTURES / "reel1_23976.xml", film_rate=Fraction(25))
    with pytest.raises(InvalidVideo, match=r"its rate is 29\.97 fps but the film runs at 30 fps"):
        read_timeline(FIXTURES / "reel1_2997.fcpxml", film_rate=Fraction(30))


def test_a_clip_or_marker_outside_the_film_is_refused_by_name():
    edl = FIXTURES / "act_one_25.edl"
    with pytest.raises(InvalidVideo, match=r"act_one_25\.edl: event 4 \(clip 'shot_3.jpg'\) starts at 01:00:08:00"):
        read_timeline(edl, film_duration_s=7.9)
    with pytest.raises(InvalidVideo, match=r"marker 'car passes' at 01:00:09:05, 9\.200 s into the film: past"):
        read_timeline(edl, film_duration_s=9.0)
    assert len(read_timeline(edl, film_duration_s=11.0).markers) == 2


def test_bad_edls_are_refused_naming_the_events(tmp_path):
    overlap = (
        EDL_HEAD + "001  AX V C 00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00\n* FROM CLIP NAME: wide\n"
        "002  AX V C 00:00:00:00 00:00:04:00 01:00:03:00 01:00:07:00\n* FROM CLIP NAME: close\n"
    )
    says = refused(tmp_path / "overlap.edl", overlap)
    assert "event 2 (clip 'close') starts at 01:00:03:00, before event 1 (clip 'wide') ends at 01:00:04:00" in says
    early = EDL_HEAD + "001  AX V C 00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00\n* LOC: 00:59:59:00 RED  slate\n"
    assert "marker 'slate' at 00:59:59:00 is before the film starts" in refused(tmp_path / "early.edl", early)
    backwards = EDL_HEAD + "007  AX V C 00:00:04:00 00:00:00:00 01:00:04:00 01:00:00:00\n"
    assert "event 7 ends at 01:00:00:00, not after it starts at 01:00:04:00" in refused(
        tmp_path / "back.edl", backwards
    )
    assert "no scenes in it" in refused(tmp_path / "empty.edl", EDL_HEAD)
    ghost = "FCM: DROP FRAME\n001  AX V C 00:00:00;00 00:00:04;00 01:00:00;00 01:00:04;00\n* LOC: 01:01:00;00 RED x\n"
    assert "marker 'x' at 01:01:00;00: no such drop-frame timecode" in refused(tmp_path / "ghost.edl", ghost)


def test_a_cue_sheet_overlap_names_its_lines(tmp_path):
    says = refused(tmp_path / "cues.csv", "in,out\n00:00:00:00,00:00:04:00\n00:00:03:00,00:00:07:12\n")
    assert "cues.csv: line 3: starts at 3.000 s, before line 2 ends at 4.000 s" in says


@pytest.mark.parametrize("suffix", [".edl", ".xml", ".otio", ".fcpxml", ".aaf"])
def test_garbage_with_a_timeline_suffix_is_refused_as_unreadable(tmp_path, suffix):
    says = refused(tmp_path / f"cut{suffix}", b"\x00\x9f garbage \xff\xfe\n" * 40)
    assert f"cut{suffix}: cannot read it as" in says and "\n" not in says


def test_what_is_not_a_timeline_is_refused(tmp_path):
    assert "no timeline" in refused(tmp_path / "clips.otio", otio.adapters.write_to_string(otio.schema.Clip()))
    assert "No top-level sequences" in refused(tmp_path / "other.xml", '<?xml version="1.0"?><xmeml version="5"/>')
    assert "not a timeline" in refused(tmp_path / "cut.mov", b"")
    with pytest.raises(InvalidVideo, match="cannot read it"):
        read_timeline(tmp_path / "missing.edl")


def test_hit_points_and_cue_sheets_read_csv_alike(tmp_path):
    """Both CSVs take a BOM, any case and spacing of column names and padded values, and Latin-1 from older tools;
    a row without the needed column is refused by its line."""
    from emoscore.film.hits import read_hits

    hits = tmp_path / "hits.csv"
    hits.write_bytes(" Time , NAME\n 00:00:01:00 , door slams\n00:00:02:12,caf\xe9\n".encode("latin-1"))
    assert read_hits([str(hits)], 25, tmp_path / "film.mp4") == [
        (1.0, "door slams", hits, "line 2"),
        (2.48, "caf\xe9", hits, "line 3"),
    ]
    cues = tmp_path / "cues.csv"
    cues.write_bytes(b"\xef\xbb\xbf IN ,Out\n00:00:00:00 , 00:00:04:00\n00:00:04:00,00:00:07:12\n")
    assert read_timeline(cues).spans == ((0.0, 4.0), (4.0, 7.48))
    short = tmp_path / "short.csv"  # a blank line, then a row without its out: named by the file's own line
    short.write_text("in,out\n\n00:00:00:00,00:00:04:00\n00:00:04:00\n")
    with pytest.raises(InvalidVideo, match=r"short.csv: line 4: needs columns in,out"):
        read_timeline(short)
    hits.write_text("when,name\n00:00:01:00,x\n")
    with pytest.raises(InvalidVideo, match=r"hits.csv: line 2: needs a time \(or timecode\) column"):
        read_hits([str(hits)], 25, tmp_path / "film.mp4")

"""The renderer's MIDI reader gives what miditoolkit gives (parts, tempi, last tick, hence the schedule) on any file
mido writes — several tracks and channels, program changes, drums, pedal, tempo changes in any track, sysex,
note-ons of velocity 0, keys struck again before their note-off, running status — and hands what it does not take
to miditoolkit."""

from pathlib import Path

import miditoolkit
import mido
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from emoscore.music.midi_read import read_midi
from emoscore.music.playback import _from_miditoolkit, schedule

EVENT = st.one_of(
    st.tuples(st.just("note_on"), st.integers(0, 15), st.integers(60, 63), st.integers(0, 127)),
    st.tuples(st.just("note_off"), st.integers(0, 15), st.integers(60, 63), st.integers(0, 127)),
    st.tuples(st.just("control_change"), st.integers(0, 15), st.sampled_from([64, 7, 91]), st.integers(0, 127)),
    st.tuples(st.just("program_change"), st.integers(0, 15), st.integers(0, 127), st.just(0)),
    st.tuples(st.just("set_tempo"), st.just(0), st.integers(100_000, 2_000_000), st.just(0)),
    st.tuples(st.just("sysex"), st.just(0), st.integers(1, 5), st.just(0)),
)
TRACK = st.lists(st.tuples(st.integers(0, 300), EVENT), min_size=0, max_size=40)


def _message(kind: str, channel: int, a: int, b: int, delta: int) -> mido.Message | mido.MetaMessage:
    if kind in ("note_on", "note_off"):
        return mido.Message(kind, channel=channel, note=a, velocity=b, time=delta)
    if kind == "control_change":
        return mido.Message(kind, channel=channel, control=a, value=b, time=delta)
    if kind == "program_change":
        return mido.Message(kind, channel=channel, program=a, time=delta)
    if kind == "set_tempo":
        return mido.MetaMessage(kind, tempo=a, time=delta)
    return mido.Message("sysex", data=list(range(a)), time=delta)


def _write(path: Path, tracks: list, division: int) -> Path:
    midi = mido.MidiFile(ticks_per_beat=division)
    for events in tracks:
        track = mido.MidiTrack()
        track.extend(_message(*event, delta) for delta, event in events)
        midi.tracks.append(track)
    midi.save(path)  # mido writes running status wherever a status repeats
    return path


@settings(max_examples=150, deadline=None)
@given(tracks=st.lists(TRACK, min_size=1, max_size=3), division=st.sampled_from([96, 384, 480, 1024]))
@example(  # found by hypothesis: the pedal goes down after the last note-off and never comes up
    tracks=[[(28, ("note_on", 2, 60, 3)), (26, ("note_on", 2, 60, 0)), (238, ("control_change", 0, 64, 64))]],
    division=96,
)
def test_any_file_mido_writes_reads_as_miditoolkit_reads_it(tmp_path_factory, tracks, division):
    path = _write(tmp_path_factory.mktemp("midi") / "random.mid", tracks, division)
    ours, theirs = read_midi(path), _from_miditoolkit(miditoolkit.MidiFile(str(path)))
    assert ours is not None
    assert (ours.ticks_per_beat, ours.tempi, ours.max_tick) == (theirs.ticks_per_beat, theirs.tempi, theirs.max_tick)
    assert [(p.is_drum, p.notes, p.controls) for p in ours.parts] == [
        (p.is_drum, p.notes, p.controls) for p in theirs.parts
    ]
    mine, reference = schedule(path, 44100), schedule(miditoolkit.MidiFile(str(path)), 44100)
    for name in ("keys", "velocities", "on", "off"):
        np.testing.assert_array_equal(getattr(mine, name), getattr(reference, name))
    assert mine.last_event == reference.last_event


def test_running_status_and_a_velocity_zero_note_on_read_as_mido_reads_them(tmp_path):
    track = bytes(
        [
            *(0x00, 0x90, 60, 100),  # note-on
            *(0x10, 62, 90),  # running status: another note-on
            *(0x10, 60, 0),  # running status, velocity 0: the first one's note-off
            *(0x20, 0x80, 62, 0),
            *(0x00, 0xFF, 0x2F, 0x00),
        ]
    )
    path = tmp_path / "running.mid"
    path.write_bytes(b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 1, 224]) + b"MTrk")
    with path.open("ab") as handle:
        handle.write(len(track).to_bytes(4, "big") + track)
    ours = read_midi(path)
    assert ours is not None and [p.notes for p in ours.parts] == [[(0, 32, 60, 100), (16, 64, 62, 90)]]
    assert ours.max_tick == _from_miditoolkit(miditoolkit.MidiFile(str(path))).max_tick == 65


@pytest.mark.parametrize(
    "content",
    [
        b"not a midi file at all",
        b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0xE7, 0x28]),  # SMPTE time: left to miditoolkit
        b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 1, 224]) + b"MTrk" + (40).to_bytes(4, "big") + b"\x00",
    ],
)
def test_what_the_reader_does_not_take_goes_to_miditoolkit(tmp_path, content):
    path = tmp_path / "odd.mid"
    path.write_bytes(content)
    assert read_midi(path) is None

"""A deterministic sample film for the `score_film_demo` stage: scenes drawn like the sample photos (so the trained
model reads them), each with people of one quadrant's emotion, a slow camera pan inside a scene and hard cuts
between scenes of different lengths, encoded as H.264 in MP4 with PyAV; its sound, stereo AAC, is a synthetic voice
in the second and fourth scenes and silence in the others (what the mix ducks the music under)."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from scipy.signal import butter, sosfilt

from emoscore.config import SampleParams
from emoscore.samples.datasets import SamplePerson, _person_box, categories_near, paint_person, scene_background

log = logging.getLogger(__name__)

QUADRANT_POINTS = {"Q1": (8.2, 8.2), "Q2": (2.3, 8.2), "Q3": (2.3, 2.3), "Q4": (8.2, 2.3)}  # (valence, arousal)
SCENE_ORDER = ("Q1", "Q3", "Q2", "Q4")  # every change crosses a boundary of the arc
PAN = 2  # pixels the camera moves per frame
AUDIO_RATE = 48000
VOICED_SCENES = (1, 3)  # the second and fourth scenes speak; the first and third are silent
VOICE_RMS_DBFS = -20.0  # the voice's level over its scene, pauses included (dialogue sits about here)
AUDIO_BLOCK = 1024  # samples handed to the AAC encoder at a time (its frame)


def _scene_canvas(quadrant: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    valence, arousal = QUADRANT_POINTS[quadrant]
    people = []
    for _ in range(int(rng.integers(1, 3))):
        vad = np.clip(rng.normal([valence, arousal, 5.5], [0.4, 0.4, 1.0]), 1.0, 10.0).round(1)
        people.append(SamplePerson(tuple(float(v) for v in vad), categories_near(vad, rng)))  # type: ignore[arg-type]
    canvas = scene_background(np.mean([p.vad for p in people], axis=0), width, height, rng)
    for person in people:
        paint_person(canvas, _person_box(width, height, rng), person, rng)
    return canvas


def _voice(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A speech-like mono signal: harmonics of a fundamental gliding over 120–220 Hz, band-passed to the telephone
    band (300–3400 Hz), in syllables at about 4 Hz within phrases of 1.2–2.8 s with pauses between, at -20 dBFS RMS."""
    count = round(seconds * AUDIO_RATE)
    times = np.arange(count) / AUDIO_RATE
    knots = np.arange(0.0, seconds + 0.3, 0.3)
    fundamental = np.interp(times, knots, rng.uniform(120.0, 220.0, len(knots)))
    phase = 2 * np.pi * np.cumsum(fundamental) / AUDIO_RATE
    source = sum(np.sin(k * phase) * (k * fundamental < 3800) / k for k in range(1, 32))
    voiced = sosfilt(butter(4, [300.0, 3400.0], btype="bandpass", fs=AUDIO_RATE, output="sos"), source)
    syllable_rate = np.interp(times, knots, rng.uniform(3.0, 5.0, len(knots)))
    syllables = (0.5 - 0.5 * np.cos(2 * np.pi * np.cumsum(syllable_rate) / AUDIO_RATE)) ** 1.5
    phrases = np.zeros(count)
    start = rng.uniform(0.2, 0.5)
    while start < seconds - 0.5:
        end = min(start + rng.uniform(1.2, 2.8), seconds - 0.2)
        phrases[round(start * AUDIO_RATE) : round(end * AUDIO_RATE)] = 1.0
        start = end + rng.uniform(0.25, 0.6)
    ramp = round(0.01 * AUDIO_RATE)
    phrases = np.convolve(phrases, np.ones(ramp) / ramp, mode="same")  # 10 ms fades: no clicks at a pause
    signal = voiced * syllables * phrases
    rms = np.sqrt(np.mean(np.square(signal)))
    return (signal * (10 ** (VOICE_RMS_DBFS / 20) / rms if rms > 0 else 0.0)).astype(np.float32)


def _soundtrack(lengths: list[int], fps: int, rng: np.random.Generator) -> np.ndarray:
    """The film's sound, float32 [n, 2] at AUDIO_RATE: the voice in VOICED_SCENES, silence elsewhere."""
    bounds = [round(frame * AUDIO_RATE / fps) for frame in np.cumsum([0, *lengths])]
    sound = np.zeros((bounds[-1], 2), dtype=np.float32)
    for scene in (scene for scene in VOICED_SCENES if scene < len(lengths)):
        first, last = bounds[scene], bounds[scene + 1]
        sound[first:last] = _voice((last - first) / AUDIO_RATE, rng)[:, None]
    return sound


def _encode_sound(
    film: av.container.OutputContainer, stream: av.audio.stream.AudioStream, sound: np.ndarray, *, start: int, stop: int
) -> int:
    """Encode and mux sound[start:stop] in AAC-frame blocks; where it stopped."""
    for begin in range(start, stop, AUDIO_BLOCK):
        block = np.ascontiguousarray(sound[begin : min(begin + AUDIO_BLOCK, stop)])
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, begin, Fraction(1, AUDIO_RATE)
        for packet in stream.encode(frame):
            film.mux(packet)
    return max(start, stop)


def write_sample_film(params: SampleParams, path: Path | None = None) -> tuple[Path, list[int], list[str]]:
    """Write the sample film (default `<sample.out>/film.mp4`); its path, the first frame of every scene after the
    first (the cuts a detector should find) and each scene's quadrant."""
    path = path or params.out / "film.mp4"
    rng = np.random.default_rng(params.seed + 3)
    width, height, fps = params.film_width, params.film_height, params.film_fps
    quadrants = [SCENE_ORDER[i % len(SCENE_ORDER)] for i in range(params.film_scenes)]
    lengths = [round(params.film_scene_seconds * rng.uniform(0.7, 1.3) * fps) for _ in quadrants]
    cuts = [int(cut) for cut in np.cumsum(lengths)[:-1]]
    sound = _soundtrack(lengths, fps, np.random.default_rng(params.seed + 4))  # apart: the picture's draws stay
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(temporary), "w") as film:
        stream = film.add_stream("libx264", rate=fps, options={"crf": "20", "g": str(2 * fps)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: the same parameters always make the same bytes
        voice = film.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        shown, heard = 0, 0
        for quadrant, length in zip(quadrants, lengths, strict=True):
            canvas = _scene_canvas(quadrant, width + PAN * length, height, rng)
            for offset in range(length):
                pixels = np.ascontiguousarray(canvas[:, PAN * offset : PAN * offset + width])
                # converted here, not by the encoder: PyAV's own conversion made x264 see different pictures from
                # run to run (97 of 207 frames), so the film's bytes, its id and the music's seeds varied
                frame = av.VideoFrame.from_ndarray(pixels).reformat(format="yuv420p")
                frame.pts = shown
                shown += 1
                for packet in stream.encode(frame):
                    film.mux(packet)
                heard = _encode_sound(film, voice, sound, start=heard, stop=min(len(sound), shown * AUDIO_RATE // fps))
        for packet in stream.encode(None):
            film.mux(packet)
        _encode_sound(film, voice, sound, start=heard, stop=len(sound))
        for packet in voice.encode(None):
            film.mux(packet)
    temporary.replace(path)
    voiced = [scene + 1 for scene in VOICED_SCENES if scene < len(quadrants)]
    log.info("sample film: %d scenes, %d frames at %d fps, a voice in scenes %s", len(quadrants), shown, fps, voiced)
    return path, cuts, quadrants

"""The film's deliverable sound: its own audio read onto the film's clock, the music under it ducked where the film
is loud, the stem and the mix at EBU R128 / ATSC A/85 loudness under their true-peak ceilings, measured again on the
24-bit files written; and the scored video's sound from float samples."""

from fractions import Fraction

import av
import numpy as np
import pyloudnorm
import pytest
import soundfile
from scipy.signal import butter, sosfilt

from emoscore.config import FilmParams
from emoscore.errors import InvalidVideo
from emoscore.film.loudness import STANDARDS, measure, normalize
from emoscore.film.mix import duck_gain, film_audio, mix_soundtrack, write_deliverable
from emoscore.film.mux import mux_soundtrack

RATE = 48000
SPEAKING = ((2.0, 5.0), (8.0, 10.0))  # seconds of the test film where someone speaks


def piano(seconds, seed=0):
    """Piano-like int16 stereo: a note every 0.4 s, each a few harmonics decaying from a sharp attack."""
    rng = np.random.default_rng(seed)
    out = np.zeros((round(seconds * RATE), 2))
    for onset in np.arange(0.0, seconds - 0.5, 0.4):
        pitch = 220 * 2 ** (rng.integers(-12, 13) / 12)
        t = np.arange(round(min(2.5, seconds - onset) * RATE)) / RATE
        note = sum(np.sin(2 * np.pi * k * pitch * t) / k**1.5 for k in range(1, 6)) * np.exp(-3 * t)
        start = round(onset * RATE)
        out[start : start + len(t)] += note[:, None] * [rng.uniform(0.3, 1), rng.uniform(0.3, 1)]
    return np.round(out / np.abs(out).max() * 0.5 * 32767).astype(np.int16)


def voice_film(seconds, spans=SPEAKING, seed=1):
    """The film's own sound: voice-band noise (300–3400 Hz) at about -20 dBFS RMS, in syllables at 4 Hz, in `spans`;
    silence elsewhere."""
    rng = np.random.default_rng(seed)
    count = round(seconds * RATE)
    band = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos"), rng.standard_normal(count))
    t = np.arange(count) / RATE
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    speaking = np.zeros(count)
    for start, end in spans:
        speaking[round(start * RATE) : round(end * RATE)] = 1
    voice = band * syllables * speaking
    voice *= 10 ** (-20 / 20) / np.sqrt(np.mean(voice[speaking > 0] ** 2))
    return np.repeat(voice[:, None], 2, axis=1).astype(np.float32)


def read_back(path):
    """The deliverable as written: its samples and its loudness by pyloudnorm, measured apart from the module."""
    samples, rate = soundfile.read(str(path), dtype="float64")
    return samples, rate, pyloudnorm.Meter(rate).integrated_loudness(samples)


def db(x):
    return 20 * np.log10(x)


@pytest.mark.parametrize("standard", ["ebu_r128", "atsc_a85"])
def test_music_alone_is_delivered_at_the_standards_loudness_under_its_ceiling(standard, tmp_path):
    target, ceiling = STANDARDS[standard]
    music = piano(12.0)
    stem, mix, facts = mix_soundtrack(music, None, RATE, FilmParams(loudness=standard))
    assert mix is stem and facts["film_audio"] is False and facts["ducked_share"] == 0
    samples, rate, loudness = read_back(write_deliverable(stem, RATE, tmp_path / "stem.wav", "wav"))
    assert loudness == pytest.approx(target, abs=0.1) and rate == RATE
    assert measure(samples, RATE).true_peak_dbtp < ceiling
    assert facts["stem"]["integrated_lufs"] == pytest.approx(target, abs=0.1)


@pytest.mark.parametrize("standard", ["ebu_r128", "atsc_a85"])
def test_a_film_with_its_own_sound_is_mixed_at_the_standards_loudness(standard, tmp_path):
    target, ceiling = STANDARDS[standard]
    film = voice_film(12.0)
    music = piano(12.0)
    stem, mix, facts = mix_soundtrack(music, film, RATE, FilmParams(loudness=standard))
    for name, audio in (("stem", stem), ("mix", mix)):
        samples, _, loudness = read_back(write_deliverable(audio, RATE, tmp_path / f"{name}.wav", "wav"))
        assert loudness == pytest.approx(target, abs=0.1), name
        assert measure(samples, RATE).true_peak_dbtp < ceiling, name
    assert facts["film_audio"] is True and facts["max_duck_db"] == pytest.approx(10.0, abs=0.1)
    speaking = sum(end - start for start, end in SPEAKING)  # ducked while someone speaks and as it comes back after
    assert speaking / 12 < facts["ducked_share"] < (speaking + len(SPEAKING) * FilmParams().duck_release_s) / 12


def test_hot_peaks_are_limited_under_the_ceiling_and_the_loudness_still_reached():
    """Full-scale clicks (0.5 ms) once a second over a quiet tone: gain to -23 LUFS alone would put them over 5 dB
    past the ceiling; the limiter takes them down and leaves the tone between them alone."""
    t = np.arange(10 * RATE) / RATE
    clicks = np.sign(np.sin(2 * np.pi * 2000 * t)) * ((t % 1.0) < 0.0005)
    hot = np.repeat((0.03 * np.sin(2 * np.pi * 330 * t) + 0.95 * clicks)[:, None], 2, axis=1).astype(np.float32)
    before = measure(hot, RATE)
    assert before.true_peak_dbtp + (-23 - before.integrated_lufs) > -1 + 5  # gain alone would pass the ceiling
    out = normalize(hot, RATE, "ebu_r128")
    after = measure(out, RATE)
    assert after.integrated_lufs == pytest.approx(-23, abs=0.1) and after.true_peak_dbtp < -1.0
    gain = out[:, 0] / np.where(hot[:, 0] == 0, np.nan, hot[:, 0])
    between = ((t % 1.0) > 0.05) & ((t % 1.0) < 0.95) & (np.abs(hot[:, 0]) > 0.005)  # 50 ms clear of every click
    assert np.nanstd(db(np.abs(gain[between]))) < 0.01  # one plain gain there
    assert db(np.nanmin(np.abs(gain))) < db(np.nanmedian(np.abs(gain[between]))) - 5  # the clicks limited


def test_a_full_scale_square_is_brought_down_to_the_target():
    """A low-crest signal whose samples are at full scale and whose true peak is over it."""
    t = np.arange(5 * RATE) / RATE
    square = np.repeat(np.sign(np.sin(2 * np.pi * 997 * t))[:, None], 2, axis=1).astype(np.float32)
    assert measure(square, RATE).true_peak_dbtp > 1.0
    for standard, (target, ceiling) in STANDARDS.items():
        after = measure(normalize(square, RATE, standard), RATE)
        assert after.integrated_lufs == pytest.approx(target, abs=0.1) and after.true_peak_dbtp < ceiling


def test_true_peak_reads_between_the_samples():
    """A sine at a quarter of the rate, sampled 45° off its crests: samples peak at -3 dBFS, the wave at 0 dBTP."""
    t = np.arange(2 * RATE) / RATE
    sine = np.repeat(np.sin(2 * np.pi * RATE / 4 * t + np.pi / 4)[:, None], 2, axis=1)
    assert db(np.abs(sine).max()) == pytest.approx(-3.01, abs=0.01)
    assert measure(sine, RATE).true_peak_dbtp == pytest.approx(0.0, abs=0.2)


def test_silence_stays_silent_and_none_leaves_the_samples_alone():
    silence = np.zeros((RATE, 2), dtype=np.float32)
    assert not normalize(silence, RATE, "ebu_r128").any()
    assert measure(silence, RATE).integrated_lufs == -np.inf
    music = piano(3.0)
    assert normalize(music, RATE, "none") is music
    stem, mix, facts = mix_soundtrack(music, silence.repeat(3, axis=0), RATE, FilmParams())
    assert mix is stem and facts["film_audio"] is False


def test_the_music_ducks_by_its_depth_where_the_film_is_loud_and_is_untouched_where_it_is_silent():
    params = FilmParams(loudness="none")
    film = voice_film(12.0)
    music = piano(12.0).astype(np.float32) / 32768
    _, mix, _ = mix_soundtrack(music, film, RATE, params)
    heard = mix - film  # the music as it is in the mix
    seconds = [slice(i * RATE, (i + 1) * RATE) for i in range(12)]
    level = 10 * np.log10([np.mean(heard[second] ** 2) / np.mean(music[second] ** 2) for second in seconds])
    under = level[0]  # the music's gain where no one has spoken yet
    speaking = [3, 4, 9]  # whole seconds inside SPEAKING, the attack done
    silent = [0, 1, 6, 7, 11]  # whole seconds before SPEAKING, or a second (over 1.5 release times) after it
    assert np.allclose(level[speaking], under - params.duck_depth_db, atol=0.5)
    assert np.allclose(level[silent], under, atol=0.5)
    music_in_mix = measure(music * 10 ** (under / 20), RATE).integrated_lufs  # before ducking
    assert music_in_mix - measure(film, RATE).integrated_lufs == pytest.approx(params.music_under_db, abs=0.1)


def test_the_duck_keeps_its_attack_and_release_times():
    film = voice_film(8.0, spans=((2.0, 5.0),))
    attack, release, depth = 0.08, 0.6, 10.0
    gain = db(duck_gain(film, RATE, threshold_db=-35, depth_db=depth, attack_s=attack, release_s=release))
    assert gain.shape == (len(film),)
    onset, end = 2 * RATE, 5 * RATE
    assert np.abs(gain[: onset - round(0.05 * RATE)]).max() < 0.01  # untouched before (the level window is centred)
    reached = np.flatnonzero(gain[onset:] < -0.9 * depth)[0] / RATE
    assert reached < 2 * attack
    assert gain[onset + round(2 * attack * RATE) : end].max() < -0.85 * depth  # held between syllables
    recovered = np.flatnonzero(gain[end:] > -0.5)[0] / RATE
    assert 0.5 * release < recovered < 3 * release
    assert np.abs(gain[end + round(3 * release * RATE) :]).max() < 0.5


def write_film(path, seconds=4.0, tone=None, audio_start=0.0, fps=25, options=None):
    """An MP4 written with PyAV: a grey picture and, with `tone` (start, end in seconds), a stereo AAC stream from
    `audio_start` holding a 1 kHz tone over those seconds of the film and silence around it."""
    with av.open(str(path), "w", options=options or {}) as film:
        picture = film.add_stream("libx264", rate=fps)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        sound = film.add_stream("aac", rate=RATE, layout="stereo") if tone else None
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8))
            frame.pts = index
            for packet in picture.encode(frame):
                film.mux(packet)
        for packet in picture.encode(None):
            film.mux(packet)
        if sound is not None:
            t = np.arange(round((seconds - audio_start) * RATE)) / RATE + audio_start
            wave = 0.5 * np.sin(2 * np.pi * 1000 * t) * ((t >= tone[0]) & (t < tone[1]))
            samples = np.repeat(wave[:, None], 2, axis=1).astype(np.float32)
            for begin in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(samples[begin : begin + 1024].reshape(1, -1), "flt", "stereo")
                frame.sample_rate, frame.time_base = RATE, Fraction(1, RATE)
                frame.pts = round(audio_start * RATE) + begin
                for packet in sound.encode(frame):
                    film.mux(packet)
            for packet in sound.encode(None):
                film.mux(packet)
    return path


@pytest.mark.parametrize("audio_start", [0.0, 0.5])
def test_the_films_own_sound_is_read_onto_the_films_clock(audio_start, tmp_path):
    video = write_film(tmp_path / "tone.mp4", tone=(1.0, 2.5), audio_start=audio_start)
    sound = film_audio(video, RATE, 5 * RATE)  # a frame count past the film's end: silence after it
    assert sound.shape == (5 * RATE, 2) and sound.dtype == np.float32
    loud = np.flatnonzero(np.abs(sound[:, 0]) > 0.1)
    assert loud[0] / RATE == pytest.approx(1.0, abs=0.005)
    assert (loud[-1] - loud[0]) / RATE == pytest.approx(1.5, abs=0.005)
    assert not sound[4 * RATE + 2048 :].any()
    cut = film_audio(video, RATE, 2 * RATE)
    assert np.array_equal(cut, sound[: 2 * RATE])


def test_a_film_without_sound_has_none_and_a_bad_file_is_refused(tmp_path):
    assert film_audio(write_film(tmp_path / "mute.mp4"), RATE, RATE) is None
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(InvalidVideo, match=r"garbage\.mp4"):
        film_audio(garbage, RATE, RATE)
    whole = write_film(tmp_path / "whole.mp4", tone=(1.0, 2.0)).read_bytes()
    truncated = tmp_path / "truncated.mp4"  # its index is at the end: it does not open
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidVideo, match=r"truncated\.mp4"):
        film_audio(truncated, RATE, RATE)
    index_first = write_film(tmp_path / "index_first.mp4", tone=(1.0, 2.0), options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"  # it opens, then its sound runs out before the end its index declares
    cut.write_bytes(index_first.read_bytes()[: int(index_first.stat().st_size * 0.6)])
    with pytest.raises(InvalidVideo, match=r"cut\.mp4: its sound is damaged or cut short"):
        film_audio(cut, RATE, 4 * RATE)


@pytest.mark.parametrize(("fmt", "subtype"), [("wav", "PCM_24"), ("flac", "PCM_24")])
def test_the_deliverable_is_48_khz_24_bit_with_every_frame(fmt, subtype, tmp_path):
    audio = voice_film(3.0) * 8  # too loud on purpose: clipped to full scale, not wrapped
    path = write_deliverable(audio, RATE, tmp_path / f"mix.{fmt}", fmt)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.subtype, info.channels, info.frames) == (RATE, subtype, 2, len(audio))
    back, _ = soundfile.read(str(path), dtype="float64")
    assert np.abs(back).max() <= 1.0 and np.allclose(back, np.clip(audio, -1, 1), atol=2**-22)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_the_scored_video_takes_float_or_int16_samples(dtype, tmp_path):
    video = write_film(tmp_path / "film.mp4", seconds=2.0)
    music = piano(2.0)
    samples = music.astype(np.float32) / 32768 if dtype == "float32" else music
    out = mux_soundtrack(video, samples, RATE, tmp_path / "film.scored.mp4")
    with av.open(str(out)) as scored:
        assert [stream.type for stream in scored.streams] == ["video", "audio"]
        decoded = np.concatenate([frame.to_ndarray() for frame in scored.decode(audio=0)], axis=1)
    assert decoded.shape[1] / RATE == pytest.approx(2.0, abs=0.05)
    assert db(np.sqrt(np.mean(decoded**2))) == pytest.approx(db(np.sqrt(np.mean((music / 32768.0) ** 2))), abs=0.5)

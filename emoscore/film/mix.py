"""The film's deliverable sound: its own audio read onto the film's clock, the music mixed under it and ducked where
the film is loud, stem and mix brought to broadcast loudness (in `loudness`), then written as 24-bit files for a
picture editor."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import av
import numpy as np
import soundfile
from scipy.ndimage import uniform_filter1d

from emoscore.config import FilmParams
from emoscore.errors import InvalidVideo
from emoscore.film.loudness import Loudness, as_float, integrated, normalized, to_db, true_peak
from emoscore.film.video import TRUNCATION_TOLERANCE_S, _open

log = logging.getLogger(__name__)

FORMATS = {"wav": "WAV", "flac": "FLAC"}

PLACE_JITTER_S = 0.001  # a decoded frame's time this close to the end of the one before continues it

DUCK_BLOCK_S = 0.01  # the side-chain's step: level, target gain and smoothing are per 10 ms, linear in between
DUCK_WINDOW_BLOCKS = 5  # RMS over 50 ms, centred: see duck_gain
DUCK_KNEE_DB = 6.0  # the duck grows from 0 at the threshold to its full depth 6 dB above it
DUCKED_DB = 3.0  # "ducked" in the facts: the music more than 3 dB down


def film_audio(video: Path, sample_rate: int, frames: int) -> np.ndarray | None:
    """The film's own sound as float32 [frames, 2] at `sample_rate`, sample 0 at the first video frame's time (an
    audio stream that starts later or earlier is placed there), cut or padded with silence; None without audio."""
    video = Path(video)
    container = _open(video)
    end = 0.0  # where the decoded sound ends, in the stream's time
    try:
        if not container.streams.audio:
            return None
        sound, picture = container.streams.audio[0], container.streams.video[0]
        zero = float(picture.start_time * picture.time_base) if picture.start_time is not None else 0.0
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sample_rate)
        out = np.zeros((frames, 2), dtype=np.float32)
        position: int | None = None
        for decoded in container.decode(sound):
            for frame in resampler.resample(decoded):
                position = _place(out, frame, zero=zero, position=position, sample_rate=sample_rate)
            if decoded.time is not None:
                end = max(end, decoded.time + decoded.samples / decoded.sample_rate)
        for frame in resampler.resample(None):
            position = _place(out, frame, zero=zero, position=position, sample_rate=sample_rate)
        declared = float(sound.duration * sound.time_base) if sound.duration and sound.time_base else None
        start = float(sound.start_time * sound.time_base) if sound.start_time is not None and sound.time_base else 0.0
    except av.error.FFmpegError as error:
        raise InvalidVideo(video, f"its sound is damaged or cut short after {end:.2f} s ({error})") from None
    finally:
        container.close()
    if declared is not None and end < start + declared - TRUNCATION_TOLERANCE_S:
        raise InvalidVideo(
            video, f"truncated: its sound decodes to {end:.2f} s of the {start + declared:.2f} s declared"
        )
    log.info("%s: its own sound read, %.2f s of it (%d frames at %d Hz)", video, end - zero, frames, sample_rate)
    return out


def _place(out: np.ndarray, frame: av.AudioFrame, *, zero: float, position: int | None, sample_rate: int) -> int:
    """Copy a resampled frame into `out` where its time says, or right after the frame before when its time is
    missing or within PLACE_JITTER_S of there (rounded timestamps must not leave one-sample gaps); its end."""
    if frame.time is not None:
        stamped = round((frame.time - zero) * sample_rate)
        if position is None or abs(stamped - position) > PLACE_JITTER_S * sample_rate:
            position = stamped
    position = position or 0
    samples = frame.to_ndarray().T  # fltp: [2, n] → [n, 2]
    begin, stop = max(position, 0), min(position + len(samples), len(out))
    if stop > begin:
        out[begin:stop] = samples[begin - position : stop - position]
    return position + len(samples)


def duck_gain(
    film: np.ndarray,
    sample_rate: int,
    *,
    threshold_db: float,
    depth_db: float,
    attack_s: float,
    release_s: float,
) -> np.ndarray:
    """Linear gain per sample [n] for the music under the film's sound: -depth_db where the film's short-term level
    passes threshold_db (a 6 dB soft knee above it), 0 dB under it, eased by attack (falling) and release (rising).

    The level is the RMS over 50 ms centred on each 10 ms block: long enough to hold several periods of a voice's
    fundamental (no ripple at the pitch), short enough to follow syllables; centring it starts the duck 25 ms before
    the film gets loud. attack_s and release_s are the times the gain takes to go 90% of the way (a one-pole in dB,
    time constant t / ln 10), stepped per block in a small Python loop (720 000 steps for two hours, under a second).
    """
    audio = as_float(film)
    if not len(audio):
        return np.ones(0, dtype=np.float32)
    block = max(1, round(DUCK_BLOCK_S * sample_rate))
    level_db = 10 * np.log10(np.maximum(uniform_filter1d(_block_power(audio, block), DUCK_WINDOW_BLOCKS), 1e-20))
    target_db = -depth_db * np.clip((level_db - threshold_db) / DUCK_KNEE_DB, 0.0, 1.0)
    step_s = block / sample_rate
    fall, rise = math.exp(-step_s * math.log(10) / attack_s), math.exp(-step_s * math.log(10) / release_s)
    smoothed = np.empty(len(target_db), dtype=np.float64)
    gain = 0.0
    for index, target in enumerate(target_db.tolist()):
        gain = target + (fall if target < gain else rise) * (gain - target)
        smoothed[index] = gain
    ends = (10 ** (smoothed / 20)).astype(np.float32)  # each block's gain, reached at its last sample
    starts = np.r_[np.float32(1.0), ends[:-1]]
    gain = np.multiply.outer(ends - starts, np.arange(1, block + 1, dtype=np.float32) / np.float32(block))
    gain += starts[:, None]
    return gain.ravel()[: len(audio)]


def _block_power(audio: np.ndarray, block: int) -> np.ndarray:
    """Mean square over the channels and each block of `block` samples (the last one may be shorter): one pass
    over a [blocks, block × channels] view, no squared copy of the film."""
    whole = len(audio) // block
    body = np.ascontiguousarray(audio[: whole * block]).reshape(whole, -1)
    power = np.einsum("ij,ij->i", body, body).astype(np.float64) / max(body.shape[1], 1)
    if len(audio) > whole * block:
        power = np.append(power, np.mean(np.square(audio[whole * block :], dtype=np.float64)))
    return power


def mix_soundtrack(
    music: np.ndarray, film: np.ndarray | None, sample_rate: int, params: FilmParams
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(stem, mix, facts): the music at params.loudness; the film's own sound with the music params.music_under_db
    LU under it and ducked where the film is loud, at params.loudness (the music alone when the film is silent or
    has no sound); and what was measured and done. `music` is int16 or float [n, 2], `film` float [n, 2]."""
    music = as_float(music)
    if film is not None and film.shape != music.shape:
        raise ValueError(f"the film's sound is {film.shape}, the music {music.shape}: they must match")
    music_loudness = integrated(music, sample_rate)
    stem, stem_loudness = _delivered(music, sample_rate, params.loudness, loudness=music_loudness)
    film = None if film is None else as_float(film)
    film_loudness = -math.inf if film is None else integrated(film, sample_rate)
    ducked_share, max_duck_db = 0.0, 0.0
    if math.isfinite(film_loudness):
        under_db = film_loudness + params.music_under_db - music_loudness if math.isfinite(music_loudness) else 0.0
        gain = duck_gain(
            film,
            sample_rate,
            threshold_db=params.duck_threshold_db,
            depth_db=params.duck_depth_db,
            attack_s=params.duck_attack_s,
            release_s=params.duck_release_s,
        )
        ducked_share = float(np.mean(gain < 10 ** (-DUCKED_DB / 20))) if len(gain) else 0.0
        max_duck_db = float(-20 * np.log10(gain.min(initial=1.0)))
        gain *= np.float32(10 ** (under_db / 20))
        mix, mix_loudness = _delivered(film + music * gain[:, None], sample_rate, params.loudness)
        log.info(
            "mix: the film at %.1f LUFS, the music %+.1f dB to sit at %+.1f LU from it, ducked %.0f%% of the time",
            film_loudness,
            under_db,
            params.music_under_db,
            100 * ducked_share,
        )
    else:
        mix, mix_loudness = stem, stem_loudness
    facts = {
        "stem": _loudness_facts(stem_loudness),
        "mix": _loudness_facts(mix_loudness),
        "film_audio": math.isfinite(film_loudness),
        "ducked_share": round(ducked_share, 3),
        "max_duck_db": round(max_duck_db, 1),
    }
    return stem, mix, facts


def _delivered(
    audio: np.ndarray, sample_rate: int, standard: str, *, loudness: float | None = None
) -> tuple[np.ndarray, Loudness]:
    """`audio` at `standard` with its loudness (measured as it is for "none"); `loudness`: audio's, when known."""
    if standard == "none":
        integrated_lufs = integrated(audio, sample_rate) if loudness is None else loudness
        return audio, Loudness(integrated_lufs, to_db(true_peak(audio)))
    return normalized(audio, sample_rate, standard, loudness=loudness)


def _loudness_facts(loudness: Loudness) -> dict:
    """Rounded to 0.01 for a report; None for silence (JSON has no -inf)."""
    return {
        "integrated_lufs": round(loudness.integrated_lufs, 2) if math.isfinite(loudness.integrated_lufs) else None,
        "true_peak_dbtp": round(loudness.true_peak_dbtp, 2) if math.isfinite(loudness.true_peak_dbtp) else None,
    }


def write_deliverable(samples: np.ndarray, sample_rate: int, path: Path, fmt: str) -> Path:
    """Write `samples` (int16 or float, clipped to [-1, 1]) to `path` as 24-bit PCM: WAV (RF64 past 4 GiB) or FLAC."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown deliverable format {fmt!r}: one of {', '.join(FORMATS)}")
    audio = np.clip(as_float(samples), -1.0, 1.0)
    container = "RF64" if fmt == "wav" and audio.shape[0] * audio.shape[1] * 3 >= 2**32 - 1024 else FORMATS[fmt]
    soundfile.write(str(path), audio, sample_rate, subtype="PCM_24", format=container)
    log.info("%s: %.1f s at %d Hz, 24-bit %s", path, len(audio) / sample_rate, sample_rate, container)
    return path

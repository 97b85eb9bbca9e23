"""The film's deliverable sound: its own audio read onto the film's clock, the music mixed under it and ducked where
the film is loud, and the music stem and the mix brought to broadcast loudness (EBU R128 or ATSC A/85), then
written as 24-bit files for a picture editor.

pyloudnorm measures integrated loudness (ITU-R BS.1770-4); true peak and the limiter are written here (a SciPy
interpolation filter run by one numba pass, scipy.ndimage for the gain) because no maintained Python library does
BS.1770 true peak or true-peak limiting.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import numba
import numpy as np
import pyloudnorm
import soundfile
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import firwin

from emoscore.config import FilmParams
from emoscore.errors import InvalidVideo
from emoscore.film.video import TRUNCATION_TOLERANCE_S, _open

log = logging.getLogger(__name__)

STANDARDS = {"ebu_r128": (-23.0, -1.0), "atsc_a85": (-24.0, -2.0)}  # integrated LUFS/LKFS target, ceiling dBTP
FORMATS = {"wav": "WAV", "flac": "FLAC"}

OVERSAMPLE = 4  # BS.1770-4 Annex 2: true peak read on the signal oversampled 4x (enough at 48 kHz)
_TAPS = 12  # per phase, as Annex 2's example (48 taps in all)
_INTERPOLATOR = OVERSAMPLE * firwin(OVERSAMPLE * _TAPS + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0))
_CENTRE = OVERSAMPLE * _TAPS // 2  # its phase 0 is the samples themselves (a windowed sinc's zeros)
_FIRST = [-((_CENTRE + p) // OVERSAMPLE) for p in range(1, OVERSAMPLE)]  # each phase's first offset d (x[i - d])
_PHASES = np.array(
    [_INTERPOLATOR[_CENTRE + p + OVERSAMPLE * first :: OVERSAMPLE][:_TAPS] for p, first in enumerate(_FIRST, 1)],
    dtype=np.float32,
)  # [phase 1..3, tap]: the value a quarter, half and three quarters of the way from x[i] to x[i + 1]

PLACE_JITTER_S = 0.001  # a decoded frame's time this close to the end of the one before continues it

DUCK_BLOCK_S = 0.01  # the side-chain's step: level, target gain and smoothing are per 10 ms, linear in between
DUCK_WINDOW_BLOCKS = 5  # RMS over 50 ms, centred: see duck_gain
DUCK_KNEE_DB = 6.0  # the duck grows from 0 at the threshold to its full depth 6 dB above it
DUCKED_DB = 3.0  # "ducked" in the facts: the music more than 3 dB down

LIMITER_WINDOW_S = 0.01  # look-ahead of the true-peak limiter, and the length of its gain ramps
LIMITER_PASSES = 3  # a peak still over after one pass (neighbouring peaks interpolate) gets another
LIMITER_MARGIN_DB = 0.1  # the limiter aims this far under the ceiling (the 24-bit file and its decoder stay under)
LOUDNESS_TOLERANCE_LU = 0.05  # normalize re-gains until it is this close to the target
NORMALIZE_PASSES = 4


@dataclass(frozen=True)
class Loudness:
    """A programme's loudness as a delivery spec states it: integrated loudness and true peak."""

    integrated_lufs: float  # ITU-R BS.1770-4 (pyloudnorm Meter), -inf for silence
    true_peak_dbtp: float  # 4x oversampled peak (BS.1770-4 Annex 2), -inf for silence


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


def measure(samples: np.ndarray, sample_rate: int) -> Loudness:
    """Integrated loudness (BS.1770-4, gated) and true peak (4x oversampled) of int16 or float [n, channels]."""
    audio = _as_float(samples)
    return Loudness(_integrated(audio, sample_rate), _to_db(_true_peak(audio)))


def _integrated(audio: np.ndarray, sample_rate: int) -> float:
    """pyloudnorm's integrated loudness, -inf for silence; audio shorter than one 400 ms gating block is read as
    that block with silence after it."""
    if not audio.size or not np.any(audio):
        return -math.inf
    block = math.ceil(0.4 * sample_rate)
    if len(audio) < block:
        audio = np.concatenate([audio, np.zeros((block - len(audio), audio.shape[1]), audio.dtype)])
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        loudness = float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio))
    return loudness if math.isfinite(loudness) else -math.inf


def _true_peak(audio: np.ndarray) -> float:
    """Largest |value| of the 4x oversampled signal (linear, 0 for silence)."""
    return float(_peak_envelope(audio).max(initial=0.0))


def _peak_envelope(audio: np.ndarray) -> np.ndarray:
    """Per sample, the largest |value| over the channels of the 4x oversampled signal from it to the next sample."""
    envelope = np.empty(len(audio), dtype=np.float32)
    _interpolated_peaks(np.ascontiguousarray(audio, dtype=np.float32), _PHASES, -_FIRST[0], envelope)
    return envelope


@numba.njit(cache=True, nogil=True, fastmath=True)
def _interpolated_peaks(audio: np.ndarray, phases: np.ndarray, lead: int, out: np.ndarray) -> None:
    """out[i] = max over channels of |x[i]| and the three interpolated values after it, x[i + lead - k] meeting
    phases[p, k] (silence outside the signal): one compiled pass over 4096-sample blocks, each channel copied out
    contiguous so the taps run as vector instructions; SciPy would write the film oversampled three times over."""
    count, channels = audio.shape
    phase_count, taps = phases.shape
    block = 4096
    window = np.zeros(block + taps, dtype=np.float32)  # window[m] = x[start + m + lead - taps + 1]
    total = np.zeros(block, dtype=np.float32)
    for start in range(0, count, block):
        size = min(block, count - start)
        for i in range(size):
            out[start + i] = np.float32(0.0)
        for c in range(channels):
            for m in range(size + taps - 1):
                j = start + m + lead - taps + 1
                window[m] = audio[j, c] if 0 <= j < count else np.float32(0.0)
            for i in range(size):
                out[start + i] = max(out[start + i], abs(audio[start + i, c]))
            for p in range(phase_count):
                for i in range(size):
                    total[i] = np.float32(0.0)
                for k in range(taps):
                    coefficient = phases[p, k]
                    shifted = window[taps - 1 - k : taps - 1 - k + size]  # a view: plain indices, vectorised
                    for i in range(size):
                        total[i] += coefficient * shifted[i]
                for i in range(size):
                    out[start + i] = max(out[start + i], abs(total[i]))


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
    audio = _as_float(film)
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


def normalize(samples: np.ndarray, sample_rate: int, standard: str) -> np.ndarray:
    """`samples` brought to the standard's integrated loudness with their true peak under its ceiling (float32);
    "none" gives them back unchanged, and silence stays silent."""
    if standard == "none":
        return samples
    return _normalized(_as_float(samples), sample_rate, standard)[0]


def _normalized(
    audio: np.ndarray, sample_rate: int, standard: str, *, loudness: float | None = None
) -> tuple[np.ndarray, Loudness]:
    """Gain to the target, then the true-peak limiter where the peak passes the ceiling; re-measured and re-gained
    until within LOUDNESS_TOLERANCE_LU. Without limiting, the loudness follows the gain exactly (BS.1770's gates are
    relative, bar the -70 LUFS floor), so only a limited pass is measured again. `loudness`: audio's, when known."""
    if standard not in STANDARDS:
        raise ValueError(f"unknown loudness standard {standard!r}: one of {', '.join(STANDARDS)} or none")
    target, ceiling_db = STANDARDS[standard]
    loudness = _integrated(audio, sample_rate) if loudness is None else loudness
    if not math.isfinite(loudness):
        return audio, Loudness(-math.inf, -math.inf)
    ceiling = 10 ** ((ceiling_db - LIMITER_MARGIN_DB) / 20)
    gain_db, reached, out, peak = target - loudness, loudness, audio, 0.0
    for _ in range(NORMALIZE_PASSES):
        out = audio  # the last pass's copy let go before the next is made
        out, peak, limited = _limit(audio * np.float32(10 ** (gain_db / 20)), sample_rate, ceiling)
        reached = _integrated(out, sample_rate) if limited else loudness + gain_db
        if abs(target - reached) <= LOUDNESS_TOLERANCE_LU:
            break
        gain_db += target - reached
    if abs(target - reached) > 0.5:
        log.warning(
            "loudness %.2f LUFS, %.2f LU from %s's target: its peaks allow no more", reached, reached - target, standard
        )
    return out, Loudness(reached, _to_db(peak))


def _limit(audio: np.ndarray, sample_rate: int, ceiling: float) -> tuple[np.ndarray, float, bool]:
    """Look-ahead true-peak limiter, in place: the gain each sample needs to keep its 4x oversampled peak under
    `ceiling`, a sliding minimum over the window then a moving average over the same window (so every sample gets at
    most what it needs, with ramps of one window), again on its own output while a peak is still over; (audio, its
    true peak, whether it limited)."""
    envelope = _peak_envelope(audio)
    window = 2 * round(LIMITER_WINDOW_S * sample_rate / 2) + 1
    limited = False
    for _ in range(LIMITER_PASSES):
        if envelope.max(initial=0.0) <= ceiling * 1.0001:
            break
        np.maximum(envelope, np.float32(ceiling), out=envelope)
        np.divide(np.float32(ceiling), envelope, out=envelope)  # the gain each sample needs, at most 1
        gain = uniform_filter1d(minimum_filter1d(envelope, window, mode="nearest"), window, mode="nearest")
        log.debug("true-peak limiter: %.2f dB at most", -20 * np.log10(gain.min()))
        audio *= gain[:, None]
        limited = True
        del gain
        envelope = _peak_envelope(audio)
    return audio, float(envelope.max(initial=0.0)), limited


def mix_soundtrack(
    music: np.ndarray, film: np.ndarray | None, sample_rate: int, params: FilmParams
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(stem, mix, facts): the music at params.loudness; the film's own sound with the music params.music_under_db
    LU under it and ducked where the film is loud, at params.loudness (the music alone when the film is silent or
    has no sound); and what was measured and done. `music` is int16 or float [n, 2], `film` float [n, 2]."""
    music = _as_float(music)
    if film is not None and film.shape != music.shape:
        raise ValueError(f"the film's sound is {film.shape}, the music {music.shape}: they must match")
    music_loudness = _integrated(music, sample_rate)
    stem, stem_loudness = _delivered(music, sample_rate, params.loudness, loudness=music_loudness)
    film = None if film is None else _as_float(film)
    film_loudness = -math.inf if film is None else _integrated(film, sample_rate)
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
        integrated = _integrated(audio, sample_rate) if loudness is None else loudness
        return audio, Loudness(integrated, _to_db(_true_peak(audio)))
    return _normalized(audio, sample_rate, standard, loudness=loudness)


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
    audio = np.clip(_as_float(samples), -1.0, 1.0)
    container = "RF64" if fmt == "wav" and audio.shape[0] * audio.shape[1] * 3 >= 2**32 - 1024 else FORMATS[fmt]
    soundfile.write(str(path), audio, sample_rate, subtype="PCM_24", format=container)
    log.info("%s: %.1f s at %d Hz, 24-bit %s", path, len(audio) / sample_rate, sample_rate, container)
    return path


def _as_float(samples: np.ndarray) -> np.ndarray:
    """float32 [n, channels]: int16 scaled by 1/32768, floats as they are."""
    if samples.dtype == np.int16:
        audio = samples.astype(np.float32) / np.float32(32768)
    elif np.issubdtype(samples.dtype, np.floating):
        audio = samples.astype(np.float32, copy=False)
    else:
        raise ValueError(f"audio samples must be int16 or float, not {samples.dtype}")
    return audio.reshape(len(audio), -1)


def _to_db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf

"""Broadcast loudness (EBU R128, ATSC A/85): a programme's integrated loudness and true peak measured, and audio
brought to a standard's target under its true-peak ceiling.

pyloudnorm measures integrated loudness (ITU-R BS.1770-4); true peak and the limiter are written here (a SciPy
interpolation filter run by one numba pass, scipy.ndimage for the gain) because no maintained Python library does
BS.1770 true peak or true-peak limiting.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numba
import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import firwin

log = logging.getLogger(__name__)

STANDARDS = {"ebu_r128": (-23.0, -1.0), "atsc_a85": (-24.0, -2.0)}  # integrated LUFS/LKFS target, ceiling dBTP

OVERSAMPLE = 4  # BS.1770-4 Annex 2: true peak read on the signal oversampled 4x (enough at 48 kHz)
_TAPS = 12  # per phase, as Annex 2's example (48 taps in all)
_INTERPOLATOR = OVERSAMPLE * firwin(OVERSAMPLE * _TAPS + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0))
_CENTRE = OVERSAMPLE * _TAPS // 2  # its phase 0 is the samples themselves (a windowed sinc's zeros)
_FIRST = [-((_CENTRE + p) // OVERSAMPLE) for p in range(1, OVERSAMPLE)]  # each phase's first offset d (x[i - d])
_PHASES = np.array(
    [_INTERPOLATOR[_CENTRE + p + OVERSAMPLE * first :: OVERSAMPLE][:_TAPS] for p, first in enumerate(_FIRST, 1)],
    dtype=np.float32,
)  # [phase 1..3, tap]: the value a quarter, half and three quarters of the way from x[i] to x[i + 1]

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


def measure(samples: np.ndarray, sample_rate: int) -> Loudness:
    """Integrated loudness (BS.1770-4, gated) and true peak (4x oversampled) of int16 or float [n, channels]."""
    audio = as_float(samples)
    return Loudness(integrated(audio, sample_rate), to_db(true_peak(audio)))


def integrated(audio: np.ndarray, sample_rate: int) -> float:
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


def true_peak(audio: np.ndarray) -> float:
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


def normalize(samples: np.ndarray, sample_rate: int, standard: str) -> np.ndarray:
    """`samples` brought to the standard's integrated loudness with their true peak under its ceiling (float32);
    "none" gives them back unchanged, and silence stays silent."""
    if standard == "none":
        return samples
    return normalized(as_float(samples), sample_rate, standard)[0]


def normalized(
    audio: np.ndarray, sample_rate: int, standard: str, *, loudness: float | None = None
) -> tuple[np.ndarray, Loudness]:
    """Gain to the target, then the true-peak limiter where the peak passes the ceiling; re-measured and re-gained
    until within LOUDNESS_TOLERANCE_LU. Without limiting, the loudness follows the gain exactly (BS.1770's gates are
    relative, bar the -70 LUFS floor), so only a limited pass is measured again. `loudness`: audio's, when known."""
    if standard not in STANDARDS:
        raise ValueError(f"unknown loudness standard {standard!r}: one of {', '.join(STANDARDS)} or none")
    target, ceiling_db = STANDARDS[standard]
    loudness = integrated(audio, sample_rate) if loudness is None else loudness
    if not math.isfinite(loudness):
        return audio, Loudness(-math.inf, -math.inf)
    ceiling = 10 ** ((ceiling_db - LIMITER_MARGIN_DB) / 20)
    gain_db, reached, out, peak = target - loudness, loudness, audio, 0.0
    for _ in range(NORMALIZE_PASSES):
        out = audio  # the last pass's copy let go before the next is made
        out, peak, limited = _limit(audio * np.float32(10 ** (gain_db / 20)), sample_rate, ceiling)
        reached = integrated(out, sample_rate) if limited else loudness + gain_db
        if abs(target - reached) <= LOUDNESS_TOLERANCE_LU:
            break
        gain_db += target - reached
    if abs(target - reached) > 0.5:
        log.warning(
            "loudness %.2f LUFS, %.2f LU from %s's target: its peaks allow no more", reached, reached - target, standard
        )
    return out, Loudness(reached, to_db(peak))


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


def as_float(samples: np.ndarray) -> np.ndarray:
    """float32 [n, channels]: int16 scaled by 1/32768, floats as they are."""
    if samples.dtype == np.int16:
        audio = samples.astype(np.float32) / np.float32(32768)
    elif np.issubdtype(samples.dtype, np.floating):
        audio = samples.astype(np.float32, copy=False)
    else:
        raise ValueError(f"audio samples must be int16 or float, not {samples.dtype}")
    return audio.reshape(len(audio), -1)


def to_db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf

"""How close the note-bank render is to FluidSynth's own render of the same MIDI file.

Two measures per piece: the signal-to-residual ratio (dB; waveform identity, the strictest test there is) and the
log-mel spectral distance (mean absolute difference of 64-band log-mel spectra in dB over frames with sound: what a
listener's ear compares). Each is reported with the reverb (as a user hears it) and without (the notes alone: the
bank's own modelling), and next to the same measures between two FluidSynth renders of the file started 1.45 s apart
in the synthesizer's life: FluidSynth's reverb modulates its delay lines, so its own output varies that much.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import scipy.signal

from emoscore.music.bank import NoteBank
from emoscore.music.overlap import render_piece, to_int16
from emoscore.music.playback import BLOCK, schedule
from emoscore.music.render import Synthesizer

LATE_BLOCKS = 1000  # 1.45 s at 44.1 kHz: how much later the second FluidSynth render starts
MEL_BANDS = 64
FLOOR_DB = -80.0  # spectra are floored this far below their loudest value, and at 16-bit dither


class _FluidSynth(Synthesizer):
    """FluidSynth as `render.Synthesizer` plays a file, optionally without reverb, or started later in its life."""

    def __init__(self, soundfont: Path, sample_rate: int, reverb: bool = True, late_blocks: int = 0) -> None:
        self.reverb, self.late_blocks = reverb, late_blocks
        super().__init__(soundfont, sample_rate)

    def _new_synth(self):
        synth = super()._new_synth()
        synth.setting("synth.reverb.active", int(self.reverb))
        if self.late_blocks:
            synth.get_samples(self.late_blocks * BLOCK)
        return synth


def signal_to_residual(reference: np.ndarray, other: np.ndarray) -> float:
    """10·log10(|reference|² / |reference − other|²) over their common length, in dB."""
    n = min(len(reference), len(other))
    a, b = reference[:n].astype(np.float64), other[:n].astype(np.float64)
    return float(10 * np.log10(max((a * a).sum(), 1e-12) / max(((a - b) ** 2).sum(), 1e-12)))


@functools.cache
def _mel_filters(sample_rate: int, size: int) -> np.ndarray:
    """Triangular mel filters [bands, bins] (the HTK mel scale), written out: no audio library is a dependency."""
    mel = np.linspace(0, 2595 * np.log10(1 + (sample_rate / 2) / 700), MEL_BANDS + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    bins = np.fft.rfftfreq(size, 1 / sample_rate)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((bins - low) / (centre - low), (high - bins) / (high - centre)))


def log_mel_distance(reference: np.ndarray, other: np.ndarray, sample_rate: int) -> float:
    """Mean |log-mel(reference) − log-mel(other)| in dB over the frames where the reference sounds."""
    n = min(len(reference), len(other))
    powers = [_mel_power(audio[:n].astype(np.float64).mean(axis=1), sample_rate) for audio in (reference, other)]
    # below 16-bit dither (FluidSynth dithers its output, the bank does not) or 80 dB under the loudest, nothing
    # is heard: both spectra are floored there
    floor = np.maximum(powers[0].max() * 10 ** (FLOOR_DB / 10), _dither_floor(sample_rate)[:, None])
    spectra = [10 * np.log10(np.maximum(power, floor)) for power in powers]
    loud = (powers[0] > floor).any(axis=0)
    return float(np.abs(spectra[0] - spectra[1])[:, loud].mean())


def _mel_power(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    _, _, stft = scipy.signal.stft(mono, sample_rate, nperseg=2048, noverlap=1536)
    return _mel_filters(sample_rate, 2048) @ (np.abs(stft) ** 2)


@functools.cache
def _dither_floor(sample_rate: int) -> np.ndarray:
    """Mean mel power of triangular dither of ±1 level (16-bit output's noise floor) in each band."""
    noise = np.random.default_rng(0).triangular(-1, 0, 1, sample_rate * 2)
    return _mel_power(noise, sample_rate).mean(axis=1)


def compare(midi: Path, bank: NoteBank, soundfont: Path) -> dict[str, float]:
    """The bank's render of a MIDI file against FluidSynth's: with and without reverb, and FluidSynth's own spread."""
    rate = bank.sample_rate
    piece = schedule(midi, rate)
    wet, late = _FluidSynth(soundfont, rate), _FluidSynth(soundfont, rate, late_blocks=LATE_BLOCKS)
    dry = _FluidSynth(soundfont, rate, reverb=False)
    reference, reference_dry, reference_late = wet.samples(midi), dry.samples(midi), late.samples(midi)
    ours = to_int16(render_piece(bank, piece))
    ours_dry = to_int16(render_piece(dataclasses.replace(bank, reverb=np.zeros((1, 2), np.float32)), piece))
    return {
        "notes": len(piece),
        "seconds": len(reference) / rate,
        "srr_db": signal_to_residual(reference, ours),
        "srr_dry_db": signal_to_residual(reference_dry, ours_dry),
        "srr_fluidsynth_late_db": signal_to_residual(reference, reference_late),
        "log_mel_db": log_mel_distance(reference, ours, rate),
        "log_mel_dry_db": log_mel_distance(reference_dry, ours_dry, rate),
        "log_mel_fluidsynth_late_db": log_mel_distance(reference, reference_late, rate),
        "length_difference_s": (len(ours) - len(reference)) / rate,
    }

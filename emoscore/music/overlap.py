"""A piece rendered from the note bank: each note's held sound overlap-added where FluidSynth's player sounds it,
enveloped by its release after the note-off, then one reverb pass over the sum.

NumPy on the CPU (one piece at a time: a slice-add per note beats any scatter there); torch on `score.device`, where
a chunk's pieces go together: every note sample is one element of a scatter-add, and the reverb one batched FFT.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import scipy.fft

from emoscore.music.bank import VOICE_VELOCITIES, NoteBank
from emoscore.music.playback import BLOCK, STOP_GRACE_S, Schedule, _msec

CHUNK = 512  # the FluidSynth renderer reads its player in chunks of this many frames and stops after the last


def _notes(bank: NoteBank, piece: Schedule) -> dict[str, np.ndarray]:
    """Per note: bank row, gain, start in the bank, hold and sounding length (samples), and its release curve."""
    rows = bank.key_index(piece.keys)
    velocities = np.clip(piece.velocities, 1, 127)
    anchors = bank.anchor_of[rows, velocities]
    hold = np.clip(piece.off - piece.on, BLOCK, bank.holds[-1])
    # release gains after this hold: interpolated between the two measured holds around it, in log amplitude
    upper = np.clip(np.searchsorted(bank.holds, hold), 1, len(bank.holds) - 1)
    lower = upper - 1
    weight = ((hold - bank.holds[lower]) / (bank.holds[upper] - bank.holds[lower])).clip(0, 1)[:, None]
    low, high = bank.release[rows, lower], bank.release[rows, upper]
    rate = _by_velocity(velocities, bank.release_rate[rows])
    log_curve = (1 - weight) * np.log(np.maximum(low, 1e-7)) + weight * np.log(np.maximum(high, 1e-7))
    curve = np.exp(rate[:, None] * log_curve)
    curve[(low == 0) | (high == 0) | (curve < 1e-5)] = 0.0
    sounding = np.where(curve > 0, np.arange(curve.shape[1]) + 1, 0).max(axis=1) * BLOCK
    length = np.minimum(hold + sounding, bank.lengths[rows, anchors])
    voice = np.maximum(bank.voice_end[rows, lower], bank.voice_end[rows, upper])
    # a louder note's voice outlasts its note-off longer: shifted between the velocities measured
    voice = (voice + _by_velocity(velocities, bank.voice_shift[rows])).astype(np.int64) * BLOCK
    return {
        "on": piece.on,
        "start": bank.starts[rows, anchors],
        "gain": bank.gain_of[rows, velocities],
        "hold": np.minimum(hold, length),
        "length": length,
        "curve": curve.astype(np.float32),
        "voice_end": piece.on + np.clip(piece.off - piece.on, BLOCK, None) + voice,
    }


def _by_velocity(velocities: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Each row of `table` (values at VOICE_VELOCITIES) read at its note's velocity, linearly in between."""
    probes = np.array(VOICE_VELOCITIES, dtype=np.float64)
    upper = np.clip(np.searchsorted(probes, velocities), 1, len(probes) - 1)
    weight = ((velocities - probes[upper - 1]) / (probes[upper] - probes[upper - 1])).clip(0, 1)
    rows = np.arange(len(velocities))
    return (1 - weight) * table[rows, upper - 1] + weight * table[rows, upper]


def piece_length(bank: NoteBank, piece: Schedule, notes: dict[str, np.ndarray]) -> int:
    """Frames FluidSynth's renderer writes: until the last voice ends, 2 s of grace, to the end of that chunk."""
    voices_end = max(int(notes["voice_end"].max(initial=0)), piece.last_event)
    blocks = np.arange(voices_end // BLOCK, voices_end // BLOCK + int(STOP_GRACE_S * bank.sample_rate) // BLOCK + 64)
    msec = _msec(blocks, bank.sample_rate)
    done = int(blocks[np.searchsorted(msec, msec[0] + round(STOP_GRACE_S * 1000))])
    return (done * BLOCK // CHUNK + 1) * CHUNK


@numba.njit(cache=True, nogil=True, fastmath=True)
def _mix(
    out: np.ndarray,
    audio: np.ndarray,
    on: np.ndarray,
    start: np.ndarray,
    hold: np.ndarray,
    length: np.ndarray,
    gain: np.ndarray,
    curve: np.ndarray,
) -> None:
    """Add every note's sound into `out` in one pass: held at its gain, then enveloped by its release, whose gain
    is each block's at the block's middle and linear in between (FluidSynth ramps its amplitude across a block)."""
    blocks = curve.shape[1]
    for i in range(on.shape[0]):
        o, s, h, g = on[i], start[i], hold[i], gain[i]
        for t in range(h):
            out[o + t, 0] += g * audio[s + t, 0]
            out[o + t, 1] += g * audio[s + t, 1]
        for t in range(h, length[i]):
            x = (t - h - BLOCK / 2) / BLOCK
            if x < 0:
                envelope = curve[i, 0] + (-x) * (1.0 - curve[i, 0])  # from 1 at the previous block's middle
            else:
                j = int(x)
                envelope = curve[i, j] if j + 1 >= blocks else curve[i, j] + (x - j) * (curve[i, j + 1] - curve[i, j])
            envelope *= g
            out[o + t, 0] += envelope * audio[s + t, 0]
            out[o + t, 1] += envelope * audio[s + t, 1]


def render_piece(bank: NoteBank, piece: Schedule) -> np.ndarray:
    """float32 frames [n, 2] on FluidSynth's int16 scale, the reverb added; n as FluidSynth's renderer writes."""
    notes = _notes(bank, piece)
    total = piece_length(bank, piece, notes)
    out = np.zeros((total + bank.release_samples + int(bank.holds[-1]), 2), np.float32)
    _mix(
        out,
        bank.audio,
        notes["on"],
        notes["start"],
        notes["hold"],
        notes["length"],
        notes["gain"].astype(np.float32),
        notes["curve"],
    )
    out = out[:total]
    out += reverberate(out[:, 0] + out[:, 1], bank.reverb)
    return out


def reverberate(send: np.ndarray, response: np.ndarray) -> np.ndarray:
    """The reverb's output [n, 2] for a mono send: one FFT of the send, one inverse per channel, in float32."""
    # sizes rounded up to a multiple of 2^17 (3 s), so that the response's spectrum is reused from piece to piece
    size = scipy.fft.next_fast_len(-(-(len(send) + len(response)) // 131072) * 131072, real=True)
    spectrum = scipy.fft.rfft(send.astype(np.float32), size)
    return scipy.fft.irfft(spectrum * _kernel(response, size), size)[:, : len(send)].T


_KERNELS: dict[tuple[int, int], np.ndarray] = {}


def _kernel(response: np.ndarray, size: int) -> np.ndarray:
    """The response's spectrum [2, bins] at an FFT size, kept (a few sizes cover every piece of a run)."""
    key = (id(response), size)
    if key not in _KERNELS:
        if len(_KERNELS) > 16:
            _KERNELS.clear()
        _KERNELS[key] = scipy.fft.rfft(np.ascontiguousarray(response.T, np.float32), size)  # [2, bins]
    return _KERNELS[key]


def render_pieces(bank: NoteBank, pieces: Sequence[Schedule], device: str = "cpu") -> list[np.ndarray]:
    """Render several pieces: NumPy one by one on the CPU, or together with torch on a GPU device."""
    if str(device) == "auto":
        from emoscore.device import pick_device

        device = str(pick_device("auto"))
    if not str(device).startswith("cuda") or not pieces:
        return [render_piece(bank, piece) for piece in pieces]
    from emoscore.music.overlap_torch import render_together

    return render_together(bank, pieces, device)


def to_int16(frames: np.ndarray) -> np.ndarray:
    """Frames on the int16 scale, rounded and clipped as FluidSynth's 16-bit output is."""
    return np.clip(np.rint(frames), -32768, 32767).astype(np.int16)

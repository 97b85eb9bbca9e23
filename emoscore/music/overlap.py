"""A piece rendered from the note bank: each note's held sound overlap-added where FluidSynth's player sounds it,
enveloped by its release after the note-off, then one reverb pass over the sum.

On the CPU one piece at a time: a vectorized numba slice-add per note (it beats any scatter there), and the reverb
by overlap-add of 2^18-sample FFT blocks with torch's FFT on the calling thread, the response cut where its fit
reaches its noise floor; torch on `score.device`, where a chunk's pieces go together: every note sample is one
element of a scatter-add, and the reverb one batched FFT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numba
import numpy as np
import torch

from emoscore.music.bank import NoteBank
from emoscore.music.playback import BLOCK, STOP_GRACE_S, Schedule, _msec

T = TypeVar("T")

CHUNK = 512  # the FluidSynth renderer reads its player in chunks of this many frames and stops after the last
REVERB_FFT = 1 << 18  # the reverb's FFT blocks: long next to the response, yet quick to transform (measured)
REVERB_KEEP_S = 1.0  # the fitted response past this is the fit's noise floor, flat at ~-33 dB: not played
REVERB_FADE_S = 0.1  # and is faded out over this much before it


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
    rate = _by_velocity(velocities, bank.voice_velocities, bank.release_rate[rows])
    curve, sounding = _release_curves(_log_release(bank), rows, lower, weight[:, 0], rate)
    length = np.minimum(hold + sounding, bank.lengths[rows, anchors])
    voice = np.maximum(bank.voice_end[rows, lower], bank.voice_end[rows, upper])
    # a louder note's voice outlasts its note-off longer: shifted between the velocities measured
    voice = (voice + _by_velocity(velocities, bank.voice_velocities, bank.voice_shift[rows])).astype(np.int64) * BLOCK
    return {
        "on": piece.on,
        "start": bank.starts[rows, anchors],
        "gain": bank.gain_of[rows, velocities],
        "hold": np.minimum(hold, length),
        "length": length,
        "curve": curve,
        "voice_end": piece.on + np.clip(piece.off - piece.on, BLOCK, None) + voice,
    }


_DERIVED: dict[tuple[str, int], tuple[object, object]] = {}


def _derived(kind: str, source: np.ndarray, make: Callable[[], T]) -> T:
    """`make()`, kept for as long as `source` is the array it was made from (a few per process)."""
    key = (kind, id(source))
    if key not in _DERIVED or _DERIVED[key][0] is not source:
        if len(_DERIVED) > 16:
            _DERIVED.clear()
        _DERIVED[key] = (source, make())
    return _DERIVED[key][1]


def _log_release(bank: NoteBank) -> np.ndarray:
    """The bank's release gains in log amplitude (floored at 1e-7; -inf where the voice has ended)."""

    def make() -> np.ndarray:
        logs = np.log(np.maximum(bank.release, 1e-7)).astype(np.float32)
        logs[bank.release == 0] = -np.inf
        return logs

    return _derived("log release", bank.release, make)


@numba.njit(cache=True, nogil=True)
def _release_curves(
    logs: np.ndarray, rows: np.ndarray, lower: np.ndarray, weight: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each note's release gain per block, between the measured holds `lower` and `lower + 1` in log amplitude and
    sped up by its velocity's `rate` (0 once either has ended or below 1e-5), and its sounding samples."""
    curve = np.zeros((rows.shape[0], logs.shape[2]), np.float32)
    sounding = np.zeros(rows.shape[0], np.int64)
    for i in range(rows.shape[0]):
        w = weight[i]
        for b in range(logs.shape[2]):
            low, high = logs[rows[i], lower[i], b], logs[rows[i], lower[i] + 1, b]
            if low == -np.inf or high == -np.inf:
                continue
            value = np.exp(rate[i] * ((1 - w) * low + w * high))
            if value >= 1e-5:
                curve[i, b] = value
                sounding[i] = (b + 1) * BLOCK
    return curve, sounding


def _by_velocity(velocities: np.ndarray, measured: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Each row of `table` (values at the `measured` velocities) read at its note's velocity, linearly in between."""
    probes = np.asarray(measured, dtype=np.float64)
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
    """Add every note's sound into `out` (frames flattened, left and right interleaved) in one pass: held at its
    gain, then enveloped by its release, linear between the gains of its blocks' middles (FluidSynth ramps its
    amplitude across a block) and from 1 half a block before the first middle."""
    blocks = curve.shape[1]
    for i in range(on.shape[0]):
        o, s, h, g, n = 2 * on[i], 2 * start[i], hold[i], gain[i], length[i]
        target, source = out[o : o + 2 * h], audio[s : s + 2 * h]  # slices, so that the loops vectorize
        for k in range(2 * h):
            target[k] += g * source[k]
        # the release, one straight piece at a time: before the first block's middle, then middle to middle
        t0, j = h, -1
        while t0 < n:
            if j < 0:
                t1 = h + BLOCK // 2
                level = curve[i, 0] + 0.5 * (1.0 - curve[i, 0])
                slope = (curve[i, 0] - 1.0) / BLOCK
            elif j + 1 < blocks:
                t1 = h + BLOCK // 2 + (j + 1) * BLOCK
                level = curve[i, j]
                slope = (curve[i, j + 1] - curve[i, j]) / BLOCK
            else:
                t1, level, slope = n, curve[i, j], 0.0
            t1 = min(t1, n)
            level, slope = level * g, slope * g
            target, source = out[o + 2 * t0 : o + 2 * t1], audio[s + 2 * t0 : s + 2 * t1]
            for k in range(2 * (t1 - t0)):
                target[k] += (level + (k >> 1) * slope) * source[k]
            t0, j = t1, j + 1


@numba.njit(cache=True, nogil=True)
def _sends(frames: np.ndarray, blocks: np.ndarray, hop: int) -> None:
    """The mono send (left + right) of `frames` (flattened) cut into `blocks` rows of `hop` samples (the rest of
    each row stays zero)."""
    for b in range(blocks.shape[0]):
        source = frames[2 * b * hop : 2 * (b + 1) * hop]
        target = blocks[b]
        for t in range(source.shape[0] // 2):
            target[t] = source[2 * t] + source[2 * t + 1]


@numba.njit(cache=True, nogil=True)
def _overlap_add(frames: np.ndarray, wet: np.ndarray, hop: int) -> None:
    """Add each block's reverb [blocks, 2, size] into `frames` (flattened) at its block's start."""
    for b in range(wet.shape[0]):
        target = frames[2 * b * hop : 2 * (b * hop + wet.shape[2])]
        left, right = wet[b, 0], wet[b, 1]
        for t in range(target.shape[0] // 2):
            target[2 * t] += left[t]
            target[2 * t + 1] += right[t]


def render_piece(bank: NoteBank, piece: Schedule) -> np.ndarray:
    """float32 frames [n, 2] on FluidSynth's int16 scale, the reverb added; n as FluidSynth's renderer writes."""
    notes = _notes(bank, piece)
    total = piece_length(bank, piece, notes)
    sounding = int((notes["on"] + notes["length"]).max(initial=0))  # the last note's sound ends here
    out = np.zeros((max(total, sounding), 2), np.float32)
    _mix(
        out.reshape(-1),
        bank.audio.reshape(-1),
        notes["on"],
        notes["start"],
        notes["hold"],
        notes["length"],
        notes["gain"].astype(np.float32),
        notes["curve"],
    )
    out = out[:total]
    reverberate(out, reverb_response(bank), sounding)
    return out


def reverb_response(bank: NoteBank) -> np.ndarray:
    """The bank's reverb response [M, 2] as played: its first REVERB_KEEP_S, the last REVERB_FADE_S faded out."""

    def make() -> np.ndarray:
        keep, fade = round(REVERB_KEEP_S * bank.sample_rate), round(REVERB_FADE_S * bank.sample_rate)
        response = np.array(bank.reverb[:keep], np.float32)
        if len(response) == keep:
            response[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)[:, None]
        return response

    return _derived("response", bank.reverb, make)


def reverberate(frames: np.ndarray, response: np.ndarray, sounding: int | None = None) -> None:
    """Add to `frames` [n, 2] the reverb of their mono send (silent from `sounding` on, when given): overlap-add of
    FFT blocks of REVERB_FFT samples, one batched FFT of the send's blocks and one inverse per channel, in float32
    on this thread's torch."""
    if not frames.flags.c_contiguous:
        raise ValueError("reverberate adds in place: frames must be C-contiguous")
    sounding = len(frames) if sounding is None else min(sounding, len(frames))
    if sounding <= 0:
        return
    # one block for a short piece; never so short a block that the response's tail is most of it
    wanted = max(min(REVERB_FFT, len(frames) + len(response) - 1), 2 * len(response))
    size = 1 << int(np.ceil(np.log2(wanted)))
    hop = size - len(response) + 1
    sends = np.zeros((-(-sounding // hop), size), np.float32)
    _sends(frames[:sounding].reshape(-1), sends, hop)
    spectra = torch.fft.rfft(torch.from_numpy(sends))
    wet = torch.fft.irfft(spectra[:, None, :] * _kernel(response, size)[None], size)
    _overlap_add(frames.reshape(-1), wet.numpy(), hop)


def _kernel(response: np.ndarray, size: int) -> torch.Tensor:
    """The response's spectrum [2, bins] at an FFT size (one or two sizes cover every piece of a run)."""
    return _derived(
        f"spectrum {size}",
        response,
        lambda: torch.fft.rfft(torch.from_numpy(np.ascontiguousarray(response.T, np.float32)), size),
    )


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
    out = np.empty(frames.shape, np.int16)
    _round_clip(np.ascontiguousarray(frames).reshape(-1), out.reshape(-1))
    return out


@numba.njit(cache=True, nogil=True)
def _round_clip(frames: np.ndarray, out: np.ndarray) -> None:
    """`out` = `frames` rounded half to even and clipped to int16, in one pass."""
    for i in range(frames.shape[0]):
        out[i] = min(max(np.rint(frames[i]), np.float32(-32768.0)), np.float32(32767.0))

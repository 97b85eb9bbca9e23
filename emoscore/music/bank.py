"""The note bank `overlap` plays from: a SoundFont's piano rendered once, note by note, by FluidSynth itself
(`bank_build`), stored and loaded.

A solo-piano piece is a sum of notes, and each note's sound depends only on its key, its velocity and when it is
released; FluidSynth's reverb is a linear filter on the sum. So the bank keeps, per key: the note held (dry) at a
few anchor velocities, the gain and anchor that give every other velocity (measured against FluidSynth's own render
of it, so the SoundFont's velocity layers and curves are what they are), and the gain its release envelope applies,
block by block, after a note-off at several hold times; plus the reverb's impulse response, fitted by least squares
to FluidSynth's wet minus dry renders. The audio is stored as FLAC (each note scaled to its own peak), the rest in an
.npz of plain arrays (never a pickle).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import soundfile

from emoscore.digests import file_sha256
from emoscore.music.playback import BLOCK
from emoscore.music.render import RenderUnavailable

log = logging.getLogger(__name__)

FORMAT = 5
KEYS = np.arange(21, 109)  # the 88 piano keys: the CP vocabulary's range
DECODED_NOTES = "notes.f32.npy"  # the FLAC decoded once, for memory-mapping (see `_notes`)


@dataclass(frozen=True)
class NoteBank:
    """Everything a piece needs to be rendered without FluidSynth, at one sample rate."""

    sample_rate: int
    anchors: np.ndarray  # [A] anchor velocities
    starts: np.ndarray  # [K, A] where each held note begins in `audio`
    lengths: np.ndarray  # [K, A] its length in samples
    audio: np.ndarray  # [N, 2] float32: every held note, one after another
    anchor_of: np.ndarray  # [K, 128] which anchor plays each velocity
    gain_of: np.ndarray  # [K, 128] and at what gain
    holds: np.ndarray  # [H] hold times (samples, block starts) the release gains were measured after
    release: np.ndarray  # [K, H, B] float32 gain per block after a note-off, 0 once the voice has ended
    voice_end: np.ndarray  # [K, H] blocks after a note-off until FluidSynth's voice ended (the player waits for it)
    voice_velocities: np.ndarray  # [V] the velocities the release was measured at (`_voice_velocities`)
    voice_shift: np.ndarray  # [K, V] and how much longer (blocks) at those velocities than at the loudest anchor
    release_rate: np.ndarray  # [K, V] the release's speed in dB at those velocities, relative to the loudest anchor's
    reverb: np.ndarray  # [M, 2] float32: the reverb's response (left, right) to the dry left + right

    def key_index(self, keys: np.ndarray) -> np.ndarray:
        """Row of each MIDI key (keys outside the piano are clipped to its ends, as the CP vocabulary drops them)."""
        return np.clip(np.asarray(keys) - KEYS[0], 0, len(KEYS) - 1)

    @property
    def release_samples(self) -> int:
        return self.release.shape[-1] * BLOCK

    def save(self, folder: Path, meta: dict) -> None:
        """Write the bank to `folder` atomically: notes.flac, arrays.npz, bank.json."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            peaks = np.zeros(self.starts.shape, dtype=np.float32)
            scaled = np.zeros_like(self.audio)
            for index in np.ndindex(*self.starts.shape):
                piece = slice(self.starts[index], self.starts[index] + self.lengths[index])
                peaks[index] = max(float(np.abs(self.audio[piece]).max(initial=0.0)), 1e-9)
                scaled[piece] = self.audio[piece] / peaks[index]
            soundfile.write(work / "notes.flac", np.clip(scaled, -1, 1), self.sample_rate, subtype="PCM_16")
            arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("audio", "sample_rate")}
            np.savez(work / "arrays.npz", peaks=peaks, **arrays)
            (work / "bank.json").write_text(
                json.dumps({"format": FORMAT, "sample_rate": self.sample_rate, **meta}, indent=1) + "\n"
            )
            if folder.exists():
                shutil.rmtree(folder)
            work.rename(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> NoteBank:
        """Read a bank `save` wrote (RenderUnavailable naming the folder when it is not one)."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "bank.json").read_text())
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')}, expected {FORMAT}")
            with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            peaks = arrays.pop("peaks")
            audio, rate = _notes(folder, peaks, arrays["starts"], arrays["lengths"])
        except (OSError, ValueError, KeyError, soundfile.LibsndfileError) as error:
            raise RenderUnavailable(f"{folder}: not a readable note bank ({error})") from error
        return cls(sample_rate=int(rate), audio=audio, **arrays)


def _notes(folder: Path, peaks: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, int]:
    """The bank's notes as float32 at their own levels, memory-mapped read-only from the decoded copy beside the
    FLAC, which the first load writes: decoding ~600 s of FLAC cost every process that loaded the bank 0.5–1 s
    (each scoring worker, at start) and its own ~200 MB, where a mapped file is read once and shared."""
    info = soundfile.info(str(folder / "notes.flac"))
    decoded = folder / DECODED_NOTES
    try:
        audio = np.load(decoded, mmap_mode="r", allow_pickle=False)
        if audio.shape == (info.frames, info.channels) and audio.dtype == np.float32:
            return audio, info.samplerate
    except (OSError, ValueError):
        pass
    audio, rate = soundfile.read(folder / "notes.flac", dtype="float32", always_2d=True)
    for index in np.ndindex(*peaks.shape):
        start, length = starts[index], lengths[index]
        audio[start : start + length] *= peaks[index]
    temporary = folder / f".{DECODED_NOTES}.{os.getpid()}-{threading.get_ident()}.tmp"  # one per writer
    try:
        with temporary.open("wb") as handle:
            np.save(handle, audio, allow_pickle=False)
        temporary.replace(decoded)
    except OSError as error:  # a bank folder we may not write to: decoded in memory every time, as before
        log.debug("could not keep the decoded notes of %s: %s", folder, error)
        temporary.unlink(missing_ok=True)
    return audio, rate


def bank_folder(soundfont: Path, sample_rate: int, cache: Path) -> Path:
    """Where the bank of a SoundFont (by its SHA-256) at a sample rate is kept, in this version's format (so an older
    emoscore sharing the cache keeps its own)."""
    digest, _ = file_sha256(Path(soundfont))
    return Path(cache) / f"notebank-{digest[:16]}-{sample_rate}-v{FORMAT}"

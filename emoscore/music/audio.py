"""A piece's audio, whichever engine plays it: the note bank (default) or FluidSynth, then encoded by extension.

Every caller (scoring, `generate`, the film soundtrack, the listening page, `emoscore render`) comes here, so the
engine, the bank's cache and the encoders are chosen in one place. A file that cannot be rendered costs only its
own audio: `render_many` hands back the error in its place.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from emoscore.cache import default_cache
from emoscore.config import RenderParams
from emoscore.music.bank import FORMAT as BANK_FORMAT
from emoscore.music.bank import NoteBank, bank_folder
from emoscore.music.bank_build import build_bank
from emoscore.music.overlap import render_pieces, to_int16
from emoscore.music.playback import schedule
from emoscore.music.render import (
    OPUS_RATE,
    RenderUnavailable,
    _fluidsynth,
    audio_type,
    find_soundfont,
    fluidsynth_library,
    synthesizer,
    write_audio,
)
from emoscore.progress import Progress

log = logging.getLogger(__name__)


def rate_for(audio_path: Path, render: RenderParams) -> int:
    """The sample rate a file is rendered at: Opus is 48 kHz only, everything else `render.sample_rate`."""
    return OPUS_RATE if Path(audio_path).suffix.lower() == ".opus" else render.sample_rate


@functools.cache
def note_bank(
    soundfont: Path | None, sample_rate: int, cache: Path, *, given: Path | None = None, progress: bool = False
) -> NoteBank:
    """This process's bank: the folder given, else the cached one for the SoundFont and rate, built on first use
    (one process builds while the others on this machine wait for it)."""
    if given is not None:
        bank = NoteBank.load(given)
        if bank.sample_rate != sample_rate:
            raise RenderUnavailable(f"{given}: a {bank.sample_rate} Hz bank, but {sample_rate} Hz audio was asked for")
        return bank
    font = find_soundfont(soundfont)
    folder = bank_folder(font, sample_rate, cache)
    if not _current(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.with_name(folder.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _current(folder):  # none yet, or one an older emoscore built: built again
                log.info("building the note bank of %s at %d Hz into %s (once, ~20 s)", font.name, sample_rate, folder)
                build_bank(font, sample_rate, progress=progress).save(
                    folder, {"soundfont": font.name, "soundfont_path": str(font), "fluidsynth": fluidsynth_library()}
                )
    return NoteBank.load(folder)


def _current(folder: Path) -> bool:
    """Whether a cached bank folder holds a bank of this version's format."""
    try:
        return json.loads((folder / "bank.json").read_text()).get("format") == BANK_FORMAT
    except (OSError, ValueError):
        return False


def bank_for(render: RenderParams, sample_rate: int, progress: bool = False) -> NoteBank:
    """The note bank `render` names, at a sample rate."""
    cache = Path(render.bank_cache) if render.bank_cache else default_cache()
    return note_bank(render.soundfont, sample_rate, cache, given=render.bank, progress=progress)


def piece_frames(
    midi_paths: Sequence[Path], render: RenderParams, sample_rate: int, device: str = "cpu", *, full_scale: bool = False
) -> list[np.ndarray | RenderUnavailable]:
    """int16 frames [n, 2] of each MIDI file (or the reason it has none), on the engine `render` chooses; float32
    on the -1…1 scale, not rounded to 16 bits, with `full_scale` (a film's 24-bit deliverables)."""
    convert = (lambda frames: (frames / 32768.0).astype(np.float32)) if full_scale else to_int16
    if render.engine == "fluidsynth":
        results: list[np.ndarray | RenderUnavailable] = []
        for path in midi_paths:
            try:
                samples = synthesizer(render.soundfont, sample_rate).samples(Path(path))
                results.append(convert(samples) if full_scale else samples)
            except RenderUnavailable as error:
                results.append(error)
        return results
    bank = bank_for(render, sample_rate)
    schedules, results = [], []
    for path in midi_paths:
        try:
            schedules.append(schedule(Path(path), sample_rate))
            results.append(None)
        except Exception as error:  # miditoolkit (which reads what midi_read leaves) raises what it meets
            results.append(RenderUnavailable(f"{path}: not a readable MIDI file ({error})"))
    rendered = iter(render_pieces(bank, schedules, device))
    return [convert(next(rendered)) if result is None else result for result in results]


def render_many(
    midi_paths: Sequence[Path], audio_paths: Sequence[Path], render: RenderParams | None = None, device: str = "cpu"
) -> list[Path | RenderUnavailable]:
    """Render MIDI files to audio files (format by extension; those of one rate together), each written atomically;
    the error in place of a file that could not be made."""
    render = render or RenderParams()
    out: list[Path | RenderUnavailable] = [RenderUnavailable("not rendered")] * len(midi_paths)
    by_rate: dict[int, list[int]] = {}
    for index, audio_path in enumerate(audio_paths):
        try:
            audio_type(Path(audio_path))
        except ValueError as error:
            out[index] = RenderUnavailable(str(error))
            continue
        by_rate.setdefault(rate_for(Path(audio_path), render), []).append(index)
    for rate, indices in by_rate.items():
        try:
            frames = piece_frames([midi_paths[i] for i in indices], render, rate, device)
        except RenderUnavailable as error:  # no renderer at this rate: none of these files has audio
            frames = [error] * len(indices)
        for index, result in zip(indices, frames, strict=True):
            if isinstance(result, RenderUnavailable):
                out[index] = result
                continue
            try:
                out[index] = write_audio(
                    result,
                    rate,
                    Path(audio_paths[index]),
                    bitrate=render.preview_bitrate,
                    complexity=render.preview_complexity,
                )
            except RenderUnavailable as error:
                out[index] = error
    return out


def render_audio(midi_path: Path, audio_path: Path, render: RenderParams | None = None, device: str = "cpu") -> Path:
    """Render one MIDI file to audio in the format of `audio_path`'s extension (.flac, .wav, .ogg, .opus, .mp3);
    RenderUnavailable when the renderer is missing or fails, ValueError for any other extension."""
    audio_type(Path(audio_path))
    result = render_many([Path(midi_path)], [Path(audio_path)], render, device)[0]
    if isinstance(result, RenderUnavailable):
        raise result
    return result


def renderer_available(render: RenderParams | None = None) -> bool:
    """True when audio can be made: a bank folder is given, or FluidSynth and a SoundFont are both present."""
    render = render or RenderParams()
    if render.engine == "bank" and render.bank is not None:
        return (Path(render.bank) / "bank.json").is_file()
    try:
        find_soundfont(render.soundfont)
        _fluidsynth()
    except RenderUnavailable:
        return False
    return True


@dataclass
class RenderSummary:
    """What `render_files` did: files rendered, already there, and failed (with their reasons)."""

    rendered: int = 0
    already_there: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rendered": self.rendered, "already_there": self.already_there, "failed": len(self.failed)}


def _one_thread() -> None:
    """A forked worker's torch on one thread: a worker per core, and the reverb's FFT would hang on the thread pool
    a parent that used it left behind."""
    torch.set_num_threads(1)


def _render_batch(jobs: list[tuple[Path, Path]], render: RenderParams) -> list[str | None]:
    """One worker's batch: None for a file written, else why not."""
    made = render_many([midi for midi, _ in jobs], [audio for _, audio in jobs], render)
    return [str(result) if isinstance(result, Exception) else None for result in made]


def render_files(
    jobs: Sequence[tuple[Path, Path]],
    render: RenderParams,
    *,
    workers: int | None = None,
    progress: bool = True,
    batch: int = 16,
) -> RenderSummary:
    """Render (MIDI, audio) pairs whose audio file is not there yet, in `workers` processes (one per core by
    default); a file already there is left as it is, so running it again does only what is missing."""
    summary = RenderSummary()
    todo = [(Path(midi), Path(audio)) for midi, audio in jobs if not Path(audio).is_file()]
    summary.already_there = len(jobs) - len(todo)
    if not todo:
        return summary
    if render.engine == "bank":  # built (or read) once here, before the workers fork and share its pages
        for rate in {rate_for(audio, render) for _, audio in todo}:
            bank_for(render, rate, progress)
    batches = [todo[i : i + batch] for i in range(0, len(todo), batch)]
    workers = min(workers or os.cpu_count() or 1, len(batches))
    bar = Progress(total=len(todo), desc="rendering", unit="piece", disable=not progress)
    pool: Executor = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_one_thread)
        if workers > 1
        else _InProcess()
    )
    with pool:
        futures = {pool.submit(_render_batch, jobs, render): jobs for jobs in batches}
        for future in as_completed(futures):
            for (midi, _), problem in zip(futures[future], future.result(), strict=True):
                if problem is None:
                    summary.rendered += 1
                else:
                    summary.failed[str(midi)] = problem
                    log.error("%s", problem)
            bar.update(len(futures[future]))
    bar.close()
    return summary


class _InProcess(Executor):
    """An executor that runs each call at once, here: one worker needs no pool."""

    def submit(self, fn, /, *args, **kwargs) -> Future:  # noqa: ANN001
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

"""The note-bank renderer against FluidSynth, per core: fidelity first (every piece), then speed.

    python -m benchmarks.run --only render

40 pieces from the trained model (8 bars, each quadrant, `dvc repro` first; random-weight pieces otherwise) and 20
excerpts of real scores from music21's corpus (the first 16 bars of each). For each piece: the bank's render and
FluidSynth's, signal-to-residual ratio and log-mel distance with and without reverb, and FluidSynth against itself
started 1.45 s later (emoscore/music/fidelity.py); the per-piece table goes to `.benchmarks/render_fidelity.json`.
Then pieces/s on one core: the bank (numba overlap-add, torch's FFT for the reverb, one thread) ÷ FluidSynth (the
renderer before), both from the MIDI file to int16 frames, in turns.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from emoscore.config import load_params
from emoscore.music.audio import bank_for
from emoscore.music.compose import compose_pieces
from emoscore.music.cp import decode_to_midi, notes_to_midi
from emoscore.music.fidelity import compare
from emoscore.music.generate import Request
from emoscore.music.model import CPTransformer, MusicConfig
from emoscore.music.overlap import render_piece, to_int16
from emoscore.music.playback import schedule
from emoscore.music.render import Synthesizer, find_soundfont
from emoscore.music.scores import corpus_files, score_notes

PROJECT = Path(__file__).resolve().parent.parent
COLLECTIONS = ["bach", "beethoven", "mozart", "haydn", "joplin", "schumann_robert", "chopin"]


def generated_midis(folder: Path, count: int) -> tuple[list[Path], str]:
    """`count` 8-bar pieces, the quadrants in turn, from the trained model (or a random-weight one)."""
    params = load_params(PROJECT / "params.yaml")
    checkpoint = PROJECT / params.music.out
    if checkpoint.exists():
        model, _ = CPTransformer.from_checkpoint(checkpoint)
        source = "trained model"
    else:
        torch.manual_seed(0)
        model, source = CPTransformer(MusicConfig.from_params(params.music)), "random-weight model (no dvc repro)"
    requests = [Request(1 + i % 4, 9000 + i) for i in range(count)]
    paths = []
    for index, steps in enumerate(compose_pieces(model.eval(), requests, 8, params.generation)):
        paths.append(folder / f"generated_{index:02d}.mid")
        decode_to_midi(steps, paths[-1])
    return paths, source


def score_midis(folder: Path, count: int, bars: int = 16) -> list[Path]:
    """The first `bars` bars of `count` music21 corpus scores, as piano MIDI files."""
    paths = []
    for source in corpus_files(COLLECTIONS, count * 3):
        if len(paths) == count:
            break
        try:
            notes, tempi = score_notes(source)
        except Exception:  # a score music21 cannot read is skipped, as the corpus stage does
            continue
        notes = [n for n in notes if n.onset < bars * 16]
        if len(notes) < 16:
            continue
        path = folder / f"score_{len(paths):02d}.mid"
        notes_to_midi(notes, [t for t in tempi if t[0] < bars * 16]).dump(str(path))
        paths.append(path)
    return paths


def bench_render(work: Path, generated: int = 40, scores: int = 20, rounds: int = 3) -> list[dict]:
    """Rows for benchmarks.run: the fidelity bar on every piece, then the speed ratio on one core."""
    torch.set_num_threads(1)
    render = load_params(PROJECT / "params.yaml").render
    bank = bank_for(render, render.sample_rate, progress=True)
    soundfont = find_soundfont(render.soundfont)
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        midis, source = generated_midis(folder, generated)
        midis += score_midis(folder, scores)
        figures = []
        for midi in midis:
            measured = compare(midi, bank, soundfont)
            passed = (
                measured["srr_db"] >= min(measured["srr_fluidsynth_late_db"], 25.0)
                and measured["srr_dry_db"] >= 35
                and measured["log_mel_db"] <= 1.0
            )
            figures.append({"piece": midi.stem, **measured, "passes": passed})
        (work / "render_fidelity.json").write_text(json.dumps(figures, indent=1))
        kinds = {
            "generated": [f for f in figures if f["piece"].startswith("generated")],
            "scores": [f for f in figures if f["piece"].startswith("score")],
        }
        for kind, chosen in kinds.items():
            if not chosen:
                continue
            passing = sum(f["passes"] for f in chosen)
            measures = (
                ("SRR dB", "srr_db"),
                ("dry SRR dB", "srr_dry_db"),
                ("FluidSynth vs itself dB", "srr_fluidsynth_late_db"),
            )
            detail = ", ".join(
                f"{name} median {np.median([f[key] for f in chosen]):.1f} (min {np.min([f[key] for f in chosen]):.1f})"
                for name, key in measures
            )
            mel = np.median([f["log_mel_db"] for f in chosen])
            rows.append(
                {
                    "name": f"bank render fidelity ({kind})",
                    "measure": "share of pieces within the bar",
                    "ratio": passing / len(chosen),
                    "target": "1.0",
                    "met": passing == len(chosen),
                    "detail": f"{len(chosen)} pieces ({source if kind == 'generated' else 'music21, 16 bars'});"
                    f" {detail}; log-mel median {mel:.2f} dB",
                }
            )
        synthesizer = Synthesizer(soundfont, render.sample_rate)
        render_piece(bank, schedule(midis[0], bank.sample_rate))  # compile the numba passes once
        synthesizer.samples(midis[0])
        # both sides from the MIDI file to int16 frames, in turns (the best of `rounds` each: a shared machine)
        bank_time = fluidsynth_time = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            ours = [to_int16(render_piece(bank, schedule(m, bank.sample_rate))) for m in midis]
            bank_time = min(bank_time, time.perf_counter() - start)
            start = time.perf_counter()
            theirs = [synthesizer.samples(m) for m in midis]
            fluidsynth_time = min(fluidsynth_time, time.perf_counter() - start)
        assert all(abs(len(a) - len(b)) <= 0.1 * render.sample_rate for a, b in zip(ours, theirs, strict=True))
    seconds = sum(len(t) for t in theirs) / render.sample_rate
    ratio = fluidsynth_time / bank_time
    rows.append(
        {
            "name": "bank render speed",
            "measure": "pieces/s on one core, bank ÷ FluidSynth",
            "ratio": ratio,
            "target": "≥ 10×",
            "met": ratio >= 10,
            "detail": f"{len(midis) / bank_time:.1f} vs {len(midis) / fluidsynth_time:.1f} pieces/s "
            f"({seconds / len(midis):.1f} s of audio a piece; MIDI file read and scheduled, overlap-add, reverb, "
            f"to int16; one thread; best of {rounds} turns; same pieces as the fidelity rows)",
        }
    )
    return rows


def bench_chart(work: Path, count: int = 200) -> list[dict]:
    """Milliseconds per VAD chart (the target is absolute: ≤ 10 ms a photo)."""
    from emoscore.scoring.chart import vad_chart

    top = [("Disquietment", 0.8), ("Engagement", 0.6), ("Peace", 0.5), ("Pleasure", 0.4), ("Excitement", 0.3)]
    with tempfile.TemporaryDirectory() as temporary:
        vad_chart(Path(temporary) / "warm.png", (5.0, 6.0, 4.0), top, "warm-up")
        start = time.perf_counter()
        for i in range(count):
            vad_chart(Path(temporary) / f"{i}.png", (1 + i % 9, 9 - i % 8, 5.5), top, f"IMG_{i:05d}.jpg")
        elapsed = (time.perf_counter() - start) / count * 1000
    return [
        {
            "name": "VAD chart",
            "measure": "ms per photo, one core",
            "ratio": elapsed,
            "target": "≤ 10 ms",
            "met": elapsed <= 10,
            "detail": f"Pillow, 512×208 PNG, {count} charts (matplotlib repainted: ~67 ms)",
        }
    ]

"""Scoring with music as the project did it before batching (issue #14), kept runnable as the benchmarks' baseline:
VAD in the worker pool, then in this process, one photo at a time, one piece decoded alone, a `fluidsynth` command
per file writing WAV (it loads the SoundFont every time), and a new chart figure built and laid out per photo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from emoscore.catalog.store import Catalog
from emoscore.emotic.labels import VAD_MAX, VAD_MIN
from emoscore.music.cp import decode_to_midi
from emoscore.music.generate import generate
from emoscore.music.model import CPTransformer
from emoscore.music.render import GAIN, find_soundfont
from emoscore.music.sampling import Sampling, Steering
from emoscore.scoring.bridge import arousal_intensity
from emoscore.scoring.chart import VAD_COLOURS, VAD_NAMES
from emoscore.scoring.scorer import Scorer


def old_chart(path: Path, vad: list[float], top: list[tuple[str, float]], title: str) -> None:
    """The chart as it was drawn before: a figure built, laid out and closed per image."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(6.4, 2.6), gridspec_kw={"width_ratios": [1, 1.4]})
    left.barh(VAD_NAMES[::-1], vad[::-1], color=VAD_COLOURS[::-1])
    left.set_xlim(VAD_MIN, VAD_MAX)
    for index, value in enumerate(vad[::-1]):
        left.text(min(value + 0.1, VAD_MAX - 1.2), index, f"{value:.1f}", va="center", fontsize=8)
    right.barh([name for name, _ in top][::-1], [score for _, score in top][::-1], color="#6d597a")
    right.set_xlim(0, 1)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def old_render(midi: Path, wav: Path, sample_rate: int) -> None:
    """One `fluidsynth` process per file, as before (the SoundFont is loaded each time)."""
    command = [
        shutil.which("fluidsynth") or "fluidsynth",
        "-ni",
        "-q",
        "-g",
        str(GAIN),
        "-r",
        str(sample_rate),
        "-T",
        "wav",
        "-F",
        str(wav),
        str(find_soundfont()),
        str(midi),
    ]
    wav.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(command, capture_output=True, check=True, timeout=300)


def score_as_before(vad_only: Scorer, model: CPTransformer, files: list, catalog: Path) -> list[dict]:
    """Rows as before: `vad_only` is a scorer with music, audio and charts off (its pool does the VAD)."""
    score, generation, render = vad_only.maker.score, vad_only.maker.generation, vad_only.maker.render
    sampling, steering = Sampling.from_params(generation), Steering.from_params(generation)
    rows = vad_only.score_files(files, catalog)
    for row in rows:
        if row["status"] != "ok":
            continue
        intensity = arousal_intensity(row["arousal"], score.quadrant_midpoint)
        steps = generate(
            model,
            int(row["quadrant"][1]),
            score.bars,
            seed=row["seed"],
            sampling=sampling,
            max_steps=generation.max_steps,
            intensity=intensity,
            steering=steering,
        )
        midi, wav = catalog / "midi" / f"{row['image_id']}.mid", catalog / "audio" / f"{row['image_id']}.wav"
        midi.parent.mkdir(parents=True, exist_ok=True)
        decode_to_midi(steps, midi)
        old_render(midi, wav, render.sample_rate)
        vad = [row["valence"], row["arousal"], row["dominance"]]
        old_chart(
            catalog / "charts" / f"{row['image_id']}.png",
            vad,
            [(t["name"], t["score"]) for t in row["top_categories"]],
            Path(row["path"]).name,
        )
        row.update(midi_path=f"midi/{midi.name}", audio_path=f"audio/{wav.name}", n_notes=int(np.sum(steps[:, 3] == 2)))
    return rows


def main() -> None:
    """`python -m benchmarks.baseline LIBRARY CATALOG`: a whole scoring run the way `emoscore score` did it before,
    as a Prefect flow (with its temporary server) whose task scores each chunk as above."""
    import sys

    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from emoscore.config import load_params
    from emoscore.scoring.library import score_library

    library, catalog = Path(sys.argv[1]), Path(sys.argv[2])

    @task(cache_policy=NO_CACHE)
    def chunk(files: list) -> list[dict]:
        return score_as_before(vad_only, model, files, catalog)

    @flow(name="score_before")
    def score_before() -> dict:
        return score_library(library, Catalog(catalog), vad_only.identity, chunk.submit, progress=False).as_dict()

    params = load_params("params.yaml")
    off = {"music": False, "audio": "none", "charts": False}
    vad_only = Scorer.from_params(params.model_copy(update={"score": params.score.model_copy(update=off)}))
    model, _ = CPTransformer.from_checkpoint(params.music.out)
    try:
        print(score_before())
    finally:
        vad_only.close()


if __name__ == "__main__":
    main()

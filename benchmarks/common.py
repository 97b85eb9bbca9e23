"""What every benchmark shares: timing side by side, the results table, generated photos and scorers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from emoscore.config import load_params, parse_params
from emoscore.digests import model_digest
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet, EmoticNetConfig
from emoscore.emotic.thresholds import Thresholds
from emoscore.samples.datasets import draw_person_state, paint_person, scene_background
from emoscore.scoring.scorer import Scorer

PROJECT = Path(__file__).resolve().parent.parent
RESULTS: list[dict] = []


def timed(function: Callable[[], object]) -> tuple[float, object]:
    """Wall time of one call and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def record(name: str, measure: str, ratio: float, target: str, met: bool, detail: str) -> None:
    """Keep and print one row of the table."""
    RESULTS.append(
        {"benchmark": name, "measured as": measure, "ratio": ratio, "target": target, "met": met, "detail": detail}
    )
    print(f"  {name}: {ratio:.2f} (target {target}) {'MET' if met else 'MISSED'} — {detail}", flush=True)


def photos(folder: Path, count: int, size: tuple[int, int], seed: int = 0) -> Path:
    """`count` JPEG photos of `size` with people painted like the EMOTIC sample (generated once, cached)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = size
    base = scene_background(np.array([5.0, 5.0, 5.0]), width, height, rng)
    for index in range(count):
        path = folder / f"photo_{index:05d}.jpg"
        if path.exists():
            continue
        canvas = np.roll(base, index * 37, axis=1).copy()
        person = draw_person_state(rng)
        x = int(rng.integers(0, width // 2))
        paint_person(canvas, (x, height // 5, x + width // 3, height - 10), person, rng)
        Image.fromarray(canvas).save(path, quality=90)
    return folder


def vad_checkpoint(directory: Path, small: bool = False) -> Path:
    """A random-weight VAD checkpoint: full-size 224/128 inputs, or 32/32 when `small` (made once)."""
    torch.manual_seed(0)
    checkpoint = directory / ("vad_32.pt" if small else "vad_224.pt")
    if not checkpoint.exists():
        defaults = parse_params({})
        size = {"context_size": 32, "body_size": 32} if small else {"context_size": 224, "body_size": 128}
        config = dataclasses.replace(EmoticNetConfig.from_params(defaults.emotic, defaults.vad), **size)
        EmoticNet(config).save(checkpoint)
    return checkpoint


def scorer_for(
    directory: Path,
    workers: int = 2,
    batch_size: int = 16,
    charts: bool = False,
    small: bool = False,
    engine: str = "onnxruntime",
) -> Scorer:
    """A scorer with a random-weight VAD model and no music (the VAD path only): full-size 224/128 inputs, or
    32/32 when `small` (where only the pipeline around the model is being measured)."""
    checkpoint = vad_checkpoint(directory, small)
    thresholds = checkpoint.with_suffix(".thresholds.json")
    Thresholds.from_mapping(model_digest(checkpoint), dict.fromkeys(CATEGORIES, 0.5)).save(thresholds)
    params = parse_params(
        {
            "vad": {"out": str(checkpoint)},
            "score": {
                "music": False,
                "charts": charts,
                "workers": workers,
                "batch_size": batch_size,
                "audio": "none",
                "engine": engine,
            },
        }
    )
    return Scorer(
        params.vad.out, None, params.score, generation=params.generation, render=params.render, thresholds=thresholds
    )


def best_of(repeats: int, *sides: Callable[[], object]) -> list[tuple[float, object]]:
    """Run the sides in turn `repeats` times; each side's fastest time and its result.

    Interleaving puts the sides under the same load; the minimum is the run least disturbed by neighbours.
    """
    best: list[tuple[float, object]] = [(float("inf"), None)] * len(sides)
    for _ in range(repeats):
        for index, side in enumerate(sides):
            elapsed, result = timed(side)
            if elapsed < best[index][0]:
                best[index] = (elapsed, result)
    return best


def record_all(rows: list[dict]) -> None:
    """Keep rows a benchmark module returned as dicts."""
    for row in rows:
        record(row["name"], row["measure"], row["ratio"], row["target"], row["met"], row["detail"])


def trained_params() -> object | None:
    """params.yaml when its trained models exist (the music rows measure the real models); None otherwise."""
    params = load_params(PROJECT / "params.yaml")
    needed = (params.vad.out, params.music.out, params.eval_vad.thresholds)
    if all((PROJECT / path).exists() for path in needed):
        return params
    print("  skipped: run `dvc repro` first (the music rows use the trained models)")
    return None

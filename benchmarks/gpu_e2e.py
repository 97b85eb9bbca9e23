"""A whole `emoscore score` run on a GPU machine, and the time each stage of it costs there (docs/performance.md):

    python -m benchmarks.gpu_e2e --out e2e.json --bank .cache/notebank-…-44100-v5 [--photos 2000] [--device cuda]

Shipped-size models with random weights (speeds, not results), N 12-MP JPEGs (100 painted scenes, each copied with
its own JPEG comment so every file is new content), music, lossless audio from the note bank and a chart per photo,
workers on every core, VAD, JPEG decoding, generation and rendering on the device. The run is timed twice, over a
tenth of the photos and over all of them, so start-up and steady state are told apart; then each stage alone.
With `--device cpu --photos 24 --quick` it runs here, which is how the tests keep it working.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from emoscore.config import parse_params
from emoscore.digests import model_digest
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet, EmoticNetConfig
from emoscore.emotic.thresholds import Thresholds
from emoscore.music.model import CPTransformer, MusicConfig
from emoscore.music.vocabulary import VOCABULARY
from emoscore.samples.datasets import draw_person_state, paint_person, scene_background

PROJECT = Path(__file__).resolve().parent.parent


def _scene(task: tuple[Path, int, tuple[int, int]]) -> Path:
    """One painted scene as a JPEG (a worker's share of the photo set)."""
    path, seed, (width, height) = task
    rng = np.random.default_rng(seed)
    canvas = scene_background(rng.uniform(2, 9, 3), width, height, rng)
    x = int(rng.integers(0, width // 2))
    paint_person(canvas, (x, height // 5, x + width // 3, height - 10), draw_person_state(rng), rng)
    Image.fromarray(canvas).save(path, quality=90)
    return path


def make_photos(folder: Path, count: int, size: tuple[int, int], scenes: int = 100) -> list[Path]:
    """`count` JPEGs: `scenes` painted ones, each copied with a distinct JPEG comment (COM) segment."""
    folder.mkdir(parents=True, exist_ok=True)
    scenes = min(scenes, count)
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        bases = pool.map(_scene, [(folder / f".scene{i}.jpg", i, size) for i in range(scenes)])
    photos = []
    for index in range(count):
        data = bases[index % scenes].read_bytes()
        comment = f"emoscore benchmark copy {index}".encode()
        marked = data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]
        path = folder / f"photo_{index:05d}.jpg"
        path.write_bytes(marked)
        photos.append(path)
    for base in bases:
        base.unlink()
    return photos


def make_project(root: Path, device: str, bank: Path, quick: bool, audio: str = "lossless") -> Path:
    """Shipped-size random-weight models and a params.yaml for a scoring run on `device`."""
    torch.manual_seed(0)
    defaults = parse_params({})
    vad_config = EmoticNetConfig.from_params(defaults.emotic, defaults.vad)
    music_config = MusicConfig.from_params(defaults.music)
    if quick:
        vad_config = dataclasses.replace(vad_config, context_size=32, body_size=32)
        music_config = dataclasses.replace(music_config, d_model=64, n_layers=2, n_heads=2)
    EmoticNet(vad_config).save(root / "vad.pt")
    Thresholds.from_mapping(model_digest(root / "vad.pt"), dict.fromkeys(CATEGORIES, 0.5)).save(root / "th.json")
    CPTransformer(music_config).save(root / "music.pt", VOCABULARY)
    params = {
        "vad": {"out": str(root / "vad.pt")},
        "eval_vad": {"thresholds": str(root / "th.json")},
        "music": {"out": str(root / "music.pt")},
        "emopia": {"vocabulary": str(root / "absent_vocab.json")},
        "render": {"bank": str(bank)},
        "score": {
            "device": device,
            "engine": "torch",
            "audio": audio,
            "bars": 2 if quick else 8,
            "batch_size": 32,
            "chunk_size": 256,
        },
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root / "params.yaml"


def _flows_on_path(root: Path) -> dict[str, str]:
    """An environment in which `python -m emoscore_flows.cli` runs from the repository (installed or not)."""
    shim = root / "shim"
    shim.mkdir(exist_ok=True)
    for name, folder in (("emoscore_flows", "flows"), ("emoscore_tasks", "tasks")):
        if not (shim / name).exists():
            (shim / name).symlink_to(PROJECT / folder)
    paths = [str(shim), str(PROJECT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONUNBUFFERED": "1"}


def score_run(library: Path, catalog: Path, params: Path, environment: dict[str, str]) -> tuple[float, dict]:
    """Wall time of `emoscore score LIBRARY` (a new process: start-up included) and its JSON summary."""
    from emoscore.catalog.store import Catalog

    shutil.rmtree(catalog, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "emoscore_flows.cli",
        "score",
        str(library),
        "--catalog",
        str(catalog),
        "--params",
        str(params),
        "--json",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env=environment)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"emoscore score failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    rows = Catalog(catalog).read().to_pylist()
    summary["rows_with_audio"] = sum(1 for row in rows if row.get("audio_path"))
    summary["rows_with_chart"] = sum(1 for row in rows if row.get("chart_path"))
    # steady state inside this run: rows made between the 10th and the 90th percentile of their times
    times = np.sort([row["scored_at"].timestamp() for row in rows])
    if len(times) >= 20:
        low, high = times[len(times) // 10], times[len(times) * 9 // 10]
        summary["photos_per_s_middle_80_percent"] = (len(times) * 9 // 10 - len(times) // 10) / max(high - low, 1e-9)
    return elapsed, summary


def stage_times(params_path: Path, photos: list[Path], device: str, pieces: int) -> dict:
    """Each stage alone, per photo: generation of a batch, its note-bank render on the device, FLAC encoding and the
    chart on one core."""
    from emoscore.config import load_params
    from emoscore.music.audio import bank_for
    from emoscore.music.compose import compose_pieces
    from emoscore.music.cp import decode_to_midi
    from emoscore.music.generate import Request
    from emoscore.music.overlap import render_pieces, to_int16
    from emoscore.music.playback import schedule
    from emoscore.music.render import write_audio
    from emoscore.scoring.chart import vad_chart

    params = load_params(params_path)
    model, _ = CPTransformer.from_checkpoint(params.music.out)
    model = model.to(device).eval()
    requests = [Request(1 + i % 4, i) for i in range(pieces)]
    compose_pieces(model, requests[:2], params.score.bars, params.generation)
    start = time.perf_counter()
    steps = compose_pieces(model, requests, params.score.bars, params.generation)
    generation = time.perf_counter() - start
    bank = bank_for(params.render, params.render.sample_rate)
    with tempfile.TemporaryDirectory() as folder:
        midis = [decode_to_midi(s, Path(folder) / f"{i}.mid") for i, s in enumerate(steps)]
        schedules = [schedule(m, bank.sample_rate) for m in midis]
        render_pieces(bank, schedules[:2], device)
        start = time.perf_counter()
        frames = render_pieces(bank, schedules, device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        rendering = time.perf_counter() - start
        start = time.perf_counter()
        for i, f in enumerate(frames[:16]):
            write_audio(to_int16(f), bank.sample_rate, Path(folder) / f"{i}.flac")
        flac = (time.perf_counter() - start) / min(16, len(frames))
        start = time.perf_counter()
        for i in range(16):
            vad_chart(Path(folder) / f"{i}.png", (5.0, 6.0, 4.0), [("Peace", 0.6), ("Joy", 0.4)], photos[0].name)
        chart = (time.perf_counter() - start) / 16
    seconds = float(np.mean([len(f) for f in frames])) / bank.sample_rate
    return {
        "pieces": pieces,
        "piece_seconds": seconds,
        "generation_pieces_per_s": pieces / generation,
        "bank_render_pieces_per_s": pieces / rendering,
        "flac_ms_per_piece_one_core": flac * 1000,
        "chart_ms_per_photo_one_core": chart * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bank", type=Path, required=True, help="A note-bank folder built by FluidSynth elsewhere.")
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="Small models and images (a check, not a figure).")
    parser.add_argument("--audio", default="lossless", help="score.audio for the run: lossless, preview or none.")
    parser.add_argument("--no-stages", action="store_true", help="Only the scoring runs.")
    parser.add_argument("--work", type=Path, default=None, help="Folder for photos and catalogs (default: temp).")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="emoscore-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "cores": os.cpu_count(),
        "torch": torch.__version__,
    }
    params = make_project(work, args.device, args.bank.resolve(), args.quick, args.audio)
    report["audio"] = args.audio
    size = (320, 240) if args.quick else (4000, 3000)
    start = time.perf_counter()
    photos = make_photos(work / "photos", args.photos, size)
    report["photos"] = {"count": len(photos), "size": size, "made_in_s": time.perf_counter() - start}
    print(json.dumps(report), flush=True)
    environment = _flows_on_path(work)
    tenth = work / "tenth"
    tenth.mkdir(exist_ok=True)
    for photo in photos[: max(2, len(photos) // 10)]:
        if not (tenth / photo.name).exists():
            os.link(photo, tenth / photo.name)
    small_time, small = score_run(tenth, work / "catalog_tenth", params, environment)
    full_time, full = score_run(work / "photos", work / "catalog_all", params, environment)
    extra = full["scored"] - small["scored"]
    report["run"] = {
        "tenth": {"seconds": small_time, "summary": small},
        "all": {"seconds": full_time, "summary": full},
        "photos_per_s_whole_run": full["scored"] / full_time,
        "photos_per_s_steady": extra / max(full_time - small_time, 1e-9),
    }
    print(json.dumps(report["run"], default=str), flush=True)
    if not args.no_stages:
        report["stages"] = stage_times(params, photos, args.device, 16 if args.quick else 256)
        print(json.dumps(report["stages"]), flush=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()

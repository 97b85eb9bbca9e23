"""The VAD image path: ours against a naive loop and the bare model, and against its own limit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.common import best_of, photos, record, scorer_for, timed, vad_checkpoint
from emoscore.emotic.dataset import resize_rgb, to_tensor
from emoscore.emotic.inference import load_vad_engine
from emoscore.scoring.listing import hash_images, iter_library
from emoscore.scoring.people import score_prepared


def bench_image_scoring(work: Path, count: int, repeats: int) -> None:
    """Our VAD path vs the bare model on pre-decoded batches (for each engine), vs the naive one-image-at-a-time
    loop, and ONNX Runtime vs torch through the whole path."""
    library = photos(work / "photos_12mp", count, (4000, 3000))
    files = [f for f in hash_images(iter_library(library)) if not isinstance(f, tuple)][:count]
    threads = torch.get_num_threads()
    checkpoint = vad_checkpoint(work)
    engines = {name: load_vad_engine(checkpoint, name, threads) for name in ("onnxruntime", "torch")}
    scorers = {name: scorer_for(work, engine=name) for name in engines}
    config = engines["torch"].config
    decoded = []
    for file in files:
        image = Image.open(file.path).convert("RGB")
        decoded.append(
            (to_tensor(resize_rgb(image, config.context_size)), to_tensor(resize_rgb(image, config.body_size)))
        )
    batches = [
        (torch.stack([c for c, _ in decoded[i : i + 16]]), torch.stack([b for _, b in decoded[i : i + 16]]))
        for i in range(0, len(decoded), 16)
    ]
    naive_files = files[: max(1, count // 2)]  # the slowest side runs on half the photos; rates are per image

    def ours(name: str) -> Callable[[], list]:
        return lambda: [outputs[1] for _, outputs in scorers[name].iter_vad(files)]

    def bare(name: str) -> Callable[[], list]:
        return lambda: [engines[name].predict(contexts, bodies)[1] for contexts, bodies in batches]

    def naive() -> list:
        model, outputs = engines["torch"], []
        for file in naive_files:
            image = Image.open(file.path).convert("RGB")  # full 12-megapixel decode, as the reference does
            body = image.crop((0, 0, image.width, image.height))
            context = to_tensor(resize_rgb(image, config.context_size))[None]
            outputs.append(model.predict(context, to_tensor(resize_rgb(body, config.body_size))[None])[1])
        return outputs

    for name in engines:
        list(scorers[name].iter_vad(files[:32]))  # start both workers and warm up their models
        bare(name)()
    sides = best_of(repeats, ours("onnxruntime"), bare("onnxruntime"), ours("torch"), bare("torch"), naive)
    for scorer in scorers.values():
        scorer.close()
    (ort_time, ort_out), (ort_bare_time, ort_bare_out), (torch_time, torch_out), (bare_time, bare_out) = sides[:4]
    naive_time, naive_out = sides[4]
    bare_vad = np.concatenate(bare_out)
    # scaled JPEG decoding resamples differently from a full decode: same answers within a small VAD tolerance
    for out in (ort_out, torch_out):
        assert np.abs(np.concatenate(out) - bare_vad).max() < 0.25
    assert np.allclose(np.concatenate(ort_bare_out), bare_vad, atol=1e-3)  # the export computes the same
    assert np.allclose(np.concatenate(naive_out), bare_vad[: len(naive_files)], atol=1e-4)
    rate = {
        "ort": count / ort_time,
        "ort bare": count / ort_bare_time,
        "torch": count / torch_time,
        "torch bare": count / bare_time,
        "naive": len(naive_files) / naive_time,
    }
    for engine, key in (("ONNX Runtime", "ort"), ("torch", "torch")):
        ratio = rate[key] / rate[f"{key} bare"]
        record(
            f"image scoring vs bare model ({engine})",
            "images/s ours ÷ images/s bare forward, same engine",
            ratio,
            "≥ 0.7",
            ratio >= 0.7,
            f"ours {rate[key]:.1f}/s, bare model {rate[f'{key} bare']:.1f}/s, {count} 12-MP JPEGs, best of {repeats}",
        )
    ratio = rate["ort"] / rate["naive"]
    record(
        "image scoring vs naive loop",
        "images/s ours (ONNX Runtime) ÷ images/s naive (torch)",
        ratio,
        "≥ 4×",
        ratio >= 4,
        f"naive {rate['naive']:.1f}/s",
    )
    ratio = rate["ort"] / rate["torch"]
    record(
        "ONNX Runtime vs torch",
        "images/s of our path with each engine",
        ratio,
        "> 1× to keep it",
        ratio > 1,
        f"{rate['ort']:.1f} vs {rate['torch']:.1f} images/s",
    )


def bench_vad_limit(work: Path, count: int, repeats: int) -> None:
    """Images/s of our VAD path vs its limit on the same files: workers ÷ (decode + bare forward per image)."""
    library = photos(work / "photos_1600", count, (1600, 1200), seed=4)
    files = [f for f in hash_images(iter_library(library)) if not isinstance(f, tuple)][:count]
    scorer = scorer_for(work)
    engine = load_vad_engine(vad_checkpoint(work), "onnxruntime", 1)  # what each worker runs: one thread
    list(scorer.iter_vad(files[:8]))  # start the workers
    decode_time, prepared = timed(lambda: [scorer.pool.prepare(file) for file in files])
    batches = [prepared[i : i + scorer.pool.settings.batch_size] for i in range(0, count, 16)]
    score_prepared(engine, batches[0])
    ((forward_time, bare),) = best_of(repeats, lambda: [out for b in batches for out in score_prepared(engine, b)])
    ((our_time, ours),) = best_of(repeats, lambda: list(scorer.iter_vad(files)))
    scorer.close()
    assert all(np.allclose(a[1][1], b[1][1], atol=1e-4) for a, b in zip(ours, bare, strict=True))
    limit = scorer.pool.workers * count / (decode_time + forward_time)
    ratio = count / our_time / limit
    per_image = f"decode {decode_time / count * 1000:.0f} ms + forward {forward_time / count * 1000:.0f} ms"
    record(
        "VAD image path vs its limit",
        "images/s ours ÷ workers ÷ (decode + bare forward per image)",
        ratio,
        "≥ 0.9",
        ratio >= 0.9,
        f"{count / our_time:.1f} vs {limit:.1f} images/s; {per_image} per image on one "
        f"core, {scorer.pool.workers} workers, best of {repeats}",
    )

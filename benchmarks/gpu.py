"""The GPU figures of docs/performance.md, measured in one short run on a lent GPU machine (or, with --device cpu
--quick, here, which is how the tests keep it working):

    python -m benchmarks.gpu --out gpu.json [--device cuda] [--quick]

Generation at the shipped size and the CP paper's (d_model 512, 12 layers), eager against fixed-shape decoding
(CUDA graphs), one piece alone and 256 in one cache; the VAD model (ResNet-18 branches, full-size inputs) in fp32
and under bf16 autocast at batch 256; 12-MP JPEGs to scoring size on one CPU core (libjpeg-turbo's scaled decode)
and through the device path (nvjpeg). Random weights: these are speeds, not results. Every pair is compared (same
tokens, or where they first differ; VAD within bf16 rounding; the same image sizes and the mean pixel difference).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from emoscore.config import parse_params
from emoscore.emotic.inference import TorchVad
from emoscore.emotic.model import EmoticNet, EmoticNetConfig
from emoscore.music.generate import Request, generate_batch
from emoscore.music.model import CPTransformer, MusicConfig


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, function, repeats: int = 3) -> tuple[float, object]:  # noqa: ANN001
    """Best wall time of `repeats` calls (after one warm-up) and the last result."""
    result = function()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        result = function()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def _same(first: list[np.ndarray], second: list[np.ndarray]) -> dict:
    """Whether two decodings gave the same pieces, and where the first difference is (GPU kernels may round apart)."""
    differing = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if not np.array_equal(a, b)]
    report: dict = {"pieces_equal": len(first) - len(differing), "pieces": len(first)}
    if differing:
        a, b = first[differing[0]], second[differing[0]]
        steps = min(len(a), len(b))
        report["first_difference_at_step"] = int(np.argmax(np.any(a[:steps] != b[:steps], axis=1)))
    return report


def generation(device: torch.device, quick: bool) -> dict:
    """Piece-steps/s at the shipped size and at the paper's: eager decoding (op by op, today's path) against
    fixed-shape decoding (two CUDA graphs per round on a GPU), one piece alone and a batch in one cache."""
    defaults = parse_params({}).music
    # (size, batch): at the paper's size 128 pieces, whose cache at ~4,000 steps is ~27 GB, fit an 80 GB card twice
    sizes = {"shipped": ({}, 256), "paper": ({"d_model": 512, "n_layers": 12, "n_heads": 8}, 128)}
    if quick:
        sizes = {"quick": ({"d_model": 64, "n_layers": 2, "n_heads": 4}, 8)}
    bars = 2 if quick else 16
    figures: dict = {"bars": bars}
    for name, (size, batch) in sizes.items():
        if device.type == "cuda":
            torch.cuda.empty_cache()
        torch.manual_seed(0)
        model = CPTransformer(MusicConfig.from_params(defaults.model_copy(update=size))).to(device).eval()
        requests = [Request(1 + i % 4, i) for i in range(batch)]
        row: dict = {"model": {k: getattr(model.config, k) for k in ("d_model", "n_layers", "n_heads")}, "batch": batch}
        for label, chosen in (("one", requests[:1]), ("batch", requests)):
            runs = {}
            for decoding in ("eager", "fixed"):
                compose = functools.partial(generate_batch, model, chosen, bars, decoding=decoding)
                seconds, pieces = timed(device, compose, repeats=1)
                runs[decoding] = (seconds, pieces)
                steps = sum(len(piece) for piece in pieces)
                row[f"{label}_{decoding}_piece_steps_per_s"] = steps / seconds
                row[f"{label}_{decoding}_seconds"] = seconds
            row[f"{label}_steps"] = sum(len(piece) for piece in runs["eager"][1])
            row[f"{label}_check"] = _same(runs["eager"][1], runs["fixed"][1])
            row[f"{label}_fixed_speed_up"] = runs["eager"][0] / runs["fixed"][0]
        row["batch_over_one_eager"] = row["batch_eager_piece_steps_per_s"] / row["one_eager_piece_steps_per_s"]
        row["batch_over_one_fixed"] = row["batch_fixed_piece_steps_per_s"] / row["one_fixed_piece_steps_per_s"]
        short = {}
        for decoding in ("eager", "fixed"):  # one bar: what capturing the graphs costs a short call
            short[decoding], _ = timed(
                device, functools.partial(generate_batch, model, requests[:1], 1, decoding=decoding)
            )
        row["one_bar_seconds"] = short
        figures[name] = row
        print(name, json.dumps(row), flush=True)
    return figures


def round_profile(device: torch.device, quick: bool) -> dict:
    """Where one round's device time goes at the paper's size, one piece: the kernels of a step run op by op (torch
    profiler), and the two captured graphs replayed alone. The round's wall time minus these is the host's share."""
    from torch.profiler import ProfilerActivity, profile

    from emoscore.music.cp import emotion_word
    from emoscore.music.decoding import FixedDecoder
    from emoscore.music.vocabulary import BAR, TYPE_METRICAL

    size = {"d_model": 64, "n_layers": 2, "n_heads": 4} if quick else {"d_model": 512, "n_layers": 12, "n_heads": 8}
    torch.manual_seed(0)
    model = CPTransformer(MusicConfig.from_params(parse_params({}).music.model_copy(update=size))).to(device).eval()
    figures: dict = {"model": size}
    with torch.inference_mode():
        for graphs in sorted({False, device.type == "cuda"}):
            decoder = FixedDecoder(model, 1, 256, graphs=graphs)
            words = torch.tensor([[emotion_word(1), [0, 0, BAR, TYPE_METRICAL, 0, 0, 0, 0]]], device=device)
            decoder.type_logits(words)
            decoder.type_logits(words[:, -1:])  # the first single step: graphs are captured here
            decoder.family_logits(torch.tensor([TYPE_METRICAL], device=device))
            length = decoder.cache.length
            if graphs:
                step_graph, _, heads_graph, _ = decoder._captured  # type: ignore[misc]
                seconds, _ = timed(device, lambda: [step_graph.replay() for _ in range(100)])  # noqa: B023
                figures["graph_step_ms"] = seconds * 10
                seconds, _ = timed(device, lambda: [heads_graph.replay() for _ in range(100)])  # noqa: B023
                figures["graph_heads_ms"] = seconds * 10
                continue
            seconds, _ = timed(device, lambda: [(decoder._step(), decoder._heads()) for _ in range(100)])  # noqa: B023
            figures["op_by_op_round_ms"] = seconds * 10
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
            with profile(activities=activities) as profiler:
                decoder._step()
                decoder._heads()
                synchronize(device)
            decoder.cache.length = length
            averages = [e for e in profiler.key_averages() if getattr(e, "self_device_time_total", 0) > 0]
            figures["kernels_per_round"] = sum(e.count for e in averages)
            figures["kernel_ms_per_round"] = sum(e.self_device_time_total for e in averages) / 1e3
            top = sorted(averages, key=lambda e: -e.self_device_time_total)[:8]
            figures["top_kernels"] = [[e.key[:80], e.count, round(e.self_device_time_total, 1)] for e in top]
    return figures


def vad(device: torch.device, quick: bool) -> dict:
    """People/s of the VAD model at batch 256 (8 with --quick), fp32 and bf16 autocast."""
    defaults = parse_params({})
    config = EmoticNetConfig.from_params(defaults.emotic, defaults.vad)
    if quick:
        config = dataclasses.replace(config, context_size=64, body_size=64)
    torch.manual_seed(0)
    model = EmoticNet(config)
    batch = 8 if quick else 256
    contexts = torch.rand(batch, 3, config.context_size, config.context_size)
    bodies = torch.rand(batch, 3, config.body_size, config.body_size)
    figures = {}
    outputs = {}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        engine = TorchVad(model, device, bf16=bf16)
        seconds, outputs[name] = timed(device, lambda engine=engine: engine.predict(contexts, bodies))
        figures[f"{name}_people_per_s"] = batch / seconds
    if np.abs(outputs["fp32"][1] - outputs["bf16"][1]).max() > 0.25:
        raise AssertionError("bf16 VAD strays from fp32 beyond its rounding")
    return {
        "batch": batch,
        **figures,
        "bf16_speed_up": figures["bf16_people_per_s"] / figures["fp32_people_per_s"],
        "cudnn_tf32": torch.backends.cudnn.allow_tf32,
    }  # fp32 convolutions on tensor cores (torch's default)


def jpeg(device: torch.device, quick: bool) -> dict:
    """Images/s bringing 12-MP JPEGs to the size scoring needs (≥ 256 px a side): the CPU path (libjpeg-turbo's
    scaled decode, one core: what each worker does) and the device path (decode_jpegs: a batch decoded together
    by nvjpeg, turned and scaled on the GPU, brought back), both from files on disk."""
    import tempfile

    from emoscore.images import decode_image
    from emoscore.scoring.jpeg_device import decode_jpegs

    width, height = (800, 600) if quick else (4000, 3000)
    count = 4 if quick else 64
    rng = np.random.default_rng(0)
    result: dict = {"image": f"{width}x{height}", "files": count}
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(count):
            y, x = np.mgrid[0:height, 0:width]
            pixels = np.stack([x * 255 // width, y * 255 // height, (x * y + index) % 251], axis=-1).astype(np.uint8)
            noise = rng.integers(0, 24, pixels.shape, dtype=np.uint8)
            paths.append(Path(folder) / f"photo{index}.jpg")
            Image.fromarray(pixels + noise).save(paths[-1], "JPEG", quality=90)
        result["mean_file_mb"] = sum(path.stat().st_size for path in paths) / count / 1e6
        cpu_time, cpu_images = timed(torch.device("cpu"), lambda: [decode_image(p, draft=(256, 256)) for p in paths])
        result["cpu_scaled_images_per_s_one_core"] = count / cpu_time
        device_time, device_images = timed(device, lambda: decode_jpegs(paths, device, 256, 200_000_000))
        result["device_images_per_s"] = count / device_time
        differences = [
            np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean()
            for a, b in zip(cpu_images, device_images, strict=True)
        ]
        result["mean_abs_pixel_difference"] = float(np.mean(differences))
        if any(
            image is None or image.size != reference.size
            for image, reference in zip(device_images, cpu_images, strict=True)
        ):
            raise AssertionError("the device path left files out or gave another size than the CPU path")
    return result


def main() -> None:
    """Measure and write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, measures nothing")
    parser.add_argument("--only", nargs="*", choices=("profile", "generation", "vad", "jpeg"), help="only these")
    options = parser.parse_args()
    device = torch.device(options.device)
    figures = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    parts = (("profile", round_profile), ("generation", generation), ("vad", vad), ("jpeg", jpeg))
    for name, measure in parts:
        if options.only and name not in options.only:
            continue
        try:
            figures[name] = measure(device, options.quick)
        except Exception as error:  # one failing part must not lose the others' figures on a rented GPU
            if options.quick:
                raise
            figures[name] = {"error": f"{type(error).__name__}: {error}"}
        print(name, json.dumps(figures[name]), flush=True)
        options.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

"""The GPU figures of docs/performance.md, measured in one short run on a lent GPU machine (or, with --device cpu
--quick, here, which is how the tests keep it working):

    python -m benchmarks.gpu --out gpu.json [--device cuda] [--quick]

Generation at the CP paper's size (d_model 512, 12 layers) one piece at a time and 256 pieces in one cache; the
VAD model (ResNet-18 branches, full-size inputs) in fp32 and under bf16 autocast at batch 256; JPEG decoding on
the CPU (simplejpeg, what the workers use) and, where torchvision can, on the GPU (nvjpeg). Random weights: these
are speeds, not results. Every pair is checked first (same tokens; VAD within bf16 rounding).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
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


def generation(device: torch.device, quick: bool) -> dict:
    """Piece-steps/s at paper size: one piece vs a batch decoded in one cache (same tokens for the shared piece)."""
    defaults = parse_params({}).music
    size = {"d_model": 64, "n_layers": 2, "n_heads": 4} if quick else {"d_model": 512, "n_layers": 12, "n_heads": 8}
    torch.manual_seed(0)
    model = CPTransformer(MusicConfig.from_params(defaults.model_copy(update=size))).to(device).eval()
    bars, batch = (2, 8) if quick else (16, 256)
    requests = [Request(1 + i % 4, i) for i in range(batch)]
    one_time, one = timed(device, lambda: generate_batch(model, requests[:1], bars), repeats=1)
    many_time, many = timed(device, lambda: generate_batch(model, requests, bars), repeats=1)
    if not np.array_equal(one[0], many[0]):
        raise AssertionError("a batched piece differs from the same piece decoded alone")
    steps_one, steps_many = len(one[0]), sum(len(piece) for piece in many)
    return {"model": size, "bars": bars, "batch": batch, "one_piece_steps_per_s": steps_one / one_time,
            "batched_piece_steps_per_s": steps_many / many_time,
            "speed_up": (steps_many / many_time) / (steps_one / one_time),
            "seconds_per_piece_alone": one_time, "piece_steps": steps_one}  # fmt: skip


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
    return {"batch": batch, **figures, "bf16_speed_up": figures["bf16_people_per_s"] / figures["fp32_people_per_s"]}


def jpeg(device: torch.device, quick: bool) -> dict:
    """Images/s decoding 12-MP JPEGs: simplejpeg at 1/8 scale on one CPU core, and nvjpeg on the GPU."""
    import simplejpeg
    import torchvision.io

    width, height = (800, 600) if quick else (4000, 3000)
    rng = np.random.default_rng(0)
    pixels = np.repeat(np.repeat(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8), 8, 0), 8, 1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    count = 4 if quick else 32
    cpu_time, _ = timed(torch.device("cpu"), lambda: [simplejpeg.decode_jpeg(data, min_width=256, min_height=256)
                                                       for _ in range(count)])  # fmt: skip
    result = {"image": f"{width}x{height}", "cpu_scaled_images_per_s": count / cpu_time}
    if device.type == "cuda":
        encoded = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for _ in range(count)]
        gpu_time, _ = timed(device, lambda: torchvision.io.decode_jpeg(encoded, device=device))
        result["gpu_full_images_per_s"] = count / gpu_time
    return result


def main() -> None:
    """Measure and write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, measures nothing")
    options = parser.parse_args()
    device = torch.device(options.device)
    figures = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__}  # fmt: skip
    for name, measure in (("generation", generation), ("vad", vad), ("jpeg", jpeg)):
        figures[name] = measure(device, options.quick)
        print(name, json.dumps(figures[name]), flush=True)
    options.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

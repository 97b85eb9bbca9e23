"""A rehearsal of EMOTIC at real scale on this machine: a synthetic set of realistic size per image (640×480
JPEGs with 1–3 people each, in the real `Annotations.mat` layout), `prepare_emotic` and one training epoch at the
papers' input sizes (224² context, 128² body), each phase timed and its peak memory read, then extrapolated to the
real 23,571 images / 34,320 people.

    python -m benchmarks.scale_rehearsal [--images 3000] [--out .benchmarks/scale]

Each phase runs in its own process so its peak RSS is its own (the largest process of the phase, read by
wait4). Writes `<out>/rehearsal.json`; docs/real-data.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
REAL_IMAGES, REAL_PEOPLE = 23_571, 34_320


def params_for(out: Path, images: int) -> dict:
    """Params of the rehearsal: the sample's drawing at 640×480, the papers' crop sizes, one epoch."""
    return {
        "sample": {
            "out": str(out / "sample"),
            "emotic_images": {"train": images, "val": 60, "test": 20},
            "image_width": 640,
            "image_height": 480,
            "max_people_per_image": 3,
            "seed": 11,
        },
        "emotic": {
            "root": str(out / "sample" / "emotic"),
            "out": str(out / "prepared"),
            "context_size": 224,
            "body_size": 128,
            "num_workers": os.cpu_count() or 1,
        },
        "vad": {
            "epochs": 1,
            "batch_size": 32,
            "num_workers": 1,
            "out": str(out / "vad.pt"),
            "resume": str(out / "resume.pt"),
        },
    }


PHASES = {
    "write": (
        "from emoscore.samples.datasets import write_emotic_sample\n"
        "write_emotic_sample(params.sample, inject_faults=False)\n"
    ),
    "prepare": (
        "from emoscore.emotic.prepare import SPLITS, prepare_emotic_split\n"
        "for split in SPLITS:\n    prepare_emotic_split(params.emotic, split)\n"
    ),
    "train": (
        "from emoscore.emotic.train import train_vad_model\n"
        "train_vad_model(params.emotic.out, params.emotic, params.vad)\n"
    ),
}


def run_phase(name: str, raw: dict) -> dict:
    """Run one phase in a child process; its wall time and peak RSS (MiB)."""
    code = (
        "import json, sys\nfrom emoscore.config import parse_params\nparams = parse_params(json.loads(sys.argv[1]))\n"
    )
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code + PHASES[name], json.dumps(raw)], cwd=PROJECT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"phase {name} failed")
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3000, help="training images to synthesise")
    parser.add_argument("--out", type=Path, default=PROJECT / ".benchmarks" / "scale")
    arguments = parser.parse_args()
    out = arguments.out.resolve()
    raw = params_for(out, arguments.images)
    result: dict = {"images": {"train": arguments.images, "val": 60, "test": 20}, "cpus": os.cpu_count()}
    for phase in PHASES:
        result[phase] = run_phase(phase, raw)
        print(phase, result[phase], flush=True)
    import pandas as pd

    people = {split: len(pd.read_parquet(out / "prepared" / f"{split}.parquet")) for split in ("train", "val", "test")}
    prepared_bytes = folder_bytes(out / "prepared")
    total_people = sum(people.values())
    total_images = sum(result["images"].values())
    result["people"] = people
    result["jpeg_bytes"] = folder_bytes(out / "sample" / "emotic" / "emotic")
    result["prepared_bytes"] = prepared_bytes
    result["per_person"] = {
        "prepared_bytes": round(prepared_bytes / total_people),
        "prepare_ms": round(1000 * result["prepare"]["seconds"] / total_people, 1),
        "train_ms": round(1000 * result["train"]["seconds"] / people["train"], 1),
    }
    result["extrapolated_to_real_emotic"] = {
        "prepared_gib": round(REAL_PEOPLE * prepared_bytes / total_people / 2**30, 1),
        "prepare_minutes": round(REAL_IMAGES * result["prepare"]["seconds"] / total_images / 60, 1),
        "epoch_minutes_here": round(REAL_PEOPLE * 0.7 * result["per_person"]["train_ms"] / 1000 / 60, 1),
    }
    (out / "rehearsal.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""emoscore benchmarks: each target measured as a ratio of two ways of doing the same work, side by side, in one run.

    python -m benchmarks.run [--quick] [--only NAME ...]

Absolute times on shared machines are noise; the ratios are what to compare with the targets. Every pair of
sides is checked to give the same answer first, so a fast wrong answer cannot win. One module per benchmark;
REGISTRY below names them for --only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.catalog import bench_catalog
from benchmarks.common import PROJECT, RESULTS, record_all
from benchmarks.generation import bench_batched_generation, bench_generation
from benchmarks.image import bench_image_scoring, bench_vad_limit
from benchmarks.memory import bench_memory
from benchmarks.music_scoring import bench_music_run, bench_music_scoring
from benchmarks.render import bench_chart, bench_render
from benchmarks.scan import bench_incremental_scan
from benchmarks.startup import bench_cold_start, bench_overhead
from benchmarks.tokenizer import bench_tokenizer

# name → how to run it, given the work folder and --quick
REGISTRY: dict[str, Callable[[Path, bool], object]] = {
    "image": lambda work, quick: bench_image_scoring(work, 24 if quick else 200, 1 if quick else 2),
    "generation": lambda work, quick: bench_generation(256 if quick else 1024, 1 if quick else 2),
    "batched": lambda work, quick: bench_batched_generation(32 if quick else 64, 1 if quick else 2),
    "music": lambda work, quick: bench_music_scoring(work, 8 if quick else 48),
    "music-run": lambda work, quick: bench_music_run(work, 8 if quick else 48),
    "vad-limit": lambda work, quick: bench_vad_limit(work, 16 if quick else 96, 1 if quick else 2),
    "cold-start": lambda work, quick: bench_cold_start(work, 1 if quick else 3),
    "scan": lambda work, quick: bench_incremental_scan(work, 2_000 if quick else 10_000, 1 if quick else 3),
    "tokenizer": lambda work, quick: bench_tokenizer(PROJECT / "data/sample/emopia/midis"),
    "overhead": lambda work, quick: bench_overhead(work),
    "memory": lambda work, quick: bench_memory(work, 50 if quick else 200, 200 if quick else 2000),
    "render": lambda work, quick: record_all(bench_render(work, 8 if quick else 40, 4 if quick else 20)),
    "chart": lambda work, quick: record_all(bench_chart(work, 20 if quick else 200)),
    "catalog": bench_catalog,
}


def main() -> None:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and steps (a smoke run, not the figures)")
    parser.add_argument("--only", nargs="*", choices=list(REGISTRY), default=None, help="run only these")
    parser.add_argument("--work", type=Path, default=PROJECT / ".benchmarks", help="cache of generated inputs")
    options = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = options.work
    work.mkdir(exist_ok=True)
    for name, run in REGISTRY.items():
        if options.only is None or name in options.only:
            print(f"{name} …", flush=True)
            run(work, options.quick)
    print("\n| benchmark | measured as | ratio | target | met |\n|---|---|---|---|---|")
    for row in RESULTS:
        print(
            f"| {row['benchmark']} | {row['measured as']} | {row['ratio']:.2f} | {row['target']} | "
            f"{'yes' if row['met'] else 'no'} |"
        )
    (work / "results.json").write_text(json.dumps(RESULTS, indent=1))
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

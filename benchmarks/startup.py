"""Start-up: the first row of `emoscore score one.jpg`, and the orchestration's overhead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import PROJECT, photos, record, scorer_for, timed, trained_params
from emoscore.scoring.listing import hash_images, iter_library


def bench_cold_start(work: Path, repeats: int) -> None:
    """Wall time of `emoscore score one.jpg` from a cold process to its row in a new catalog."""
    if trained_params() is None:
        return
    one = next(iter(sorted(photos(work / "photos_1600", 1, (1600, 1200), seed=4).glob("*.jpg"))))
    command = [str(Path(sys.executable).parent / "emoscore"), "score", str(one), "--params", "params.yaml", "--json"]
    environment = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    times = {}
    for label, extra, runs in (("ours", [], repeats), ("as a Prefect flow", ["--prefect"], 1)):
        best = float("inf")
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as catalog:
                run = [*command, "--catalog", catalog, *extra]
                elapsed, done = timed(
                    lambda run=run: subprocess.run(run, cwd=PROJECT, capture_output=True, text=True, env=environment)
                )
                assert done.returncode == 0 and json.loads(done.stdout)["scored"] == 1, done.stderr[-500:]
                best = min(best, elapsed)
        times[label] = best
    record(
        "cold start to first row",
        "seconds, `emoscore score one.jpg`, new process and catalog",
        times["ours"],
        "≤ 8 s",
        times["ours"] <= 8,
        f"as a Prefect flow (temporary server): {times['as a Prefect flow']:.1f} s; "
        f"with music, preview audio and chart; best of {repeats}",
    )


def bench_overhead(work: Path) -> None:
    """No-op `dvc repro` wall time, and Prefect's per-task cost as a share of a scoring chunk."""
    if (PROJECT / "dvc.lock").exists():
        environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        noop, result = timed(
            lambda: subprocess.run(["dvc", "repro"], cwd=PROJECT, capture_output=True, text=True, env=environment)
        )
        up_to_date = "up to date" in result.stdout or "didn't change" in result.stdout
        detail = "everything up to date" if up_to_date else "stages were NOT up to date: run `dvc repro` first"
        record("no-op dvc repro", "seconds", noop, "≤ 5 s", noop <= 5 and up_to_date, detail)
    from prefect import flow, task

    import emoscore_tasks  # noqa: F401

    @task
    def nothing(index: int) -> int:
        return index

    @flow
    def many_tasks(count: int) -> float:
        start = time.perf_counter()
        futures = [nothing.submit(i) for i in range(count)]
        assert [f.result() for f in futures] == list(range(count))
        return (time.perf_counter() - start) / count

    per_task = many_tasks(50)
    library = photos(work / "photos_small", 64, (1024, 768), seed=1)
    files = [f for f in hash_images(iter_library(library)) if not isinstance(f, tuple)]
    scorer = scorer_for(work)
    list(scorer.iter_vad(files[:4]))
    chunk_time, _ = timed(lambda: list(scorer.iter_vad(files)))
    scorer.close()
    share = per_task / (chunk_time + per_task)
    record(
        "Prefect per-task overhead",
        "task overhead ÷ (one 64-image chunk + overhead)",
        share,
        "≤ 5%",
        share <= 0.05,
        f"{per_task * 1000:.0f} ms per task, {chunk_time:.1f} s per chunk",
    )

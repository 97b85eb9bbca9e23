"""Memory: peak RSS of a scoring run over 2,000 images against 200 (main process and largest worker)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import PROJECT, photos, record, scorer_for
from emoscore.catalog.store import Catalog
from emoscore.scoring.library import score_library


def bench_memory(work: Path, small: int, large: int) -> None:
    """Peak RSS of a scoring run over `large` images vs `small` images (the scoring path that writes the catalog),
    for the main process and for the largest worker. A small model keeps the run short and the test strict: a
    big model's fixed memory would only dilute any growth."""
    library = photos(work / "photos_memory", large, (640, 480), seed=2)
    subset = work / "photos_memory_subset"
    subset.mkdir(exist_ok=True)
    for path in sorted(library.iterdir())[:small]:
        if not (subset / path.name).exists():
            os.link(path, subset / path.name)
    peaks = {}
    for name, folder in (("small", subset), ("large", library)):
        with tempfile.TemporaryDirectory() as catalog:
            output = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory", str(folder), catalog, str(work)],
                cwd=PROJECT,
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[name] = [int(kb) / 1024 for kb in output.stdout.strip().splitlines()[-1].split()]
    (main_small, worker_small), (main_large, worker_large) = peaks["small"], peaks["large"]
    ratio = max(main_large / main_small, worker_large / worker_small)
    record(
        "memory",
        f"peak RSS {large} images ÷ {small} images",
        ratio,
        "≤ 1.3×",
        ratio <= 1.3,
        f"main process {main_small:.0f} → {main_large:.0f} MB, largest worker {worker_small:.0f} → "
        f"{worker_large:.0f} MB",
    )


def scoring_run_peaks(library: Path, catalog: Path, work: Path) -> tuple[int, int]:
    """Score `library` into `catalog` in this process; the peak RSS (KiB) of this process and of its workers."""
    scorer = scorer_for(work, small=True)

    class Now:
        def __init__(self, files: list) -> None:
            self.rows = scorer.score_files(files, catalog)

        def result(self) -> list[dict]:
            return self.rows

    score_library(library, Catalog(catalog), scorer.identity, Now, chunk_size=64, progress=False)
    scorer.close()  # joins the worker processes, so their peaks are in RUSAGE_CHILDREN
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's high-water mark across fork and exec)
    with open("/proc/self/status") as status:
        main = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return main, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


if __name__ == "__main__":  # the measured run, in a fresh process: python -m benchmarks.memory LIBRARY CATALOG WORK
    print(*scoring_run_peaks(*(Path(argument) for argument in sys.argv[1:4])))

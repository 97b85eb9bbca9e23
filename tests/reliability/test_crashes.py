"""Crash and concurrency drills (slow): SIGKILL at many points — media half written, media written, a commit in
flight, after a commit — then a rerun; and four scoring runs at once. The catalog must end readable, with every
image exactly once, and the next run must finish the work."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from emoscore.catalog.store import Catalog
from emoscore.scoring.library import score_library
from tests.helpers import PROJECT, Now, photo, read_catalog

pytestmark = pytest.mark.slow

KILLABLE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from emoscore.catalog import delta
    from emoscore.catalog.store import Catalog
    from emoscore.config import load_params
    from emoscore.scoring.library import score_library
    from emoscore.scoring.scorer import Scorer

    params, library, catalog, pause = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    commit = delta.commit_new

    def slow_commit(*args, **kwargs):  # widen the window between a chunk's media being written and its commit
        print("writing", flush=True)
        time.sleep(pause)
        return commit(*args, **kwargs)

    delta.commit_new = slow_commit
    scorer = Scorer.from_params(load_params(params))

    class Now:
        def __init__(self, files):
            self.rows = scorer.score_files(files, catalog)
        def result(self):
            return self.rows

    score_library(library, Catalog(catalog), scorer.identity, Now, chunk_size=1, progress=False)
    """
)


def _run(project_dir, library, catalog, pause):
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-c", KILLABLE, str(project_dir / "params.yaml"), str(library), str(catalog), str(pause)]
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _each_once(catalog, count):
    raw = Catalog(catalog).dataset().to_table(columns=["image_id"]).column(0).to_pylist()
    assert len(raw) == len(set(raw)) == count, (len(raw), len(set(raw)))
    assert read_catalog(catalog).num_rows == count
    for row in read_catalog(catalog).to_pylist():  # every committed row's media is there
        assert all((catalog / row[c]).is_file() for c in ("midi_path", "chart_path") if row[c])


def _committed(catalog):
    return Catalog(catalog).dataset().count_rows() if catalog.exists() else 0


KILL_POINTS = 12


def test_sigkill_at_many_points_loses_and_duplicates_nothing(tmp_path, project, scorer):
    rng = random.Random(7)
    library = tmp_path / "library"
    for index in range(8):
        photo(library / f"{index}.jpg", size=(60 + index, 40))
    outcomes = []
    for point in range(KILL_POINTS):
        catalog = tmp_path / f"catalog{point}"
        process = _run(project, library, catalog, pause=1.0)
        if point % 2:  # kill while a chunk's media are written and its commit is about to go
            writes = rng.randint(1, 4)
            for _ in range(writes):
                assert process.stdout.readline().strip() == "writing"
            time.sleep(0.3)
        else:  # kill at a random moment
            time.sleep(rng.uniform(0.5, 8.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        before = _committed(catalog)
        summary = score_library(
            library,
            Catalog(catalog),
            scorer.identity,
            lambda f, c=catalog: Now(scorer.score_files(f, c)),
            progress=False,
        )
        _each_once(catalog, 8)
        outcomes.append((before, summary.scored))
    assert all(before + scored == 8 for before, scored in outcomes)
    print(f"{KILL_POINTS} kill points, 0 lost, 0 duplicated; rows before rerun: {[b for b, _ in outcomes]}")


def test_four_runs_at_once(tmp_path, project):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    for index in range(10):
        photo(library / f"{index}.png", size=(50 + index, 40))
    processes = [_run(project, library, catalog, pause=0.0) for _ in range(4)]
    for process in processes:
        assert process.wait(timeout=600) == 0, process.stderr.read()[-2000:]
    _each_once(catalog, 10)

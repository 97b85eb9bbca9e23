"""Scoring worker processes must not outlive a scoring run that is SIGKILLed (each holds a copy of the model)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from tests.helpers import PROJECT, photo

SCORE_FOREVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from emoscore.config import load_params
    from emoscore.scoring.listing import hash_images, iter_library
    from emoscore.scoring.scorer import Scorer

    params = load_params(sys.argv[1])
    params = params.model_copy(update={"score": params.score.model_copy(update={"workers": 2})})
    scorer = Scorer.from_params(params)
    files = list(hash_images(iter_library(Path(sys.argv[2])))) * 10_000
    for prepared, _ in scorer.pool.iter_vad(files):
        print(prepared.file.path, flush=True)
    """
)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_exit_when_the_scoring_process_is_killed(tmp_path, project):
    for index in range(4):
        photo(tmp_path / "library" / f"p{index}.jpg")
    command = [sys.executable, "-c", SCORE_FOREVER, str(project / "params.yaml"), str(tmp_path / "library")]
    run = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(PROJECT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None and run.stdout.readline().endswith(".jpg\n")  # the workers are scoring
        workers = _children(run.pid)
        assert len(workers) >= 2
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "scoring workers outlived their killed parent"

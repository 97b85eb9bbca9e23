"""How `emoscore score` starts and ends: its workers are spawned before it loads its models and adopted by the run,
never left behind when the run cannot start; the console script ends the way Python would (exit handlers run,
threads joined, exit code kept), only without tearing down every module."""

import json
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from emoscore.catalog.store import Catalog
from emoscore.scoring import spawning
from emoscore_flows.cli import app
from tests.helpers import PROJECT, photo, tiny_project

runner = CliRunner()


@pytest.fixture(scope="module")
def pooled_project(tmp_path_factory):
    return tiny_project(tmp_path_factory.mktemp("pooled"), workers=2)


@pytest.fixture()
def spawned(monkeypatch):
    """Every pool `spawning.spawn_workers` made: whether it started its processes, and the processes."""
    made = []
    original = spawning.spawn_workers

    def recording(checkpoint, settings, *, start=True):
        pool = original(checkpoint, settings, start=start)
        made.append((start, pool._processes))  # the pool forgets them when it shuts down
        return pool

    monkeypatch.setattr(spawning, "spawn_workers", recording)
    return made


def test_a_folder_run_adopts_the_workers_it_spawned_first_and_closes_them(pooled_project, tmp_path, spawned):
    for index in range(5):
        photo(tmp_path / "library" / f"p{index}.jpg", size=(40 + 7 * index, 30))
    params = ["--params", str(pooled_project / "params.yaml"), "--no-prefect", "--json"]
    result = runner.invoke(app, ["score", str(tmp_path / "library"), "--catalog", str(tmp_path / "cat"), *params])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scored"] == 5
    assert len(Catalog(tmp_path / "cat").read()) == 5
    assert len(spawned) == 1 and spawned[0][0]  # spawned once, at the start, and the run used that pool
    _all_ended(spawned[0][1])


def test_one_photo_is_scored_without_workers(pooled_project, tmp_path, spawned):
    photo(tmp_path / "one.jpg")
    params = ["--params", str(pooled_project / "params.yaml"), "--no-prefect", "--json"]
    result = runner.invoke(app, ["score", str(tmp_path / "one.jpg"), "--catalog", str(tmp_path / "cat"), *params])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scored"] == 1 and not spawned


def test_workers_spawned_for_a_run_that_cannot_start_are_stopped(pooled_project, tmp_path, spawned):
    photo(tmp_path / "library" / "p.jpg")
    (tmp_path / "not-a-folder").write_text("a file where the catalog should go")
    params = ["--params", str(pooled_project / "params.yaml"), "--no-prefect"]
    result = runner.invoke(
        app, ["score", str(tmp_path / "library"), "--catalog", str(tmp_path / "not-a-folder"), *params]
    )
    assert result.exit_code == 2 and "not-a-folder" in result.output
    assert len(spawned) == 1
    _all_ended(spawned[0][1])


def _all_ended(processes: dict) -> None:
    assert processes  # the workers did start
    for process in list(processes.values()):
        process.join(timeout=60)
        assert not process.is_alive()


MAIN = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from emoscore_flows.cli import main

    atexit.register(lambda: print("exit handler ran", flush=True))
    late = threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished", flush=True)))
    late.start()
    sys.argv = ["emoscore", *sys.argv[1:]]
    main()
    print("never reached")
    """
)


@pytest.mark.parametrize(
    ("arguments", "code", "says"),
    [(["--version"], 0, "emoscore"), (["score", "/no/such/folder"], 2, "library folder not found"), (["bogus"], 2, "")],
)
def test_the_console_script_ends_as_python_would(arguments, code, says):
    done = subprocess.run(
        [sys.executable, "-c", MAIN, *arguments], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stderr[-2000:]
    assert says in done.stdout + done.stderr
    assert "thread finished" in done.stdout and done.stdout.rstrip().endswith("exit handler ran")
    assert "never reached" not in done.stdout

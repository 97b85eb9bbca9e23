"""Drills for a catalog on a shared store (slow), each against the S3 server and against local disk: `emoscore
score` processes on overlapping libraries at once, as separate machines (each its own cache, so no advisory lock
is shared); a writer SIGKILLed at each step of a chunk; the store frozen mid-run; bad locations refused in one
line with nothing written."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from emoscore.catalog.store import Catalog
from tests.helpers import PROJECT, media_bytes, photo, read_catalog
from tests.s3 import S3Server

pytestmark = pytest.mark.slow
EMOSCORE = [sys.executable, "-m", "emoscore_flows.cli"]


def score(library, catalog, project, cache, *, wait=True, extra=()):
    """`emoscore score` in its own process, as one machine (its own cache folder) would run it."""
    environment = {**os.environ, "PYTHONPATH": str(PROJECT), "XDG_CACHE_HOME": str(cache)}
    command = [*EMOSCORE, "score", str(library), "--catalog", str(catalog), "--no-prefect", "--json"]
    command += ["--params", str(project / "params.yaml"), *extra]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return process
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def each_once(catalog, expected):
    """Every image once, and the media every row names readable through the catalog."""
    ids = Catalog(catalog).dataset().to_table(columns=["image_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids)) == expected, (len(ids), len(set(ids)))
    for row in read_catalog(catalog).to_pylist():
        if row["status"] == "ok":
            assert media_bytes(catalog, row["midi_path"]).startswith(b"MThd")


def media_files(catalog):
    """Every file under the catalog's media folders, as rows name them."""
    import pyarrow.fs as pafs

    location = Catalog(catalog).location
    base = location.fs_path(location.uri).rstrip("/") + "/"
    found = set()
    for folder in ("midi", "audio", "charts"):
        selector = pafs.FileSelector(location.fs_path(location.join(folder)), recursive=True, allow_not_found=True)
        for info in location.filesystem().get_file_info(selector):
            if info.type == pafs.FileType.File:
                found.add(info.path.removeprefix(base))
    return found


@pytest.fixture(params=["disk", "s3"])
def catalog(request, tmp_path):
    return str(tmp_path / "catalog") if request.param == "disk" else request.getfixturevalue("s3")


def test_four_machines_on_overlapping_libraries_score_each_image_once(catalog, project, tmp_path):
    root = tmp_path / "photos"
    for index in range(12):
        photo(root / f"album{index % 3}" / f"{index}.jpg", size=(60 + index, 44))
    libraries = [root, root / "album0", root / "album1", root]  # overlapping: the whole and its parts
    processes = [
        score(library, catalog, project, tmp_path / f"machine{n}", wait=False) for n, library in enumerate(libraries)
    ]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    each_once(catalog, 12)


@pytest.mark.parametrize("moment", ["media half written", "media written", "commit in flight", "after the commit"])
def test_a_writer_killed_at_each_step_of_a_chunk_loses_nothing(catalog, project, tmp_path, moment):
    """The run is paused at the step (a hook in a sitecustomize the subprocess imports) and SIGKILLed there."""
    library = tmp_path / "library"
    for index in range(6):
        photo(library / f"{index}.jpg", size=(64 + index, 48))
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HOOK)
    environment = {"EMOSCORE_DRILL_STEP": moment, "PYTHONPATH": f"{hooks}:{PROJECT}"}
    if catalog.startswith("s3://"):
        environment["EMOSCORE_DRILL_REMOTE"] = "1"
    process = subprocess.Popen(
        [
            *EMOSCORE,
            "score",
            str(library),
            "--catalog",
            catalog,
            "--no-prefect",
            "--params",
            str(project / "params.yaml"),
        ],
        env={**os.environ, **environment, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    marker = tmp_path / "hooks" / "reached"
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), process.stderr.read()[-2000:]
    time.sleep(0.0 if moment == "commit in flight" else 0.3)  # inside the step (a commit takes ~0.1 s)
    process.send_signal(signal.SIGKILL)
    process.wait()
    code, _, err = score(library, catalog, project, tmp_path / "cache")
    assert code == 0, err[-2000:]
    each_once(catalog, 6)
    Catalog(catalog).vacuum(retention_hours=0)  # what a killed writer left and no row names goes
    named = {r[c] for r in read_catalog(catalog).to_pylist() for c in ("midi_path", "chart_path") if r[c]}
    assert media_files(catalog) == named


# Pauses the first chunk at a named step: writes `reached` beside itself and sleeps so the drill can kill it there.
HOOK = """
import os, time
from pathlib import Path

STEP = os.environ.get("EMOSCORE_DRILL_STEP")
REACHED = Path(__file__).with_name("reached")


def pause():
    REACHED.write_text(STEP)
    time.sleep(600)


if STEP:
    from emoscore.catalog import delta, store

    if STEP == "media half written" and not os.environ.get("EMOSCORE_DRILL_REMOTE"):
        import emoscore.scoring.scorer as scorer

        write, written = scorer.write_piece, []

        def writing(*args, **kwargs):  # on disk: the second piece of the chunk written, the rest not
            piece = write(*args, **kwargs)
            written.append(piece)
            if len(written) == 2:
                pause()
            return piece

        scorer.write_piece = writing
    elif STEP == "media half written":
        upload = store.Catalog.upload

        def uploading(self, staging):  # in a store: half the chunk's media uploaded, the rest not
            files = sorted(p for p in staging.rglob("*") if p.is_file())
            half = staging.with_name(staging.name + "-half")
            for path in files[: len(files) // 2]:
                target = half / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
            upload(self, half)
            pause()

        store.Catalog.upload = uploading
    elif STEP == "media written":
        def before_commit(*args, **kwargs):
            pause()

        delta.commit_new = before_commit
    elif STEP == "commit in flight":
        from deltalake import DeltaTable

        merge = DeltaTable.merge

        class Slow:
            def __init__(self, builder):
                self.builder = builder

            def __getattr__(self, name):
                attribute = getattr(self.builder, name)
                if name == "execute":
                    def execute():
                        REACHED.write_text(STEP)
                        return attribute()
                    return execute
                return lambda *a, **k: Slow(attribute(*a, **k))

        DeltaTable.merge = lambda self, *a, **k: Slow(merge(self, *a, **k))
    elif STEP == "after the commit":
        commit = delta.commit_new

        def after(*args, **kwargs):
            done = commit(*args, **kwargs)
            pause()
            return done

        delta.commit_new = after
"""


def test_the_store_frozen_mid_run_then_back(s3, s3_server, project, tmp_path):
    """moto keeps its objects in memory, so the store is frozen (SIGSTOP) rather than restarted: requests hang as
    they would on a partitioned network, then it answers again. The run completes, or exits 2 with one clear line;
    the next run completes; each image once."""
    library = tmp_path / "library"
    for index in range(9):
        photo(library / f"{index}.jpg", size=(64 + index, 48))
    process = score(library, s3, project, tmp_path / "cache", wait=False)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if Catalog(s3).dataset().count_rows() >= 3:
                break
        except Exception:  # the table may not exist yet
            pass
        time.sleep(0.2)
    os.kill(s3_server.process.pid, signal.SIGSTOP)
    time.sleep(6)
    os.kill(s3_server.process.pid, signal.SIGCONT)
    _, err = process.communicate(timeout=600)
    if process.returncode != 0:
        assert process.returncode == 2 and "Traceback" not in err, err[-2000:]
    code, _, err = score(library, s3, project, tmp_path / "cache")
    assert code == 0, err[-2000:]
    each_once(s3, 9)


def test_locations_that_cannot_be_a_catalog_are_one_clear_line(s3_server, project, tmp_path, monkeypatch):
    library = tmp_path / "library"
    photo(library / "a.jpg")
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    not_delta = tmp_path / "notdelta"
    (not_delta / "images").mkdir(parents=True)
    (not_delta / "images" / "data.csv").write_text("a,b\n")
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    locked = S3Server(tmp_path / "auth.log")  # a store that checks credentials: every key here is unknown to it
    locked_env = {"INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")
    locked.start()
    monkeypatch.delenv("INITIAL_NO_AUTH_ACTION_COUNT")
    try:
        cases = {
            "not a Delta table": (str(not_delta), {}),
            "a file": (str(a_file), {}),
            "missing bucket": ("s3://no-such-bucket-anywhere/catalog", {}),
            "wrong credentials": ("s3://any-bucket/catalog", {"AWS_ENDPOINT_URL": locked.endpoint, **locked_env}),
        }
        for case, (where, overrides) in cases.items():
            environment = {**os.environ, **overrides, "PYTHONPATH": str(PROJECT), "XDG_CACHE_HOME": str(tmp_path)}
            command = [*EMOSCORE, "score", str(library), "--catalog", where, "--no-prefect"]
            result = subprocess.run(
                [*command, "--params", str(project / "params.yaml")], env=environment, capture_output=True, text=True
            )
            lines = [line for line in (result.stdout + result.stderr).strip().splitlines() if line.strip()]
            assert result.returncode == 2, (case, result.stderr[-2000:])
            assert "Traceback" not in result.stderr and len(lines) <= 3, (case, lines)
            assert where.split("/")[-2 if where.startswith("s3") else -1] in result.stderr, (case, lines)
        assert sorted(p.name for p in (not_delta / "images").iterdir()) == ["data.csv"]
        assert a_file.read_text() == "x"
    finally:
        locked.stop()
    print(json.dumps({"refused": list(cases)}))

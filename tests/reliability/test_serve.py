"""`emoscore serve` for real (slow): tick after tick over a library that changes, with its own Prefect server and
with one that is not its own, stopped by SIGINT or SIGTERM at every kind of moment — exit 0 within 10 s, nothing
left running, the catalog whole."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from emoscore.catalog.table import catalog_lock
from emoscore_flows.serve import free_port, healthy
from tests.helpers import PROJECT, photo, read_catalog, tiny_project

pytestmark = pytest.mark.slow
TICK = re.compile(r"tick (\d+): scored (\d+), failed (\d+), already done (\d+), skipped (\d+), ([\d.]+) s")


class Serve:
    """One `emoscore serve` in a process group of its own, its log in a file (a pipe nobody reads would block)."""

    def __init__(
        self,
        tmp_path: Path,
        project: Path,
        *schedule: str,
        environment: dict | None = None,
    ) -> None:
        self.library, self.catalog, self.log = tmp_path / "library", tmp_path / "catalog", tmp_path / "serve.log"
        self.library.mkdir(exist_ok=True)
        environment = environment or {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
        command = [
            sys.executable,
            "-m",
            "emoscore_flows.cli",
            "serve",
            "--library",
            str(self.library),
            "--catalog",
            str(self.catalog),
            *schedule,
            "--params",
            str(project / "params.yaml"),
        ]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT,
                env={**environment, "PYTHONPATH": str(PROJECT)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ticks(self) -> list[tuple[int, ...]]:
        """(tick, scored, failed, already done, skipped) of each tick logged so far."""
        return [tuple(int(value) for value in found[:5]) for found in TICK.findall(self.text())]

    def wait_for(self, condition, what: str, timeout: float = 240) -> None:
        deadline = time.time() + timeout
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"serve exited ({self.process.returncode}) before {what}:\n{self.text()[-3000:]}")
            if time.time() > deadline:
                self.kill()
                pytest.fail(f"not within {timeout:.0f} s: {what}\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def processes(self) -> list[psutil.Process]:
        """serve and everything it started (its process group: the server, the workers)."""
        return [process for process in psutil.process_iter() if _group(process) == self.process.pid]

    def stop(self, stop: signal.Signals, whole_group: bool) -> float:
        """Send `stop` (to the whole group, as a terminal's Ctrl-C does, or to serve alone, as `kill` does): serve
        must exit 0 within 10 s and leave no process of its group running. Returns the seconds it took."""
        started = time.monotonic()
        if whole_group:
            os.killpg(self.process.pid, stop)
        else:
            self.process.send_signal(stop)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"serve did not exit within 10 s of {stop.name}:\n{self.text()[-3000:]}")
        took = time.monotonic() - started
        assert self.process.returncode == 0, f"serve exited with {self.process.returncode}:\n{self.text()[-3000:]}"
        time.sleep(0.5)  # a process being reaped as serve exits
        left = [_described(process) for process in self.processes() if _alive(process)]
        if left:
            self.kill()
            pytest.fail(f"still running after serve exited: {left}\n{self.text()[-2000:]}")
        assert "Traceback" not in self.text(), self.text()[-3000:]
        return took

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _alive(process: psutil.Process) -> bool:
    """Running, not merely a zombie waiting for a parent to reap it (a container's init may never)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _described(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:200]
    except psutil.Error:
        return str(process.pid)


def _group(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, psutil.Error):
        return None


def catalog_is_whole(catalog: Path) -> list[dict]:
    """The catalog reads, holds each image once, and its lock is free (nobody left holding it)."""
    rows = read_catalog(catalog).to_pylist() if catalog.exists() else []
    assert len({row["image_id"] for row in rows}) == len(rows)
    with catalog_lock(catalog, wait=False):
        pass
    return rows


@pytest.fixture(scope="module")
def pooled_project(tmp_path_factory):
    """The tiny models with two scoring worker processes, as a user's machine runs them."""
    return tiny_project(tmp_path_factory.mktemp("pooled"), workers=2)


@pytest.fixture(scope="module")
def outside_server(tmp_path_factory):
    """A Prefect server that is not serve's: started here on 127.0.0.1 and stopped at the end of the module."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = tmp_path_factory.mktemp("prefect-home")
    environment = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    environment["PREFECT_HOME"] = str(home)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while not healthy(url):
        assert server.poll() is None and time.time() < deadline, "the test's Prefect server did not start"
        time.sleep(1)
    yield url, {**environment, "PREFECT_API_URL": url}
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def flow_runs(url: str, name: str) -> list[dict]:
    """The flow runs the server holds whose name starts with `name`."""
    query = json.dumps({"flow_runs": {"name": {"like_": name}}, "limit": 200}).encode()
    request = urllib.request.Request(
        f"{url}/flow_runs/filter", data=query, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize(
    ("stop", "whole_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["ctrl-c", "sigterm"]
)
def test_every_tick_runs_and_a_photo_added_between_ticks_is_scored_on_the_next(
    tmp_path, pooled_project, stop, whole_group
):
    serve = Serve(tmp_path, pooled_project, "--every", "5s")
    photo(serve.library / "a.jpg")
    photo(serve.library / "b.png")
    serve.wait_for(lambda: any(tick[1] == 2 for tick in serve.ticks()), "the first tick scored the library")
    photo(serve.library / "c.jpg")
    serve.wait_for(lambda: any(tick[1] == 1 for tick in serve.ticks()), "a later tick scored the photo added")
    count = len(serve.ticks())
    serve.wait_for(lambda: len(serve.ticks()) >= count + 2, "two more ticks ran")
    assert all(tick[2] == 0 for tick in serve.ticks())
    serve.stop(stop, whole_group)
    rows = catalog_is_whole(serve.catalog)
    assert sorted(Path(row["path"]).name for row in rows) == ["a.jpg", "b.png", "c.jpg"]
    assert {row["status"] for row in rows} == {"ok"}


def test_serve_stops_within_seconds_whenever_the_signal_comes(tmp_path, pooled_project, outside_server):
    """Each start stopped at another moment: while its own server starts, before the first tick, in the middle of
    a tick that is scoring, between ticks, after many ticks; Ctrl-C to the group and SIGTERM to serve in turn."""
    url, environment = outside_server
    moments = {
        "while its server starts": (None, lambda serve: time.sleep(3)),
        # once its handlers are in (the CLI's imports, ~0.5 s); before that a signal ends Python as it ends any program
        "before the first tick": (environment, lambda serve: time.sleep(1.0)),
        "during a tick": (environment, lambda serve: serve.wait_for(lambda: "scoring" in serve.text(), "serving")),
        "between ticks": (environment, lambda serve: serve.wait_for(lambda: serve.ticks(), "a tick")),
        "after many ticks": (environment, lambda serve: serve.wait_for(lambda: len(serve.ticks()) >= 4, "4 ticks")),
    }
    took = {}
    for attempt, (moment, (env, reach)) in enumerate(moments.items()):
        folder = tmp_path / f"start{attempt}"
        folder.mkdir()
        serve = Serve(folder, pooled_project, "--every", "3s", environment=env)
        for index in range(12):  # a first tick with enough work to be caught in the middle
            photo(serve.library / f"p{index}.jpg", size=(320, 240))
        reach(serve)
        stop, whole_group = ((signal.SIGINT, True), (signal.SIGTERM, False))[attempt % 2]
        took[moment] = serve.stop(stop, whole_group)
        catalog_is_whole(serve.catalog)
    assert healthy(url), "stopping serve stopped a Prefect server it did not start"
    print(json.dumps({"seconds to stop": took}))


@pytest.mark.parametrize("server", ["own", "outside"])
def test_soak_twenty_ticks_over_a_growing_library(tmp_path, pooled_project, outside_server, server):
    """`--every 5s` for 22 ticks, photos added before most ticks and one removed now and then: every photo scored
    once, within two ticks of being added; no process started after the first tick; memory flat; runs in the API."""
    url, outside_environment = outside_server
    serve = Serve(
        tmp_path, pooled_project, "--every", "5s", environment=outside_environment if server == "outside" else None
    )
    added: dict[str, float] = {}  # photos added while serving, and when
    for index in range(3):
        photo(serve.library / f"start{index}.jpg")
    serve.wait_for(lambda: serve.ticks(), "the first tick")
    family, memory, counts, seen_ticks = None, {}, [], 1
    while seen_ticks < 22:
        tick = len(serve.ticks())
        if tick != seen_ticks:
            seen_ticks = tick
            for number in range(tick % 3):
                added[photo(serve.library / f"t{tick}-{number}.jpg").name] = time.time()
            if tick % 7 == 0:
                victim = sorted(serve.library.iterdir())[0]
                victim.unlink()
                added.pop(victim.name, None)
        processes = [process for process in serve.processes() if _alive(process)]
        pids = {process.pid for process in processes}
        family = family or pids
        counts.append(len(pids))
        with contextlib.suppress(psutil.NoSuchProcess):
            memory[tick] = sum(process.memory_info().rss for process in processes)
        assert time.time() - serve.log.stat().st_ctime < 400, "the soak ran too long"
        time.sleep(0.5)
    assert set(counts) == {len(family)}, f"process count changed after the first tick: {sorted(set(counts))}"
    serve.wait_for(lambda: len(serve.ticks()) >= seen_ticks + 2, "two more ticks for the last photos added")
    took = serve.stop(signal.SIGINT, whole_group=True)
    rows = catalog_is_whole(serve.catalog)
    scored_at = {Path(row["path"]).name: row["scored_at"].timestamp() for row in rows}
    assert {row["status"] for row in rows} == {"ok"}
    assert {path.name for path in serve.library.iterdir()} <= set(scored_at)
    lag = {name: scored_at[name] - added[name] for name in added}
    ticks = serve.ticks()
    assert max(lag.values()) < 2 * 5 + max(tick_seconds(serve)), lag
    growth = memory[max(memory)] / memory[3] - 1
    assert growth < 0.10, f"memory grew {growth:.1%} from tick 3 to tick {max(memory)}"
    figures = {
        "server": server,
        "ticks": len(ticks),
        "photos": len(added),
        "processes": len(family),
        "rss_tick3_mib": memory[3] / 2**20,
        "rss_last_mib": memory[max(memory)] / 2**20,
        "rss_growth": growth,
        "max_lag_s": max(lag.values()),
        "first_tick_s": tick_seconds(serve)[0],
        "later_tick_s_max": max(tick_seconds(serve)[1:]),
        "stop_s": took,
    }
    print(json.dumps(figures))
    if server == "outside":
        runs = flow_runs(url, "emoscore-library-tick-")
        ours = [run for run in runs if run["parameters"].get("library") == str(serve.library.resolve())]
        assert len(ours) >= len(ticks)
        assert sum(run["state_type"] == "COMPLETED" for run in ours) >= len(ticks)
        assert healthy(url), "stopping serve stopped a Prefect server it did not start"


def tick_seconds(serve: Serve) -> list[float]:
    return [float(found[5]) for found in TICK.findall(serve.text())]

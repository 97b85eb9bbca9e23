"""`emoscore serve`: the scoring flow on a schedule (cron or interval), with no Prefect Cloud and nothing started by
hand, for as long as it runs, and stopped by Ctrl-C or SIGTERM within seconds at any moment.

Each tick is a `score_images` flow run in this process, reported to the Prefect server at PREFECT_API_URL or to
one started here on 127.0.0.1 (stopped on exit). The scoring worker pool stays warm between ticks; ticks never
overlap (emoscore.scoring.schedule). Stopping lets a tick in progress finish for a few seconds; one that runs longer is
marked cancelled in the API and abandoned (each chunk it wrote is in the catalog; the rest is scored next time).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil

from emoscore.catalog.location import absolute_catalog, is_remote
from emoscore.errors import EmoscoreError
from emoscore.models_home import resolve_params
from emoscore.scoring.schedule import Schedule, run_on_schedule

log = logging.getLogger(__name__)

GRACE_S = 4.0  # how long a tick in progress may take to finish after a stop
SERVER_STOP_S = 3.0  # how long the server we started may take to exit before it is killed


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def prefect_server(stop: threading.Event, timeout_s: float = 180.0) -> Iterator[str]:
    """The API URL of a Prefect server: PREFECT_API_URL if set, else one started here and stopped on exit.
    Waiting for its health check ends early when `stop` is set (the URL is then yielded unchecked)."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log.info("starting a local Prefect server on %s", url)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not stop.is_set() and not healthy(url):
            if server.poll() is not None:
                raise EmoscoreError(f"prefect server exited: {(server.stderr.read() if server.stderr else '')[-500:]}")
            if time.monotonic() > deadline:
                raise EmoscoreError(f"prefect server did not become healthy within {timeout_s:.0f} s")
            stop.wait(0.5)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        _end_processes([psutil.Process(server.pid)], SERVER_STOP_S)


def healthy(url: str) -> bool:
    """Whether the Prefect API at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _end_processes(processes: list[psutil.Process], timeout_s: float) -> None:
    """SIGTERM each process and its descendants, SIGKILL what is left after `timeout_s`."""
    everyone: list[psutil.Process] = []
    for process in processes:
        try:
            everyone += [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for process in everyone:
        with suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(everyone, timeout=timeout_s)
    for process in alive:
        with suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=2)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (handlers restored on the way out); serving winds down from there."""

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.warning("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, request_stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@dataclass
class ServeJob:
    """What every tick scores: the flow's parameters, fixed when serving starts."""

    library: Path | str
    catalog: str | None
    params: Path
    name: str
    models: Path | None = None

    def parameters(self) -> dict:
        """The score_images flow's parameters (absolute paths: rows and logs say where files are)."""
        return {
            "library": self.library if is_remote(str(self.library)) else str(Path(self.library).resolve()),
            "catalog": absolute_catalog(self.catalog) if self.catalog else None,
            "params_path": str(self.params.resolve()),
            "wait_for_lock": False,
            "models": str(self.models.expanduser().resolve()) if self.models else None,
            "keep_workers": True,
            "progress": False,
        }


class Ticks:
    """One scoring flow run per tick, each summarised in one log line; the flow run in progress is known, so a
    stop that cannot wait for it can mark it cancelled."""

    def __init__(self, job: ServeJob) -> None:
        from emoscore_flows.score_images import score_images  # after PREFECT_API_URL is set

        self.job, self.running = job, None
        self.flow = score_images.with_options(on_running=[self._started])
        self.parameters = job.parameters()

    def _started(self, flow: object, flow_run: object, state: object) -> None:
        self.running = flow_run.id

    def __call__(self, number: int) -> None:
        """Run tick `number`; a failure is logged and serving goes on (the next tick tries again)."""
        started = time.monotonic()
        try:
            summary = self.flow.with_options(flow_run_name=f"{self.job.name}-tick-{number}")(**self.parameters)
        except Exception as error:  # a tick that fails (server gone, disk full) must not end serving
            log.error("tick %d failed after %.1f s: %s", number, time.monotonic() - started, error)
            return
        finally:
            self.running = None
        seconds = time.monotonic() - started
        if "skipped_run" in summary:
            log.warning("tick %d skipped (%.1f s): %s", number, seconds, summary["skipped_run"])
            return
        skipped = sum(summary.get("skipped", {}).values())
        log.info(
            "tick %d: scored %d, failed %d, already done %d, skipped %d, %.1f s",
            number,
            summary["scored"],
            summary["failed"],
            summary["already_done"],
            skipped,
            seconds,
        )

    def cancel_running(self) -> None:
        """Mark the flow run in progress cancelled in the API (best effort: the stop goes on regardless)."""
        run_id = self.running
        if run_id is None:
            return
        try:
            from prefect.client.orchestration import get_client
            from prefect.states import Cancelled

            with get_client(sync_client=True, httpx_settings={"timeout": 1.5}) as client:
                client.set_flow_run_state(run_id, Cancelled(message="emoscore serve was stopped"), force=True)
        except Exception as error:
            log.warning("could not mark flow run %s cancelled: %s", run_id, error)


def serve_library(
    library: Path | str, schedule: Schedule, *, catalog: str | None, params: Path, name: str, models: Path | None = None
) -> None:
    """Score what is new under `library` at each tick of `schedule` until SIGINT or SIGTERM."""
    remote = is_remote(str(library))
    if not remote and not Path(library).is_dir():
        raise EmoscoreError(f"{library}: library folder not found")
    if remote:  # refused now in one line, not at every tick
        from emoscore.scoring.object_library import check_library

        check_library(str(library), resolve_params(Path(params), models).score.catalog_storage)
    for talker in (log, logging.getLogger("emoscore.scoring.schedule")):  # a tick's one line shows without -v
        talker.setLevel(min(talker.getEffectiveLevel(), logging.INFO))
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # serve's own lines, between runs
    job = ServeJob(str(library).rstrip("/") if remote else Path(library), catalog, Path(params), name, models)
    stop = threading.Event()
    with stop_on_signals(stop), prefect_server(stop) as url:
        if stop.is_set():
            return
        ticks = Ticks(job)
        loop = threading.Thread(target=run_on_schedule, args=(schedule, ticks, stop), name="serve-ticks", daemon=True)
        log.info("scoring %s %s (flow runs at %s); Ctrl-C stops", library, schedule.describe(), url)
        loop.start()
        while loop.is_alive() and not stop.wait(1.0):
            pass
        stop.set()
        loop.join(GRACE_S)
        if loop.is_alive():
            _abandon(ticks)
        _release_and_drain()
    log.info("stopped")


def _release_and_drain() -> None:
    """Stop the warm worker pool and send Prefect the logs and events it still holds (before its server goes)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    from emoscore_tasks.score import release_scorers

    release_scorers()
    for drain in (lambda: APILogWorker.instance().drain(), EventsWorker.drain_all):
        try:
            drain()
        except Exception as error:  # nothing to drain, or the server already gone: nothing to lose but logs
            log.debug("draining Prefect's workers: %s", error)


def _abandon(ticks: Ticks) -> None:
    """A tick outlived the grace period: mark its run cancelled, end every process serving started, and exit now
    (its threads cannot be interrupted; each chunk written is in the catalog, the next run picks up the rest)."""
    from emoscore_tasks.score import release_scorers

    log.warning("the tick in progress did not finish within %.0f s of the stop: abandoning it", GRACE_S)
    logging.getLogger("prefect").setLevel(logging.CRITICAL)  # its tasks now fail by our hand: no tracebacks
    release_scorers(abandon=True)
    ticks.cancel_running()
    _end_processes(psutil.Process().children(), SERVER_STOP_S)
    log.info("stopped")
    logging.shutdown()
    os._exit(0)

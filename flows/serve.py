"""`emoscore serve`: the scoring flow on a cron schedule, with no Prefect Cloud and nothing started by hand.

Prefect schedules need a real API server, so we use the one at PREFECT_API_URL when set and otherwise start
`prefect server start` on 127.0.0.1, wait for its health check, serve the flow, and stop the server on exit.
A tick that finds the catalog busy (the previous tick still running) is skipped, never overlapped.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from emoscore.errors import EmoscoreError

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def prefect_server(timeout_s: float = 180.0) -> Iterator[str]:
    """The API URL of a Prefect server: PREFECT_API_URL if set, else one started here and stopped on exit."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log.info("starting a local Prefect server on %s", url)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if server.poll() is not None:
                raise EmoscoreError(f"prefect server exited: {(server.stderr.read() if server.stderr else '')[-500:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise EmoscoreError(f"prefect server did not become healthy within {timeout_s:.0f} s")
            time.sleep(1)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _sigint_as_sigterm(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C stops serving the way SIGTERM does. Left alone, asyncio.run turns the first Ctrl-C into a
    cancellation of the runner's main task, which Prefect's runner can absorb and go on serving (the intermittent
    "serve ignores Ctrl-C" of the serve drill); its SIGTERM handler stops it for certain."""
    os.kill(os.getpid(), signal.SIGTERM)


def _sigterm_before_the_runner(signum: int, frame: FrameType | None) -> None:
    """SIGTERM while the server starts or the deployment registers: unwind, so the server we started is stopped.
    Prefect's runner replaces this with its own graceful handler once it runs."""
    raise KeyboardInterrupt("SIGTERM")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM end serving every time (handlers restored on the way out)."""
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, _sigint_as_sigterm)
    signal.signal(signal.SIGTERM, _sigterm_before_the_runner)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve_library(library: Path, cron: str, catalog: Path | None, params: Path, name: str,
                  models: Path | None = None) -> None:  # fmt: skip
    """Serve the scoring flow on `cron` until interrupted."""
    if not Path(library).is_dir():
        raise EmoscoreError(f"{library}: library folder not found")
    with stop_on_signals(), prefect_server():
        from emoscore_flows.score_images import score_images  # after PREFECT_API_URL is set

        parameters = {
            "library": str(Path(library).resolve()),
            "catalog": str(catalog.resolve()) if catalog else None,
            "params_path": str(Path(params).resolve()),
            "wait_for_lock": False,
            "models": str(Path(models).expanduser().resolve()) if models else None,
        }
        log.info("scoring %s on schedule %r; Ctrl-C stops", library, cron)
        try:
            score_images.serve(name=name, cron=cron, parameters=parameters, limit=1)
        except KeyboardInterrupt:
            log.info("stopped")

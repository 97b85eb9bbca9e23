"""`emoscore serve` for real (slow): starts its own Prefect server, scores on the first cron tick, stops on Ctrl-C
and on SIGTERM."""

import os
import signal
import subprocess
import sys
import time

import pytest

from emoscore.catalog import part_files, read_catalog
from tests.helpers import PROJECT, photo

pytestmark = pytest.mark.slow


def stop_cleanly(server: subprocess.Popen, stop: signal.Signals, output) -> None:
    """Send `stop`; serve must exit 0 within a minute (killed, with its log shown, if it does not)."""
    server.send_signal(stop)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        pytest.fail(f"serve did not stop within 60 s of {stop.name}:\n{output.read_text()[-3000:]}")
    assert server.returncode == 0, f"serve exited with {server.returncode}:\n{output.read_text()[-3000:]}"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_scores_on_schedule_and_stops_cleanly(tmp_path, project, stop):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    photo(library / "a.jpg")
    photo(library / "b.png")
    environment = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    environment["PYTHONPATH"] = str(PROJECT)
    command = [sys.executable, "-m", "emoscore_flows.cli", "serve", "--library", str(library), "--catalog",
               str(catalog), "--cron", "* * * * *", "--params", str(project / "params.yaml")]  # fmt: skip
    output = tmp_path / "serve.log"  # a file, not a pipe nobody reads: a full pipe would block serve's logging
    with output.open("w") as log:
        server = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                  text=True, start_new_session=True)  # fmt: skip
    try:
        deadline = time.time() + 240
        while not part_files(catalog) and time.time() < deadline and server.poll() is None:
            time.sleep(2)
        assert part_files(catalog), f"no cron tick scored the library within 4 minutes:\n{output.read_text()[-3000:]}"
    finally:
        stop_cleanly(server, stop, output)
    deadline = time.time() + 30  # the Prefect server serve started, and any flow-run process, are gone too
    while time.time() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(server.pid, signal.SIGKILL)
        pytest.fail(f"processes of serve were still running 30 s after it exited:\n{output.read_text()[-3000:]}")
    assert sorted(row["status"] for row in read_catalog(catalog).to_pylist()) == ["ok", "ok"]


def test_serve_stops_every_time_whenever_the_signal_comes(tmp_path, project):
    """Ten starts in a row, each stopped at another moment after it began serving (Ctrl-C and SIGTERM in turn): a
    stop that is lost in one phase of start-up shows up here, as the intermittent hang once did."""
    photo(tmp_path / "library" / "a.jpg")
    environment = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    environment["PYTHONPATH"] = str(PROJECT)
    for attempt in range(10):
        stop = (signal.SIGINT, signal.SIGTERM)[attempt % 2]
        output = tmp_path / f"serve{attempt}.log"
        command = [sys.executable, "-m", "emoscore_flows.cli", "-v", "serve", "--library", str(tmp_path / "library"),
                   "--catalog", str(tmp_path / "catalog"), "--cron", "0 0 1 1 *",
                   "--params", str(project / "params.yaml")]  # fmt: skip
        with output.open("w") as log:
            server = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True)  # fmt: skip
        deadline = time.time() + 180
        while "on schedule" not in output.read_text() and time.time() < deadline and server.poll() is None:
            time.sleep(0.2)
        assert "on schedule" in output.read_text(), output.read_text()[-3000:]
        time.sleep(attempt % 5)  # 0–4 s into serving: the runner starting, polling, idle
        stop_cleanly(server, stop, output)

"""Shared fixtures: tiny real-format files written by the tests themselves."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from emoscore.config import load_params
from emoscore.scoring.scorer import Scorer
from tests.helpers import tiny_project
from tests.s3 import S3Server

logging.getLogger("emoscore").setLevel(logging.INFO)
# note banks are built once (~20 s each) into the repository's ignored .cache/, shared by every test process
os.environ.setdefault("EMOSCORE_CACHE", str(Path(__file__).resolve().parents[1] / ".cache"))


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect API for the whole session (starting one costs several seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    import emoscore_tasks  # noqa: F401  (project-local Prefect settings first)

    with prefect_test_harness(server_startup_timeout=240):
        yield


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """Small untrained models and a params.yaml that points at them."""
    return tiny_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="session")
def scorer(project):
    return Scorer.from_params(load_params(project / "params.yaml"))


@pytest.fixture(autouse=True)
def _no_console_handler_left_on_a_closed_stream():
    """A flow run in a test installs Prefect's console handler on the stream of that test's CLI runner; a later
    warning written through it (found in the fresh-clone CI, where no models exist yet and commands warn) fails
    with 'I/O operation on closed file'. Each test leaves none behind."""
    yield
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in list(getattr(logger, "handlers", [])):
            if type(handler).__name__ == "PrefectConsoleHandler":
                logger.removeHandler(handler)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path):
    """The AWS environment pointing at the server, and a fresh bucket's catalog URI."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return f"s3://{s3_server.bucket()}/catalog"


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path):
    """A catalog location on local disk, then on the S3 server: the same guarantees must hold on both."""
    if request.param == "local":
        return str(tmp_path / "catalog")
    return request.getfixturevalue("s3")

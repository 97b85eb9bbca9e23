"""Shared fixtures: tiny real-format files written by the tests themselves."""

from __future__ import annotations

import logging

import pytest

logging.getLogger("emoscore").setLevel(logging.INFO)


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect API for the whole session (starting one costs several seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    import tasks  # noqa: F401  (project-local Prefect settings first)

    with prefect_test_harness(server_startup_timeout=240):
        yield

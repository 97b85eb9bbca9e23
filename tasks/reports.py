"""Prefect tasks that write reports and show them to people as artifacts."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_table_artifact

from emoscore import reports


@task
def write_json(path: Path, data: dict) -> Path:
    """Write a metrics/report JSON atomically."""
    reports.write_json(path, data)
    return path


@task
def publish_table(key: str, rows: list[dict], description: str) -> None:
    """A table artifact in the Prefect UI for people to read."""
    create_table_artifact(key=key, table=rows, description=description)

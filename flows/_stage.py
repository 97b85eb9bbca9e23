"""What every stage flow shares: running as `python -m emoscore_flows.<stage>` with a one-line error instead of a
traceback for bad input, and a table artifact of its figures for people reading the Prefect UI."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from prefect.artifacts import create_table_artifact

from emoscore.errors import EmoscoreError


def run_stage(flow: Callable[..., object]) -> None:
    """Call the flow; exit 2 with the message when emoscore refuses its input."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        flow()
    except EmoscoreError as error:
        logging.getLogger("emoscore").error("%s", error)
        sys.exit(2)


def publish_table(key: str, rows: list[dict], description: str) -> None:
    """A table artifact of the run (shown in the Prefect UI), next to the report file DVC tracks."""
    create_table_artifact(key=key, table=rows, description=description)

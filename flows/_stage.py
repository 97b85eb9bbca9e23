"""Running a stage flow as `python -m flows.<stage>`: a clear one-line error instead of a traceback for bad input."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from emoscore.errors import EmoscoreError


def run_stage(flow: Callable[..., object]) -> None:
    """Call the flow; exit 2 with the message when emoscore refuses its input."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        flow()
    except EmoscoreError as error:
        logging.getLogger("emoscore").error("%s", error)
        sys.exit(2)

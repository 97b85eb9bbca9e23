"""Per-epoch training state, so that a killed run goes on from its last finished epoch with the same result.

The state is written atomically after every epoch but the last and removed when the run finishes; it is only used
by a run with the same fingerprint (data and every setting that changes the weights).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from emoscore.checkpoints import atomic_save, load_weights_only
from emoscore.errors import CheckpointError

log = logging.getLogger(__name__)


def fingerprint(settings: dict) -> str:
    """A short digest of JSON-able settings: what a resumed run must share with the run it continues."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_state(path: Path | str, state: dict) -> None:
    """Write the state atomically: a kill while writing leaves the previous epoch's state whole."""
    atomic_save(state, Path(path))


def load_state(path: Path | str, expected: str) -> dict | None:
    """The saved state when it belongs to a run with the `expected` fingerprint; None (with the reason logged) when
    there is none or it belongs to another run."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = load_weights_only(path)
    except CheckpointError as error:
        log.warning("not resuming: %s", error)
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != expected:
        log.warning("not resuming from %s: it belongs to a run with other data or settings", path)
        return None
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state

"""Where emoscore keeps what it derives once per machine and can always derive again: note banks, model exports."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache() -> Path:
    """$EMOSCORE_CACHE, else ~/.cache/emoscore (XDG_CACHE_HOME's emoscore when that is set)."""
    if os.environ.get("EMOSCORE_CACHE"):
        return Path(os.environ["EMOSCORE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emoscore"

"""Writing stage outputs safely: JSON reports and CSV plot data, each replaced atomically."""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class SkipCounter:
    """Records skipped by reason, with the first few messages logged and kept for the report."""

    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def skip(self, kind: str, message: str, max_examples: int = 10) -> None:
        """Count one skipped record; log and keep the first `max_examples` messages."""
        self.skipped[kind] += 1
        if len(self.examples) < max_examples:
            self.examples.append(message)
            log.warning("skipped %s", message)


def _clean(value: object) -> object:
    """NaN/inf become null so the JSON is valid for `dvc metrics show` and any reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_json(path: Path | str, data: dict) -> None:
    """Pretty, valid JSON (NaN → null), written atomically."""
    atomic_write_text(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def write_csv(path: Path | str, rows: Sequence[dict]) -> None:
    """A small CSV for `dvc plots` from dicts sharing their keys."""
    if not rows:
        atomic_write_text(path, "")
        return
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(str(row[key]) for key in header) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")

"""Progress bars that suit where they are written: tqdm's bar with an ETA on a terminal; in a log file, a pipe or
CI, whole lines (count, rate, ETA) every 30 seconds and at the end, instead of carriage-return frames that fill
logs and glue error lines to the bar."""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

PLAIN_EVERY_S = 30.0


class Progress(tqdm):
    """tqdm on a terminal; plain lines elsewhere (decided by whether its stream is a terminal)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        stream = kwargs.get("file") or sys.stderr
        self._plain = not (hasattr(stream, "isatty") and stream.isatty())
        self._last_line = -float("inf")
        self._final = False
        if self._plain:
            kwargs.setdefault("mininterval", 1.0)
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool | None:
        """On a terminal, tqdm's frame; elsewhere a line now and then, and one at the end."""
        if not self._plain:
            return super().display(msg, pos)
        now = time.monotonic()
        finished = self.total is not None and self.n >= self.total
        if self._final or (not finished and now - self._last_line < PLAIN_EVERY_S):
            return True
        self._last_line, self._final = now, finished
        self.fp.write(self.format_meter(**{**self.format_dict, "ncols": 0}).strip() + "\n")
        self.fp.flush()
        return True

    def close(self) -> None:
        """End the bar; in plain mode the last count is written once (even when the total was unknown), and
        nothing else: tqdm would add a line break or a carriage return."""
        if not self._plain or self.disable:
            super().close()
            return
        if not self._final:
            self._last_line = -float("inf")
            self.total = self.total if self.total is not None else self.n
            self.display()
        self.disable = True
        self._decr_instances(self)

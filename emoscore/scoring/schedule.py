"""When `serve` scores: a cron expression or a fixed interval, validated up front, and the loop that runs one tick
at each due time — never two at once, a tick that came while the previous one ran skipped with the reason.

Written here rather than served through Prefect's runner: its runner executes every flow run in a fresh process,
which reloads the models per tick and (with a worker pool inside) held its only slot forever. Here the scoring
pool stays warm in the serving process and each tick is still a flow run in Prefect's API.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError

from emoscore.errors import ConfigError

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"(\d+)\s*([smhd])")


def parse_every(text: str) -> timedelta:
    """`30s`, `5m`, `1h`, `1d` or a sum such as `1h30m` → the interval; ConfigError naming the value otherwise."""
    compact = text.strip().lower()
    parts = _EVERY.findall(compact)
    if not compact or not parts or _EVERY.sub("", compact).strip():
        raise ConfigError(f"--every {text!r}: expected a number and a unit s, m, h or d (30s, 5m, 1h, 1h30m)")
    seconds = sum(int(amount) * _UNITS[unit] for amount, unit in parts)
    if seconds < 1:
        raise ConfigError(f"--every {text!r}: the interval must be at least one second")
    return timedelta(seconds=seconds)


def format_every(interval: timedelta) -> str:
    """The shortest `--every` text for an interval (the inverse of parse_every)."""
    seconds, text = int(interval.total_seconds()), ""
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size:
            text += f"{seconds // size}{unit}"
            seconds %= size
    return text or "0s"


@dataclass(frozen=True)
class Schedule:
    """A cron expression (ticks on its matching minutes) or an interval (a tick now, then one per interval)."""

    cron: str | None = None
    every: timedelta | None = None

    @classmethod
    def parse(cls, cron: str | None = None, every: str | None = None) -> Schedule:
        """Validate the user's `--cron` or `--every` (exactly one) into a Schedule, or raise ConfigError."""
        if (cron is None) == (every is None):
            raise ConfigError("give exactly one of --cron and --every")
        if every is not None:
            return cls(every=parse_every(every))
        try:
            CronSim(str(cron), datetime.now().astimezone())
        except (CronSimError, ValueError) as error:
            raise ConfigError(f"--cron {cron!r}: not a cron expression ({error}); e.g. '*/15 * * * *'") from None
        return cls(cron=cron)

    def describe(self) -> str:
        """How the schedule reads in a log line."""
        return f"every {format_every(self.every)}" if self.every is not None else f"cron {self.cron!r}"

    def next_after(self, moment: datetime, anchor: datetime) -> datetime:
        """The first due time strictly after `moment` (an interval counts from `anchor`, the first tick)."""
        if self.every is not None:
            steps = (moment - anchor) // self.every + 1
            return anchor + max(steps, 0) * self.every
        return next(CronSim(str(self.cron), moment))


@dataclass
class TickLog:
    """What the loop did: ticks run, and ticks skipped because the previous one was still running."""

    ran: int = 0
    skipped: int = 0
    seconds: list[float] = field(default_factory=list)


def run_on_schedule(
    schedule: Schedule,
    tick: Callable[[int], None],
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now().astimezone(),
) -> TickLog:
    """Call `tick(n)` at each due time until `stop` is set. A due time that passes while a tick runs is skipped
    and logged with the reason; the next due time after the tick ends runs as usual. An interval ticks at once."""
    record = TickLog()
    anchor = clock()
    due = anchor if schedule.every is not None else schedule.next_after(anchor, anchor)
    while not stop.is_set():
        wait = (due - clock()).total_seconds()
        if wait > 0 and stop.wait(wait):
            break
        started = time.monotonic()
        tick(record.ran + 1)
        record.ran += 1
        record.seconds.append(time.monotonic() - started)
        after = schedule.next_after(clock(), anchor)
        missed = _count_due(schedule, due, after, anchor)
        if missed:
            record.skipped += missed
            log.warning(
                "%d tick(s) skipped: tick %d was still running when they were due (%.1f s)",
                missed,
                record.ran,
                record.seconds[-1],
            )
        due = after
    return record


def _count_due(schedule: Schedule, due: datetime, before: datetime, anchor: datetime) -> int:
    """How many due times lie strictly between `due` (the tick that ran) and `before` (the next one to run)."""
    count, moment = 0, schedule.next_after(due, anchor)
    while moment < before and count < 10_000:
        count += 1
        moment = schedule.next_after(moment, anchor)
    return count

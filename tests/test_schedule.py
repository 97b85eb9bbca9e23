"""Schedules for `serve`: what --cron and --every accept, when ticks fall, and the tick loop run for many ticks over
a library that changes between them (scored here, without Prefect)."""

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from emoscore.errors import ConfigError
from emoscore.scoring.schedule import Schedule, format_every, parse_every, run_on_schedule
from emoscore_flows.cli import app
from tests.helpers import photo, read_catalog, score_local

UTC = UTC


@given(st.integers(min_value=1, max_value=10 * 86400))
def test_every_round_trips_through_its_text(seconds):
    interval = timedelta(seconds=seconds)
    assert parse_every(format_every(interval)) == interval


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), (" 2D ", 172800), ("90s", 90)]
)
def test_every_reads_what_people_write(text, seconds):
    assert parse_every(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "-5s", "0s", "1.5h", "5 minutes", "every minute", "5s!"])
def test_every_refuses_anything_else_by_name(text):
    with pytest.raises(ConfigError, match="--every"):
        parse_every(text)


@pytest.mark.parametrize("cron", ["every minute", "* * * *", "61 * * * *", "* * * * * * *", "[x] * * * *"])
def test_a_malformed_cron_is_refused_by_name(cron):
    with pytest.raises(ConfigError, match="--cron"):
        Schedule.parse(cron=cron)


def test_cron_and_every_go_alone():
    with pytest.raises(ConfigError, match="exactly one"):
        Schedule.parse(cron="* * * * *", every="5m")
    with pytest.raises(ConfigError, match="exactly one"):
        Schedule.parse()


def test_due_times_follow_the_cron_and_the_interval_anchor():
    moment = datetime(2026, 11, 30, 14, 7, 30, tzinfo=UTC)
    assert Schedule.parse(cron="*/15 * * * *").next_after(moment, moment) == moment.replace(minute=15, second=0)
    anchor = moment - timedelta(seconds=12)
    assert Schedule.parse(every="5s").next_after(moment, anchor) == anchor + timedelta(seconds=15)


@pytest.mark.parametrize(
    "arguments",
    [["--cron", "every minute"], ["--every", "5x"], ["--every", "0s"], ["--cron", "* * * * *", "--every", "5m"]],
)
def test_serve_refuses_a_bad_schedule_in_one_line_before_starting_anything(tmp_path, arguments):
    result = CliRunner().invoke(app, ["serve", "--library", str(tmp_path), *arguments])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "error:" in result.output


def test_a_tick_that_overruns_skips_the_due_times_it_covered_and_the_loop_goes_on():
    schedule, stop, lengths = Schedule(every=timedelta(seconds=0.05)), threading.Event(), []

    def tick(number):
        lengths.append(number)
        time.sleep(0.18 if number == 2 else 0.0)  # tick 2 covers three more due times
        if number == 6:
            stop.set()

    record = run_on_schedule(schedule, tick, stop)
    assert lengths == [1, 2, 3, 4, 5, 6]
    assert record.ran == 6
    assert 2 <= record.skipped <= 4


def test_a_stop_between_ticks_ends_the_wait_at_once():
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    record = run_on_schedule(Schedule(every=timedelta(hours=1)), lambda number: None, stop)
    assert record.ran == 1  # an interval ticks at once, then waits
    assert time.monotonic() - started < 2


def test_many_ticks_score_what_was_added_removed_or_edited_since_the_last(tmp_path, project):
    """Twelve ticks over a library that changes before each: every photo gets exactly one row, on the tick right
    after it appeared; a removed photo is no error; an edited photo is scored again as new content."""
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    library.mkdir()
    stop, summaries, added_on = threading.Event(), [], {}

    def tick(number):
        for name in (f"t{number}a.jpg", f"t{number}b.png"):
            photo(library / name)
            added_on[name] = number
        if number % 4 == 0:
            (library / f"t{number - 2}a.jpg").unlink()
        if number == 7:
            photo(library / "t3b.png", size=(64, 64))  # an edit: same name, new bytes
            added_on["t3b.png(edit)"] = number
        summaries.append(score_local(str(library), str(catalog), str(project / "params.yaml"), progress=False))
        if number == 12:
            stop.set()

    run_on_schedule(Schedule(every=timedelta(seconds=0.01)), tick, stop)
    assert [summary["failed"] for summary in summaries] == [0] * 12
    assert [summary["scored"] for summary in summaries] == [2] * 6 + [3] + [2] * 5
    rows = read_catalog(catalog).to_pylist()
    assert len({row["image_id"] for row in rows}) == len(rows) == 25
    on_disk = {Path(row["path"]).name for row in rows}
    assert {path.name for path in library.iterdir()} <= on_disk


@pytest.mark.parametrize("dask", ["local:0", "local:-1", "local:two", "bogus", "tcp://host"])
def test_score_refuses_a_dask_target_that_cannot_work_in_one_line(tmp_path, project, dask):
    """`local:0` once started a cluster with no worker and waited for one forever; `bogus` was a traceback."""
    photo(tmp_path / "one.jpg")
    arguments = [
        "score",
        str(tmp_path / "one.jpg"),
        "--dask",
        dask,
        "--catalog",
        str(tmp_path / "catalog"),
        "--params",
        str(project / "params.yaml"),
    ]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("error: --dask")
    assert not (tmp_path / "catalog").exists()

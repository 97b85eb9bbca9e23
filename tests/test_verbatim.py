"""Every string a user supplies comes back as it is: a path with `[/]`, `%s`, `{}` in it is named in errors,
summaries and tables verbatim, never read as rich markup or a format string; what a terminal would act on (an ANSI
escape, a carriage return, a byte that is not UTF-8) is shown escaped (#25 item 8)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import emoscore_flows.cli  # noqa: F401 (adds `score` and `soundtrack` to the app)
from emoscore.catalog.location import UNUSABLE
from emoscore.cli.app import app
from emoscore.cli.common import VerbatimFormatter, shown
from tests.helpers import photo, score_in_a_process

runner = CliRunner()
PIECES = [
    "a",
    "é",
    "[",
    "]",
    "[/]",
    "[red]",
    "[bold]x[/bold]",
    "%s",
    "%(x)s",
    "{}",
    "{0}",
    "\x1b[31m",
    "\r",
    "\n",
    "\x07",
    " ",
    os.fsdecode(b"\xff"),
    os.fsdecode(b"caf\xe9"),
]
NAMES = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join).filter(lambda n: n not in {".", ".."})
TERMINAL_ACTS = ("\x1b", "\r", "\x07")


def _squeezed(text: str) -> str:
    """Text without the table's borders and the spaces and line breaks where it wraps a long cell."""
    return re.sub(r"[\s│]", "", text)


def _clean(output: str) -> None:
    output = re.sub(r"\rscoring:[^\r]*?(?:img/s|s/img)\]", "", output)  # the progress bar's own returns
    assert "Traceback" not in output and "MarkupError" not in output, output
    assert not any(code in output for code in TERMINAL_ACTS), repr(output)


def test_shown_keeps_text_and_escapes_what_a_terminal_acts_on():
    assert shown("lib[/]%s{}\n\tcafé") == "lib[/]%s{}\n\tcafé"
    assert shown("\x1b[31mred\r") == "\\x1b[31mred\\x0d"
    assert shown(os.fsdecode(b"caf\xe9")) == "caf\\xe9"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES)
def test_missing_paths_are_named_verbatim_in_every_commands_error(tmp_path, name):
    missing = tmp_path / name / "more"
    for command, says in (
        (["score", str(missing)], "library folder not found"),
        (["catalog", "query", "--catalog", str(missing)], "no catalog there"),
        (["catalog", "stats", "--catalog", str(missing), "--all-models"], "no catalog there"),
        (["tokens", "decode", str(missing), "--out", str(tmp_path / "x.mid")], "No such file"),
        (["generate", "-q", "Q1", "--out", str(missing / "x.mid")], "does not exist"),
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        _clean(result.output)
        assert shown(missing) in result.output.replace("\n", " ") or shown(missing) in result.output, result.output
        utf8 = not any("\udc80" <= character <= "\udcff" for character in name)
        refused = (not utf8 and "catalog's path must be UTF-8" in result.output) or (
            UNUSABLE.search(str(missing)) and "a catalog's path cannot hold" in result.output
        )
        assert says in result.output or (command[0] == "catalog" and refused), result.output


@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@example(name="\x07\r[/]")  # a bell in a file name failed the chart's text layout (and the photo)
@given(name=NAMES)
def test_a_hostile_library_and_catalog_are_shown_verbatim_in_the_summary_and_tables(project, tmp_path_factory, name):
    root = tmp_path_factory.mktemp("hostile")
    library, catalog = root / f"lib{name}", root / f"cat{name}"
    photo(library / f"{name}.jpg")
    params = ["--params", str(project / "params.yaml")]
    scored = runner.invoke(app, ["score", str(library), "--catalog", str(catalog), "--no-prefect", *params])
    _clean(scored.output)
    if any("\udc80" <= character <= "\udcff" for character in name):
        assert scored.exit_code == 2 and "a catalog's path must be UTF-8 text" in scored.output, scored.output
        assert shown(catalog) in scored.output
        return
    if UNUSABLE.search(str(catalog)):  # Delta Lake (delta-rs) cannot hold a table there: refused, named verbatim
        assert scored.exit_code == 2 and "a catalog's path cannot hold" in scored.output, scored.output
        assert _squeezed(shown(catalog)) in _squeezed(scored.output), scored.output
        assert not catalog.exists()
        catalog = root / "catalog"
        scored = runner.invoke(app, ["score", str(library), "--catalog", str(catalog), "--no-prefect", *params])
    assert scored.exit_code == 0, scored.output
    _clean(scored.output)
    assert _squeezed(shown(library)) in _squeezed(scored.output), scored.output
    query = runner.invoke(app, ["catalog", "query", "--catalog", str(catalog), "--all-models", *params])
    assert query.exit_code == 0, query.output
    _clean(query.output)
    assert "1 images" in query.output


def test_log_lines_show_a_hostile_name_escaped():
    record = logging.LogRecord(
        "emoscore", logging.WARNING, __file__, 1, "skipped %s: %s", ("\x1b]0;pwned\x07[/]", "x"), None
    )
    line = VerbatimFormatter("%(message)s").format(record)
    assert line == "skipped \\x1b]0;pwned\\x07[/]: x"


def test_a_warning_about_a_hostile_file_reaches_the_terminal_escaped(project, tmp_path):
    library = tmp_path / "lib[/]"
    library.mkdir(parents=True)
    (library / "\x1b[2Jgone.jpg").symlink_to(tmp_path / "nowhere.jpg")  # a broken link: a warning, no row
    run = score_in_a_process(str(library), str(tmp_path / "cat"), project / "params.yaml")
    assert run.returncode == 0, run.stderr
    _clean(run.stderr + run.stdout)
    assert "\\x1b[2Jgone.jpg: broken symlink" in run.stderr.replace("skipped ", ""), run.stderr
    assert str(Path("lib[/]")) in run.stdout

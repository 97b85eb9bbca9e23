"""What every `emoscore` command module shares: the error exit, the console, the --params and --models options."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from emoscore.text import shown

console = Console(stderr=True)

ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read defaults from.")]
ModelsOption = Annotated[
    Path | None,
    typer.Option("--models", help="A models folder (`emoscore models export`); default: $EMOSCORE_MODELS or --params."),
]


def say(*parts: object, style: str = "") -> None:
    """Print a line to stderr built from plain parts (no markup is read in them); `style` colours the first."""
    first, *rest = (shown(part) for part in parts)
    console.print(Text.assemble((first, style), *rest), soft_wrap=True, highlight=False)


def print_table(title: object, columns: list[str], rows: list[list[object]], show_header: bool = True) -> None:
    """Print a table on stdout whose title and cells are shown verbatim (a path with `[/]` is a path)."""
    view = Table(title=Text(shown(title)), show_header=show_header)
    for column in columns:
        view.add_column(column, overflow="fold")  # a long path wraps whole, never cut to "…"
    for row in rows:
        view.add_row(*(Text(shown(cell)) for cell in row))
    Console(highlight=False).print(view)


class VerbatimFormatter(logging.Formatter):
    """Log lines with what a terminal would act on made visible (a file name can hold an ANSI escape)."""

    def format(self, record: logging.LogRecord) -> str:
        return shown(super().format(record))


def fail(error: Exception | str) -> typer.Exit:
    """Print the error for a person and return the exit to raise (code 2)."""
    say("error:", " ", error, style="red")
    return typer.Exit(code=2)


def file_to_write(path: Path, option: str) -> Path:
    """`path` if a file can be written there; else a usage error naming the option and why (checked before any
    work, so a wrong path costs nothing)."""
    path = Path(path)
    if path.is_dir():
        raise fail(f"{option} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise fail(f"{option} {path}: its folder {path.parent} does not exist")
    return path


def folder_to_write(path: Path, option: str) -> Path:
    """`path` if it is a folder or can become one; else a usage error naming the option."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise fail(f"{option} {path}: is a file; give a folder")
    return path


def prefect_server_configured() -> bool:
    """True when Prefect would report to a server of its own (PREFECT_API_URL in the environment or the active
    profile), so that runs belong in its UI. Read without importing Prefect, which alone takes a second or two."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
    try:
        profiles = tomllib.loads((home / "profiles.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    return bool(profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))

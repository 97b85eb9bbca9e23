"""What every `emoscore` command module shares: the error exit, the console, the --params and --models options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)

ParamsOption = Annotated[Path, typer.Option("--params", help="params.yaml to read defaults from.")]
ModelsOption = Annotated[
    Path | None,
    typer.Option("--models", help="A models folder (`emoscore models export`); default: $EMOSCORE_MODELS or --params."),
]


def fail(error: Exception | str) -> typer.Exit:
    """Print the error for a person and return the exit to raise (code 2)."""
    console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True, markup=True)
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

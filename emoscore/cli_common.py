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

"""`emoscore …` commands that need no Prefect: generate music for an emotion, the tokenizer, models, the doctor; the
catalog commands and the gallery come from emoscore/cli/catalog.py. The commands that run flows (`score`, `serve`)
are added on the flow side, in `flows/cli.py`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text
from typer.core import TyperGroup

import emoscore.cli.upkeep  # noqa: F401 (adds compact, vacuum, history and migrate to the catalog group)
from emoscore import __version__
from emoscore.cli.catalog import catalog_app
from emoscore.cli.common import (
    ModelsOption,
    ParamsOption,
    VerbatimFormatter,
    console,
    fail,
    file_to_write,
    folder_to_write,
    say,
    shown,
)
from emoscore.cli.media import gallery, render
from emoscore.config import load_params
from emoscore.errors import EmoscoreError
from emoscore.models_home import resolve_params

log = logging.getLogger(__name__)


class _GlobalFlagsAnywhere(TyperGroup):
    """Accepts `-v`/`-vv`/`--verbose` after the subcommand too (`emoscore score lib -v`), as users type them: they
    are moved in front of it before Click parses (no command has options of these names; `--` ends the hoisting)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"})]
        rest = [a for a in args[:end] if a not in flags]
        return super().parse_args(ctx, [*flags, *rest, *args[end:]])


app = typer.Typer(
    help="Read the emotions in photos and write emotion-matched piano music.",
    no_args_is_help=True,
    cls=_GlobalFlagsAnywhere,
)
tokens_app = typer.Typer(help="The compound-word tokenizer: MIDI ⇄ CP tokens.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
app.add_typer(catalog_app, name="catalog")
app.command()(gallery)
app.command()(render)
models_app = typer.Typer(help="Trained model sets you can take anywhere.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"emoscore {__version__}")
        raise typer.Exit()


VERBOSITY = (logging.WARNING, logging.INFO, logging.DEBUG)


@app.callback()
def main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v progress notes, -vv per file.")] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Set up logging for every command: quiet (warnings and errors) unless -v or -vv."""
    level = VERBOSITY[min(verbose, len(VERBOSITY) - 1)]
    if console.is_terminal:
        handler: logging.Handler = RichHandler(console=console, show_path=False, markup=False)
        handler.setFormatter(VerbatimFormatter("%(message)s"))
    else:  # a log file or a pipe: whole lines with their time, never wrapped or cut at 80 columns
        handler = logging.StreamHandler()
        handler.setFormatter(VerbatimFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])
    for noisy in ("httpx", "httpcore", "distributed", "asyncio", "matplotlib", "pydot", "PIL", "numba", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _family_values(pairs: list[str] | None, option: str) -> dict[str, float]:
    values = {}
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"{option} expects FAMILY=NUMBER, got {pair!r}") from None
    return values


def _emotion(quadrant: str | None, valence: float | None, arousal: float | None, midpoint: float) -> tuple[int, float]:
    """(quadrant, intensity) from --quadrant, or from --valence and --arousal; a usage error when neither or both."""
    from emoscore.music.generate import parse_quadrant
    from emoscore.scoring.bridge import arousal_intensity, vad_to_quadrant

    if (valence is None) != (arousal is None):
        raise typer.BadParameter("--valence and --arousal go together")
    if valence is not None and arousal is not None:
        if quadrant is not None:
            raise typer.BadParameter("give --quadrant or --valence/--arousal, not both")
        if not (1 <= valence <= 10 and 1 <= arousal <= 10):
            raise typer.BadParameter("valence and arousal are on the 1–10 scale")
        return vad_to_quadrant(valence, arousal, midpoint).number, arousal_intensity(arousal, midpoint)
    if quadrant is None:
        raise typer.BadParameter("say what emotion: --quadrant Q1…Q4, or --valence V --arousal A")
    return parse_quadrant(quadrant), 0.0


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="MIDI file to write.")],
    quadrant: Annotated[str | None, typer.Option("--quadrant", "-q", help="Q1 (happy) … Q4 (calm)")] = None,
    valence: Annotated[float | None, typer.Option(help="1–10; with --arousal, picks quadrant and intensity.")] = None,
    arousal: Annotated[float | None, typer.Option(help="1–10: how energetic, within the quadrant too.")] = None,
    bars: Annotated[int | None, typer.Option(help="Length in bars, 1–64 (default: params generation.bars).")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same piece.")] = 0,
    audio: Annotated[Path | None, typer.Option(help="Also render audio: .flac .wav .ogg .opus .mp3.")] = None,
    temperature: Annotated[list[str] | None, typer.Option(help="Per family, e.g. pitch=0.9 (repeatable).")] = None,
    top_p: Annotated[list[str] | None, typer.Option("--top-p", help="Per family, e.g. pitch=0.9.")] = None,
    model: Annotated[Path | None, typer.Option(help="Music checkpoint (default: params music.out).")] = None,
    vocabulary: Annotated[Path | None, typer.Option(help="cp_vocab.json the model must match.")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N (default: music.device).")] = None,
    params: ParamsOption = Path("params.yaml"),
    models: ModelsOption = None,
) -> None:
    """Write a solo-piano MIDI file for an emotion: a quadrant, or a (valence, arousal) point whose arousal also
    sets the intensity within its quadrant (tempo, loudness, density)."""
    from emoscore.config import GenerationParams
    from emoscore.music.compose import compose_piece, music_model
    from emoscore.music.continuation import MAX_BARS
    from emoscore.music.render import audio_type

    file_to_write(out, "--out")
    if audio is not None:
        file_to_write(audio, "--audio")
    if bars is not None and not 1 <= bars <= MAX_BARS:
        raise fail(f"--bars {bars}: a piece is 1–{MAX_BARS} bars")
    try:
        if audio is not None:
            audio_type(audio)  # refused before the MIDI is written, not after
        settings = resolve_params(params, models, required=False)
        wanted, intensity = _emotion(quadrant, valence, arousal, settings.score.quadrant_midpoint)
        generation = GenerationParams.model_validate(
            {
                **settings.generation.model_dump(),
                "temperature": {**settings.generation.temperature, **_family_values(temperature, "--temperature")},
                "top_p": {**settings.generation.top_p, **_family_values(top_p, "--top-p")},
            }
        )
        network = music_model(
            Path(model or settings.music.out),
            device or settings.music.device,
            Path(vocabulary or settings.emopia.vocabulary),
        )
        length = generation.bars if bars is None else bars  # 0 is a length to refuse, not "not given"
        piece = compose_piece(
            network,
            wanted,
            length,
            seed=seed,
            generation=generation,
            midi_path=out,
            audio_path=audio,
            render=settings.render,
            intensity=intensity,
        )
    except (EmoscoreError, ValueError) as error:
        raise fail(error) from None
    say("wrote ", out, f": Q{wanted} (intensity {intensity:+.2f}), {piece.n_notes} notes, {len(piece.steps)} CP steps")
    if piece.audio_path is not None:
        say("wrote ", audio)
    elif audio is not None:
        say("no audio:", " ", piece.audio_problem, style="yellow")


@models_app.command("export")
def models_export(
    out: Annotated[Path, typer.Argument(help="New folder to write the set into.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Pack the models `dvc repro` trained (as params.yaml names them) into one folder you can use anywhere."""
    from emoscore.models_home import export_models

    folder_to_write(out, "OUT")
    try:
        written = export_models(load_params(params), params, out)
    except EmoscoreError as error:
        raise fail(error) from None
    say("wrote ", written, ": use it with --models ", written, " or EMOSCORE_MODELS=", written)


@app.command()
def doctor(params: ParamsOption = Path("params.yaml"), models: ModelsOption = None) -> None:
    """What this installation can do: torch and device, audio, trained models, Prefect, Chromium.

    Exit code 0 when everything required is there, 1 when something required is missing.
    """
    from emoscore.cli.doctor import run_checks

    try:
        settings = resolve_params(params, models, required=False)
    except EmoscoreError as error:
        raise fail(error) from None
    checks = run_checks(settings)
    for check in checks:
        colour = "green" if check.ok else ("red" if check.required else "yellow")
        fix = f" — fix: {check.fix}" if not check.ok and check.fix else ""
        optional = "" if check.required or check.ok else " (optional)"
        line = Text.assemble(
            ("ok     " if check.ok else "missing", colour), shown(f" {check.name}: {check.found}"), optional, shown(fix)
        )
        Console().print(line, soft_wrap=True, highlight=False)
    if any(check.required and not check.ok for check in checks):
        raise typer.Exit(code=1)


@tokens_app.command("encode")
def tokens_encode(
    midi: Annotated[Path, typer.Argument(help="A MIDI file.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSON file (default: print).")] = None,
    quadrant: Annotated[str | None, typer.Option(help="Prepend this emotion word (Q1…Q4).")] = None,
    names: Annotated[bool, typer.Option(help="Also list readable token names.")] = False,
    timing: Annotated[
        str, typer.Option(help="auto: track beats when the tempo map is nominal (transcriptions) | file | beat_track.")
    ] = "auto",
) -> None:
    """MIDI → CP tokens as JSON: {"families": [...], "steps": [[8 ints], ...]}."""
    from emoscore.music.cp import FAMILIES, encode_midi
    from emoscore.music.generate import parse_quadrant
    from emoscore.music.vocabulary import VOCABULARY

    if timing not in ("auto", "file", "beat_track"):
        raise typer.BadParameter(f"--timing must be auto, file or beat_track, not {timing!r}")
    try:
        steps = encode_midi(midi, emotion=parse_quadrant(quadrant) if quadrant else 0, timing=timing)  # type: ignore[arg-type]
    except (EmoscoreError, ValueError) as error:
        raise fail(error) from None
    document: dict = {"families": list(FAMILIES), "steps": steps.tolist()}
    if names:
        document["names"] = [VOCABULARY.describe(step) for step in steps]
    text = json.dumps(document, separators=(",", ":")) if out else json.dumps(document, indent=1)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        say("wrote ", out, f": {len(steps)} CP steps")
    else:
        typer.echo(text)


@tokens_app.command("decode")
def tokens_decode(
    tokens: Annotated[Path, typer.Argument(help="JSON written by `emoscore tokens encode`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="MIDI file to write.")],
) -> None:
    """CP tokens (JSON) → MIDI."""
    import numpy as np

    from emoscore.music.cp import FAMILIES, decode_notes, decode_to_midi
    from emoscore.music.vocabulary import VOCABULARY

    try:
        document = json.loads(tokens.read_text(encoding="utf-8"))
        steps = np.array(document["steps"], dtype=np.int64).reshape(-1, len(FAMILIES))
        if document.get("families", list(FAMILIES)) != list(FAMILIES):
            raise ValueError(f"families {document.get('families')} differ from {list(FAMILIES)}")
        sizes = np.array(VOCABULARY.sizes)
        bad = np.argwhere((steps < 0) | (steps >= sizes))
        if len(bad):
            step, family = bad[0]
            raise ValueError(
                f"step {step}: {FAMILIES[family]} value {steps[step, family]} outside 0…{sizes[family] - 1}"
            )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise fail(f"{tokens}: {error}") from None
    decode_to_midi(steps, out)
    say("wrote ", out, f": {len(decode_notes(steps)[0])} notes")

"""`emoscore doctor`: what this installation can do, one line per piece, each missing one with its fix."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from emoscore import __version__
from emoscore.config import Params
from emoscore.digests import model_digest
from emoscore.errors import CheckpointError


@dataclass(frozen=True)
class Check:
    """One piece of the installation: whether it is there, what was found, and the fix when it is not."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_torch() -> Check:
    """torch, and the device scoring and training would use."""
    import torch

    device = f"CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU only (no CUDA device)"
    return Check("torch", True, f"{torch.__version__}, {device}")


def check_audio(params: Params) -> list[Check]:
    """FluidSynth and a General MIDI SoundFont render the pieces to audio (optional: MIDI is written anyway)."""
    from emoscore.music.render import INSTALL_HINT, RenderUnavailable, find_soundfont, fluidsynth_library

    try:
        checks = [Check("fluidsynth", True, fluidsynth_library(), required=False)]
    except RenderUnavailable as error:
        checks = [Check("fluidsynth", False, str(error), INSTALL_HINT, required=False)]
    try:
        checks.append(Check("soundfont", True, str(find_soundfont(params.render.soundfont)), required=False))
    except RenderUnavailable as error:
        fix = "set render.soundfont in params.yaml" if params.render.soundfont else INSTALL_HINT
        checks.append(Check("soundfont", False, str(error), fix, required=False))
    if params.render.engine == "bank":
        checks.append(_note_bank(params))
    return checks


def _note_bank(params: Params) -> Check:
    """Where the note bank comes from: a folder given, the cache, or a build on first use (~20 s)."""
    from emoscore.cache import default_cache
    from emoscore.music.bank import NoteBank, bank_folder
    from emoscore.music.render import RenderUnavailable, find_soundfont

    render = params.render
    try:
        if render.bank is not None:
            NoteBank.load(render.bank)
            return Check("note bank", True, f"{render.bank} (given)", required=False)
        folder = bank_folder(
            find_soundfont(render.soundfont),
            render.sample_rate,
            Path(render.bank_cache) if render.bank_cache else default_cache(),
        )
    except RenderUnavailable as error:
        return Check(
            "note bank",
            False,
            str(error),
            "build one where FluidSynth is: emoscore render --build-bank",
            required=False,
        )
    if (folder / "bank.json").is_file():
        return Check("note bank", True, f"{folder}", required=False)
    return Check(
        "note bank", True, f"built on first use into {folder} (~20 s; or: emoscore render --build-bank)", required=False
    )


def check_models(params: Params) -> list[Check]:
    """The trained files scoring and generation read, with their digests (what the catalog records)."""
    wanted = {
        "VAD model": params.vad.out,
        "thresholds": params.eval_vad.thresholds,
        "music model": params.music.out,
        "music classifier": params.music_classifier.out,
        "vocabulary": params.emopia.vocabulary,
    }
    checks = []
    for name, path in wanted.items():
        try:
            checks.append(Check(name, True, f"{path} (sha256 {model_digest(path)})"))
        except CheckpointError:
            checks.append(Check(name, False, f"{path}: not found", "train it with `dvc repro`, or set its path"))
    return checks


def check_prefect() -> Check:
    """Prefect reports `serve`'s ticks (and `score` runs, when a server is set): the server at PREFECT_API_URL when
    set, else one `serve` starts."""
    version = _version("prefect")
    if version is None:
        return Check("prefect", False, "not installed", "pip install prefect (emoscore's pipeline extra)")
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return Check(
            "prefect",
            True,
            f"{version}; no PREFECT_API_URL: `score` runs in its own process, `serve` "
            "starts a local server on 127.0.0.1 and stops it on exit",
        )
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=3) as response:
            healthy = response.status == 200
    except OSError as error:
        return Check("prefect", False, f"{version}; {url} unreachable ({error})", "start it, or unset PREFECT_API_URL")
    return Check("prefect", healthy, f"{version}; server at {url}", "" if healthy else "check the server's logs")


FILM_CODECS = ("libx264", "aac", "libopus")  # a stills slideshow, and the soundtrack in MP4/MOV/MKV and WebM


def check_video() -> Check:
    """PyAV (its own FFmpeg) reads films, finds cuts with scdet and writes the scored video (`emoscore soundtrack`)."""
    try:
        import av
    except ImportError:
        return Check("video", False, "PyAV not installed", "pip install av", required=False)
    missing = [codec for codec in FILM_CODECS if codec not in av.codecs_available]
    if "scdet" not in av.filter.filters_available:
        missing.append("scdet filter")
    found = f"PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}"
    fix = "install a PyAV wheel (they bundle an FFmpeg with these)" if missing else ""
    return Check(
        "video", not missing, found + (f"; missing {', '.join(missing)}" if missing else ""), fix, required=False
    )


def check_chromium() -> Check:
    """Chromium drives the browser tests of the gallery (optional for everything else)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    return Check(
        "chromium", binary is not None, binary or "not on PATH", "sudo apt-get install chromium", required=False
    )


def run_checks(params: Params) -> list[Check]:
    """Every check, in the order a person reads them."""
    return [
        Check("emoscore", True, f"{__version__} at {Path(__file__).resolve().parent}"),
        check_torch(),
        *check_audio(params),
        *check_models(params),
        check_prefect(),
        check_video(),
        check_chromium(),
    ]

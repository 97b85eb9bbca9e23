"""Helpers shared by the tests: photos written with Pillow, a finished "future" for local runs, a folder served
to headless Chromium."""

import contextlib
import dataclasses
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from emoscore.config import Params
from emoscore.digests import model_digest
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet, EmoticNetConfig
from emoscore.emotic.thresholds import Thresholds
from emoscore.music.classify import ClassifierConfig, MusicClassifier
from emoscore.music.model import CPTransformer, MusicConfig
from emoscore.music.vocabulary import VOCABULARY

PROJECT = Path(__file__).resolve().parent.parent
DEFAULTS = Params()
# a CP transformer small enough to build and run in milliseconds
SMALL = dataclasses.replace(
    MusicConfig.from_params(DEFAULTS.music),
    d_model=32,
    n_layers=2,
    n_heads=2,
    embedding_sizes=(8, 8, 8, 4, 8, 8, 8, 4),
    type_embedding=4,
)


def vad_config(**changes):
    """The VAD architecture of params.yaml with `changes` (tests shrink it)."""
    return dataclasses.replace(EmoticNetConfig.from_params(DEFAULTS.emotic, DEFAULTS.vad), **changes)


def classifier_config(**changes):
    """The music classifier of params.yaml with `changes`."""
    return dataclasses.replace(ClassifierConfig.from_params(DEFAULTS.music_classifier), **changes)


class Now:
    """A finished 'future' for running chunks in-process."""

    def __init__(self, rows):
        self.rows = rows

    def result(self):
        return self.rows


TINY_THRESHOLD = 1e-6


def tiny_project(root: Path, **score) -> Path:
    """Small untrained models in `root` and a params.yaml that points at them (`score` overrides its section)."""
    torch.manual_seed(0)
    EmoticNet(vad_config(fusion_hidden=16, context_size=32, body_size=32)).save(root / "vad.pt")
    # thresholds at the middle of the scores a random model gives (about half its raw outputs are below 0 and
    # are stored as 0), so some categories are named and some not
    Thresholds.from_mapping(model_digest(root / "vad.pt"), dict.fromkeys(CATEGORIES, TINY_THRESHOLD)).save(
        root / "th.json"
    )
    CPTransformer(SMALL).save(root / "music.pt", VOCABULARY)
    MusicClassifier(ClassifierConfig(tuple(VOCABULARY.sizes), 16, 1, 2, 0.0, 64)).save(root / "judge.pt", VOCABULARY)
    params = {
        "vad": {"out": str(root / "vad.pt")},
        "eval_vad": {"thresholds": str(root / "th.json")},
        "music": {"out": str(root / "music.pt")},
        "music_classifier": {"out": str(root / "judge.pt")},
        "emopia": {"vocabulary": str(root / "absent_vocab.json")},
        "score": {"bars": 1, "chunk_size": 3, "workers": 0, "audio": "none", "max_pixels": 50_000_000, **score},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def score_local(library, catalog, params_file, **run) -> dict:
    """A run as `emoscore score` makes it without Prefect: `library` into `catalog` with `params_file`'s settings."""
    from emoscore.catalog.store import Catalog
    from emoscore.config import load_params
    from emoscore.scoring.run import score_here

    place = str(library) if str(library).startswith("s3://") else Path(library)
    return score_here(load_params(params_file), library=place, catalog=Catalog(catalog), **run)


def score_in_a_process(library, catalog, params_file) -> subprocess.CompletedProcess:
    """`emoscore score LIBRARY --catalog CATALOG` in its own process, as a person or a cron job runs it (output
    piped, not a terminal)."""
    command = [
        sys.executable,
        "-m",
        "emoscore_flows.cli",
        "score",
        str(library),
        "--catalog",
        str(catalog),
        "--no-prefect",
        "--params",
        str(params_file),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def photo(path, size=(96, 72), mode="RGB", **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(os.fsencode(path)))  # distinct bytes per file name
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    image.convert(mode).save(path, **save)
    return path


def prepare_or_die(file, **options):
    """A scoring worker's prepare step that kills its worker on files named *crash*: what a decoder segfault or the
    OOM killer does (module-level, so spawned workers can import it)."""
    from emoscore.scoring.people import prepare_image

    if "crash" in file.path:
        os._exit(1)
    return prepare_image(file, **options)


def read_catalog(catalog: Path | str):
    """The images' rows of a catalog (a folder or s3:// URI), oldest first."""
    from emoscore.catalog.store import Catalog

    return Catalog(catalog).read()


def write_rows(catalog: Path | str, rows: list[dict]) -> int:
    """Commit rows to a catalog's images table as a scoring run does (a retried error replaces its row)."""
    from emoscore.catalog.store import Catalog

    return Catalog(catalog).write(rows)


def media_bytes(catalog: Path | str, relative: str) -> bytes:
    """A media file of a catalog on disk or in a store."""
    from emoscore.catalog.store import Catalog

    with tempfile.TemporaryDirectory() as folder:
        assert Catalog(catalog).fetch_media(relative, Path(folder) / "media"), relative
        return (Path(folder) / "media").read_bytes()


def assert_same_catalogs(first: Path | str, second: Path | str) -> None:
    """Two catalogs of the same photos hold the same rows: status, path, quadrant, VAD and byte-identical MIDI."""
    rows = [{r["image_id"]: r for r in read_catalog(catalog).to_pylist()} for catalog in (first, second)]
    assert rows[0].keys() == rows[1].keys()
    for image_id, here in rows[0].items():
        there = rows[1][image_id]
        for column in ("status", "path", "quadrant", "error"):
            assert here[column] == there[column], column
        if here["status"] == "ok":
            assert abs(here["valence"] - there["valence"]) < 1e-4 and abs(here["arousal"] - there["arousal"]) < 1e-4
            assert media_bytes(first, here["midi_path"]) == media_bytes(second, there["midi_path"])


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
)


@dataclasses.dataclass
class PageProblems:
    """What went wrong on a page: error responses, requests that never finished (Chromium also aborts media
    requests it has read enough of), console errors, dialogs it opened."""

    failures: list[str] = dataclasses.field(default_factory=list)
    unfinished: list[str] = dataclasses.field(default_factory=list)
    console_errors: list[str] = dataclasses.field(default_factory=list)
    dialogs: list[str] = dataclasses.field(default_factory=list)


def _benign_abort(request: object) -> bool:
    """Chromium aborts a media request once it has read what it needs (metadata, a buffer): not a fault. The tests
    check the media itself (durations, readyState); under load this abort raced the page's network-idle point."""
    return request.resource_type == "media" and "ERR_ABORTED" in (request.failure or "")


@contextlib.contextmanager
def chromium_page(folder: Path, width: int = 1280, height: int = 900) -> Iterator[tuple[object, str, PageProblems]]:
    """Serve `folder` on 127.0.0.1 and open a headless Chromium tab: (tab, base URL, what went wrong on it)."""
    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    problems = PageProblems()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS))
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.on("response", lambda r: r.status >= 400 and problems.failures.append(f"{r.status} {r.url}"))
            tab.on("requestfailed", lambda r: _benign_abort(r) or problems.unfinished.append(r.url))
            tab.on("console", lambda m: m.type == "error" and problems.console_errors.append(m.text))
            tab.on("dialog", lambda d: (problems.dialogs.append(d.message), d.dismiss()))
            yield tab, f"http://127.0.0.1:{server.server_port}", problems
            browser.close()
    finally:
        server.shutdown()

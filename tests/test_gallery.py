"""The static gallery: escaping, relative media, and a real headless-Chromium check of the page."""

import datetime as dt
import math
import shutil
import struct
import wave
from pathlib import Path

import pytest
from PIL import Image

from emoscore.catalog.gallery import write_gallery
from emoscore.catalog.store import Catalog
from emoscore.music.cp import Note, notes_to_midi
from emoscore.scoring.chart import vad_chart
from tests.helpers import CHROMIUM, chromium_page, read_catalog, write_rows

HOSTILE = "<img src=x onerror=alert(1)>.jpg"


def _opus(path):
    """Half a second of a quiet tone as Ogg Opus, written by scoring's own encoder."""
    import numpy as np

    from emoscore.music.render import OPUS_RATE, write_audio

    tone = (np.sin(np.arange(OPUS_RATE // 2) / 10) * 3000).astype(np.int16)
    return write_audio(np.stack([tone, tone], axis=1), OPUS_RATE, _ensure(path))


def _wav(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(22050)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / 22050)) for i in range(int(22050 * seconds)))
        handle.writeframes(b"".join(struct.pack("<h", f) for f in frames))


@pytest.fixture
def catalog(tmp_path):
    """A catalog with three scored photos (one with a hostile name) and one error row, media included."""
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    rows = []
    for index, (name, quadrant, valence) in enumerate(
        [(HOSTILE, "Q1", 8.0), ("calm.png", "Q4", 7.0), ("dark.jpg", "Q3", 2.0)]
    ):
        image_id = f"{index:064x}"
        path = library / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (120, 90), (40 * index, 90, 160)).save(path, "PNG" if name.endswith("png") else "JPEG")
        vad_chart(catalog / "charts" / f"{image_id}.png", (valence, 5.0, 5.0), [("Peace", 0.7), ("Sadness", 0.2)])
        notes_to_midi([Note(0, 60, 4, 80)], [(0, 100.0)]).dump(str(_ensure(catalog / "midi" / f"{image_id}.mid")))
        audio = f"audio/{image_id}.{'opus' if index == 1 else 'wav'}"  # the preview codec scoring writes
        _opus(catalog / audio) if index == 1 else _wav(catalog / audio)
        rows.append(
            {
                "image_id": image_id,
                "path": str(path),
                "size_bytes": 1,
                "width": 120,
                "height": 90,
                "status": "ok",
                "error": None,
                "people": [],
                "valence": valence,
                "arousal": 5.0,
                "dominance": 5.0,
                "top_categories": [{"name": "Peace", "score": 0.7}, {"name": "Sadness", "score": 0.2 + 0.3 * index}],
                "categories_above_threshold": ["Peace", "Sadness"][: 1 + (index == 2)],
                "quadrant": quadrant,
                "quadrant_confidence": 0.4,
                "midi_path": f"midi/{image_id}.mid",
                "audio_path": audio,
                "chart_path": f"charts/{image_id}.png",
                "seed": 1,
                "n_notes": 1,
                "duration_s": 0.6,
                "vad_model": "v",
                "music_model": "m",
                "params_hash": "p",
                "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "flow_run_id": "r",
            }
        )
    rows.append(
        {
            "image_id": "f" * 64,
            "path": str(library / "<b>broken</b>.jpg"),
            "size_bytes": 0,
            "width": 0,
            "height": 0,
            "status": "error",
            "error": "empty file (0 bytes) <script>alert(2)</script>",
            "people": [],
            "vad_model": "v",
            "music_model": "m",
            "params_hash": "p",
            "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "flow_run_id": "r",
        }
    )
    write_rows(catalog, rows)
    return catalog


def _ensure(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_page_escapes_catalog_strings_and_links_media_relatively(catalog, tmp_path):
    out = tmp_path / "gallery"
    page = write_gallery(read_catalog(catalog), Catalog(catalog), out, title="<script>alert(3)</script>")
    text = page.read_text()
    assert "<img src=x" not in text and "<script>alert" not in text and "<b>broken" not in text
    assert "&lt;script&gt;alert(3)" in text  # the title, escaped
    assert len(list((out / "thumbs").glob("*.jpg"))) == 3
    for folder in ("audio", "midi", "charts"):
        assert len(list((out / "media" / folder).iterdir())) == 3
    moved = shutil.copytree(out, tmp_path / "elsewhere")  # relative links survive a move
    moved_text = (moved / "index.html").read_text()
    assert '"audio": "media/audio/' in moved_text and '"thumb": "thumbs/' in moved_text


def test_thumbnails_are_cached_by_content_hash(catalog, tmp_path):
    out = tmp_path / "gallery"
    write_gallery(read_catalog(catalog), Catalog(catalog), out)
    thumb = next((out / "thumbs").glob("*.jpg"))
    before = thumb.stat().st_mtime_ns
    write_gallery(read_catalog(catalog), Catalog(catalog), out)
    assert thumb.stat().st_mtime_ns == before


def test_the_same_rows_in_another_order_make_the_same_page(catalog, tmp_path):
    """Part files written in one second are read in the order of a random suffix: the page must not follow it."""
    rows = read_catalog(catalog)
    first = write_gallery(rows, Catalog(catalog), tmp_path / "a").read_bytes()
    second = write_gallery(
        rows.take(list(reversed(range(rows.num_rows)))), Catalog(catalog), tmp_path / "b"
    ).read_bytes()
    assert rows.num_rows > 1 and first == second


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`)")
def test_gallery_in_headless_chromium(catalog, tmp_path):
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    out = tmp_path / "gallery"
    write_gallery(read_catalog(catalog), Catalog(catalog), out)
    with chromium_page(out) as (page, base, problems):
        page.goto(f"{base}/index.html", wait_until="networkidle")
        assert page.locator("article.card").count() == 4
        assert page.get_by_text(HOSTILE).count() == 1  # shown as text, not run
        loaded = page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert loaded and page.locator("img").count() == 6  # 3 thumbnails + 3 charts
        page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)")
        durations = page.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
        assert len(durations) == 3 and all(d == pytest.approx(0.5, abs=0.05) for d in durations)
        page.select_option("#quadrant", "Q3")
        assert page.locator("article.card").count() == 1
        assert page.locator("#count").text_content() == "1 of 4 images"
        page.select_option("#quadrant", "")
        page.select_option("#category", "Sadness")
        page.fill("#min", "0.4")
        assert page.locator("article.card").count() == 2
        page.select_option("#category", "")
        page.select_option("#named", "Sadness")  # named above its threshold: dark.jpg only
        assert page.locator("article.card").count() == 1
        assert page.locator("article.card .named").text_content() == "Peace · Sadness"
        page.select_option("#named", "")
        page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
    assert not problems.failures and not problems.unfinished, problems
    assert not problems.console_errors and not problems.dialogs, problems
    assert (tmp_path / "gallery.png").stat().st_size > 20_000


def test_a_repainted_chart_equals_a_freshly_drawn_one(tmp_path):
    """The chart figure is reused across images: nothing of the last image may remain in the next one."""
    import numpy as np
    from PIL import Image

    from emoscore.scoring.chart import ChartPainter

    reused, fresh = ChartPainter(3), ChartPainter(3)
    reused.paint(tmp_path / "a.png", (9.0, 2.0, 7.0), [("Disquietment", 0.9), ("Anger", 0.5)], "a long first title")
    reused.paint(tmp_path / "b.png", (3.0, 6.0, 5.0), [("Peace", 0.7), ("Joy", 0.4), ("Pain", 0.1)], "b")
    fresh.paint(tmp_path / "c.png", (3.0, 6.0, 5.0), [("Peace", 0.7), ("Joy", 0.4), ("Pain", 0.1)], "b")
    b, c = (np.asarray(Image.open(tmp_path / name)) for name in ("b.png", "c.png"))
    assert np.array_equal(b, c)
    assert not np.array_equal(b, np.asarray(Image.open(tmp_path / "a.png")))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`)")
def test_a_gallery_of_ten_thousand_photos_opens_fast_and_pages(tmp_path):
    """10,000 rows: the first page renders in under 2 s, no console error, a filter counts across every page, a
    later page shows its cards and its audio's metadata loads."""
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    import numpy as np

    from emoscore.catalog.gallery import PAGE_SIZE

    catalog = tmp_path / "catalog"
    Image.new("RGB", (64, 26), "white").save(_ensure(catalog / "charts" / "c.png"))
    with wave.open(str(_ensure(catalog / "audio" / "a.wav")), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 4000)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(10_000):
        quadrant = f"Q{index % 4 + 1}"
        rows.append(
            {
                "image_id": f"{index:064x}",
                "path": f"/library/missing/{index:05d}.jpg",
                "size_bytes": 1,
                "width": 64,
                "height": 48,
                "status": "ok",
                "error": None,
                "people": [],
                "valence": float(rng.uniform(1, 10)),
                "arousal": float(rng.uniform(1, 10)),
                "dominance": 5.0,
                "quadrant": quadrant,
                "quadrant_confidence": 0.5,
                "top_categories": [{"name": "Peace", "score": 0.5}],
                "categories_above_threshold": [],
                "chart_path": "charts/c.png",
                "audio_path": "audio/a.wav",
                "vad_model": "v",
                "music_model": "m",
                "params_hash": "p",
                "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "flow_run_id": "r",
            }
        )
    write_rows(catalog, rows)
    out = tmp_path / "gallery"
    write_gallery(read_catalog(catalog), Catalog(catalog), out)
    with chromium_page(out) as (page, base, problems):
        page.goto(f"{base}/index.html", wait_until="load")
        assert page.evaluate("window.firstRenderMs") < 2000
        assert page.locator("article.card").count() == PAGE_SIZE
        assert page.locator("#pages").text_content() == f"page 1 of {-(-10_000 // PAGE_SIZE)}"
        page.select_option("#quadrant", "Q3")
        assert page.locator("#count").text_content() == "2500 of 10000 images"
        page.click("#next")
        assert page.locator("#pages").text_content() == f"page 2 of {-(-2500 // PAGE_SIZE)}"
        names = page.locator("article.card .name").all_text_contents()
        assert len(names) == PAGE_SIZE and all(int(name[:5]) % 4 == 2 for name in names)
        assert names[0] == f"{4 * PAGE_SIZE + 2:05d}.jpg"  # sorted by name: page 2 starts after 48 of them
        page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)")
        assert page.evaluate("document.querySelectorAll('img[loading=lazy]').length") == PAGE_SIZE
    assert problems.console_errors == []

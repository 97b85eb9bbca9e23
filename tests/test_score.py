"""Scoring a library into the catalog: bad files, reruns, retries, a SIGKILL mid-run and two runs at once."""

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import soundfile
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from emoscore.catalog.store import Catalog
from emoscore.catalog.table import Identity, ImageFile, catalog_lock
from emoscore.config import load_params
from emoscore.emotic.labels import CATEGORIES
from emoscore.music.render import renderer_available
from emoscore.scoring.library import score_library
from emoscore.scoring.listing import Skipped, hash_images, iter_library
from emoscore.scoring.scorer import Scorer
from emoscore.scoring.workers import even_batches
from tests.helpers import PROJECT, TINY_THRESHOLD, Now, photo, prepare_or_die, read_catalog


def bad_library(root: Path, outside: Path) -> dict[str, str]:
    """A folder of what real libraries hold; returns name → expected outcome ('ok', 'error', 'skipped')."""
    expected = {}
    expected[photo(root / "album" / "plain.jpg").name] = "ok"
    expected[photo(root / "album" / "deep" / "UPPER.PNG").name] = "ok"
    expected[photo(root / "cmyk.jpg", mode="CMYK").name] = "ok"
    sixteen = np.linspace(0, 65535, 64 * 48, dtype=np.uint16).reshape(48, 64)
    Image.fromarray(sixteen).save(root / "sixteen.png")
    expected["sixteen.png"] = "ok"
    photo(root / "palette.png", mode="P", transparency=0)
    expected["palette.png"] = "ok"
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "blue")]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    expected["animated.gif"] = "ok"
    rotated = Image.new("RGB", (80, 40), "green")
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    rotated.save(root / "rotated.webp", exif=exif)
    expected["rotated.webp"] = "ok"
    (root / "zero.jpg").write_bytes(b"")
    expected["zero.jpg"] = "error"
    (root / "text.jpg").write_text("this is not an image")
    expected["text.jpg"] = "error"
    whole = photo(root / "tmp_full.jpg", size=(400, 300), quality=95).read_bytes()
    (root / "tmp_full.jpg").unlink()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    expected["truncated.jpg"] = "error"
    Image.new("1", (20000, 20000)).save(root / "bomb.png")
    expected["bomb.png"] = "error"
    (root / "broken_link.jpg").symlink_to(root / "does_not_exist.jpg")
    expected["broken_link.jpg"] = "skipped"
    photo(outside / "secret.jpg")
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    expected["escape.jpg"] = "skipped"
    (root / "notes.txt").write_text("not an image suffix: ignored")
    photo(root / os.fsdecode(b"caf\xe9_latin1.jpg"))  # a file name that is not UTF-8
    expected["caf\\xe9_latin1.jpg"] = "ok"
    Image.new("RGB", (1, 1), "white").save(root / "one_pixel.png")
    expected["one_pixel.png"] = "error"
    big_exif = Image.new("RGB", (64, 48), "blue").getexif()
    big_exif[0x010E] = "x" * 60_000  # ImageDescription: a 60 kB EXIF block
    photo(root / "huge_exif.jpg", exif=big_exif)
    expected["huge_exif.jpg"] = "ok"
    return expected


def test_every_good_image_scored_every_bad_one_explained(tmp_path, scorer):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    expected = bad_library(library, tmp_path / "outside")
    summary = score_library(
        library,
        Catalog(catalog),
        scorer.identity,
        lambda f: Now(scorer.score_files(f, catalog)),
        chunk_size=3,
        progress=False,
    )
    rows = {Path(r["path"]).name: r for r in read_catalog(catalog).to_pylist()}
    for name, outcome in expected.items():
        if outcome == "skipped":
            assert name not in rows
        else:
            assert rows[name]["status"] == outcome, (name, rows[name]["error"])
    assert summary.skipped == {"broken symlink": 1, "symlink points outside the library": 1}
    reasons = {name: rows[name]["error"] for name, outcome in expected.items() if outcome == "error"}
    assert "empty" in reasons["zero.jpg"] or "0 bytes" in reasons["zero.jpg"]
    assert "not a recognised image" in reasons["text.jpg"]
    assert "truncated" in reasons["truncated.jpg"]
    assert "decompression bomb" in reasons["bomb.png"] or "exceeds the limit" in reasons["bomb.png"]
    ok = rows["plain.jpg"]
    assert ok["quadrant"] in {"Q1", "Q2", "Q3", "Q4"} and 0 <= ok["quadrant_confidence"] <= 1
    assert len(ok["people"]) == 1 and len(ok["people"][0]["categories"]) == 26
    assert (catalog / ok["midi_path"]).is_file() and (catalog / ok["chart_path"]).stat().st_size > 1000
    assert rows["rotated.webp"]["width"] == 40 and rows["rotated.webp"]["height"] == 80  # EXIF applied
    assert ok["n_notes"] > 0 and ok["duration_s"] > 0
    # the project's thresholds are all TINY_THRESHOLD: a category is named exactly where its score reaches it
    person = ok["people"][0]
    named = [name for name, score in zip(CATEGORIES, person["categories"], strict=True) if score >= TINY_THRESHOLD]
    assert sorted(person["categories_above_threshold"]) == sorted(named) and 0 < len(named) < 26
    assert sorted(ok["categories_above_threshold"]) == sorted(named)  # one person: the image names the same
    scores = dict(zip(CATEGORIES, person["categories"], strict=True))
    assert [scores[n] for n in person["categories_above_threshold"]] == sorted((scores[n] for n in named), reverse=True)


def test_rerun_skips_retry_errors_and_changed_bytes(tmp_path, scorer):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    photo(library / "a.jpg")
    (library / "bad.jpg").write_text("nope")

    def run(**options):
        return score_library(
            library,
            Catalog(catalog),
            scorer.identity,
            lambda f: Now(scorer.score_files(f, catalog)),
            progress=False,
            **options,
        )

    first = run()
    assert (first.scored, first.failed) == (1, 1)
    again = run()
    assert (again.scored, again.failed, again.already_done) == (0, 0, 2)
    retried = run(retry_errors=True)
    assert (retried.scored, retried.failed, retried.already_done) == (0, 1, 1)
    photo(library / "bad.jpg")  # fixed by the user: new bytes, new image id
    fixed = run()
    assert fixed.scored == 1
    statuses = sorted((Path(r["path"]).name, r["status"]) for r in read_catalog(catalog).to_pylist())
    assert statuses == [("a.jpg", "ok"), ("bad.jpg", "error"), ("bad.jpg", "ok")]  # the old bytes keep their row
    (library / "copy.jpg").write_bytes((library / "a.jpg").read_bytes())
    with_copy = run()
    assert (with_copy.scored, with_copy.already_done) == (0, 3)  # same bytes as a.jpg: same key, nothing new


def test_identical_files_in_one_run_give_one_row(tmp_path, scorer):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    photo(library / "a.jpg")
    (library / "b.jpg").write_bytes((library / "a.jpg").read_bytes())
    summary = score_library(
        library, Catalog(catalog), scorer.identity, lambda f: Now(scorer.score_files(f, catalog)), progress=False
    )
    assert (summary.scored, summary.skipped) == (1, {"duplicate content": 1})
    assert read_catalog(catalog).num_rows == 1


def test_progress_bar_counts_every_image_to_its_total(tmp_path, scorer, capsys):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    for name in ("a.jpg", "b.png", "c.jpg"):
        photo(library / name)
    (library / "d.jpg").write_bytes((library / "a.jpg").read_bytes())  # a duplicate: counted, not scored
    score_library(
        library, Catalog(catalog), scorer.identity, lambda f: Now(scorer.score_files(f, catalog)), chunk_size=2
    )
    assert "4/4" in capsys.readouterr().err  # total known up front, so tqdm can show an ETA
    score_library(library, Catalog(catalog), scorer.identity, lambda f: Now(scorer.score_files(f, catalog)))
    assert "4/4" in capsys.readouterr().err  # already done counts too


def test_a_run_waiting_for_the_catalog_says_so(tmp_path, caplog):
    import threading

    catalog = tmp_path / "catalog"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(catalog)], stdout=subprocess.PIPE, text=True, cwd=PROJECT
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        threading.Timer(1.0, holder.kill).start()  # the other run ends a second later
        with caplog.at_level("WARNING", logger="emoscore"), catalog_lock(catalog):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert f"another scoring run (pid {holder.pid}) holds the catalog; waiting" in caplog.text


HOLD_LOCK = """
import sys, time
from pathlib import Path
from emoscore.catalog.table import catalog_lock
with catalog_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


RUNNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from emoscore.config import load_params
    from emoscore.catalog.store import Catalog
    from emoscore.scoring.library import score_library
    from emoscore.scoring.scorer import Scorer

    params, library, catalog, delay = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    scorer = Scorer.from_params(load_params(params))

    class Slow:
        def __init__(self, files):
            time.sleep(delay)
            self.rows = scorer.score_files(files, catalog)
        def result(self):
            return self.rows

    score_library(library, Catalog(catalog), scorer.identity, Slow, chunk_size=2, progress=False)
    """
)


def _spawn(project, library, catalog, delay=0.0):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(project / "params.yaml"), str(library), str(catalog), str(delay)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _assert_each_image_once(catalog, count):
    table = read_catalog(catalog)
    raw = Catalog(catalog).dataset().to_table(columns=["image_id"]).column(0).to_pylist()
    assert len(raw) == len(set(raw)) == count
    assert table.num_rows == count


def _committed(catalog):
    return Catalog(catalog).dataset().count_rows() if (catalog / "images" / "_delta_log").is_dir() else 0


def test_sigkill_mid_run_then_rerun_loses_and_duplicates_nothing(tmp_path, project, scorer):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    for i in range(10):
        photo(library / f"{i:02d}.jpg", size=(64 + i, 48))
    process = _spawn(project, library, catalog, delay=0.3)
    deadline = time.time() + 120
    while _committed(catalog) < 4 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = _committed(catalog) // 2  # chunks of two images, each one commit
    assert 1 <= written < 5, process.stderr.read().decode()[-2000:]
    summary = score_library(
        library, Catalog(catalog), scorer.identity, lambda f: Now(scorer.score_files(f, catalog)), progress=False
    )
    assert summary.already_done == 2 * written and summary.scored == 10 - 2 * written
    _assert_each_image_once(catalog, 10)


def test_two_runs_at_once_write_each_image_once(tmp_path, project):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    for i in range(6):
        photo(library / f"{i}.png", size=(50 + i, 40))
    processes = [_spawn(project, library, catalog, delay=0.1) for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read().decode()[-2000:]
    _assert_each_image_once(catalog, 6)


def test_identity_from_params_matches_the_loaded_scorer(project, scorer):
    assert Identity.from_params(load_params(project / "params.yaml")) == scorer.identity


def test_worker_processes_give_the_same_rows_in_the_same_order(tmp_path, project):
    library = tmp_path / "library"
    bad_library(library, tmp_path / "outside")
    files = [f for f in hash_images(iter_library(library)) if isinstance(f, ImageFile)]
    params = load_params(project / "params.yaml")
    in_process = Scorer.from_params(params)
    pooled = Scorer.from_params(params.model_copy(update={"score": params.score.model_copy(update={"workers": 2})}))
    try:
        here = list(in_process.pool.iter_vad(files))
        there = list(pooled.pool.iter_vad(files))
    finally:
        pooled.close()
    assert [p.file.path for p, _ in there] == [f.path for f in files]
    for (mine, outputs), (theirs, their_outputs) in zip(here, there, strict=True):
        assert (mine.error, mine.boxes, mine.width) == (theirs.error, theirs.boxes, theirs.width)
        if outputs is None:
            assert their_outputs is None
        else:
            assert np.allclose(outputs[1], their_outputs[1], atol=1e-4)
    assert all(p.context is None and not p.bodies for p, _ in there)  # no pixel arrays sent back


def test_rows_music_audio_and_charts_made_in_workers_equal_those_made_here(tmp_path, project):
    """Workers compose each batch's pieces together, render and chart them: the same files as one process makes."""
    for index in range(7):
        photo(tmp_path / "library" / f"p{index}.jpg", size=(60 + 9 * index, 50))
    (tmp_path / "library" / "broken.jpg").write_bytes(b"not a jpeg")
    files = [f for f in hash_images(iter_library(tmp_path / "library")) if isinstance(f, ImageFile)]
    params = load_params(project / "params.yaml")
    rows = {}
    for workers in (0, 2):
        update = {"workers": workers, "batch_size": 3, "audio": "lossless" if renderer_available() else "none"}
        scorer = Scorer.from_params(params.model_copy(update={"score": params.score.model_copy(update=update)}))
        try:
            rows[workers] = scorer.score_files(files, tmp_path / f"catalog{workers}", "run")
        finally:
            scorer.close()
    assert [row["image_id"] for row in rows[2]] == [f.image_id for f in files]
    assert [row["status"] for row in rows[2]].count("error") == 1
    for here, there in zip(rows[0], rows[2], strict=True):
        assert here.keys() == there.keys() and here["status"] == there["status"]
        for column in ("midi_path", "audio_path", "chart_path"):
            if here.get(column):
                mine, theirs = tmp_path / "catalog0" / here[column], tmp_path / "catalog2" / there[column]
                if column == "audio_path":  # the same samples up to FluidSynth's float rounding in either process
                    (a, _), (b, _) = soundfile.read(mine, dtype="int16"), soundfile.read(theirs, dtype="int16")
                    assert a.shape == b.shape and np.abs(a.astype(int) - b).max() <= 64
                else:
                    assert mine.read_bytes() == theirs.read_bytes(), column
    assert sum(1 for row in rows[2] if row.get("midi_path")) == 7


@given(st.integers(0, 300), st.integers(1, 64), st.integers(1, 8))
def test_even_batches_keep_order_size_and_fill_every_worker(count, batch_size, workers):
    files = [ImageFile(str(i), str(i), i) for i in range(count)]
    batches = even_batches(files, batch_size, workers)
    assert [f for batch in batches for f in batch] == files
    assert all(0 < len(batch) <= batch_size for batch in batches)
    if batches:
        assert max(map(len, batches)) - min(map(len, batches)) <= 1
        assert len(batches) % workers == 0 or len(batches) == count


def test_a_file_that_kills_its_worker_costs_only_its_own_row(tmp_path, project):
    for index in range(6):
        photo(tmp_path / "library" / f"p{index}.jpg")
    photo(tmp_path / "library" / "p2_crash.jpg")
    files = [f for f in hash_images(iter_library(tmp_path / "library")) if isinstance(f, ImageFile)]
    params = load_params(project / "params.yaml")
    pooled = Scorer.from_params(params.model_copy(update={"score": params.score.model_copy(update={"workers": 2})}))
    pooled.pool.prepare = functools.partial(prepare_or_die, **pooled.pool.prepare.keywords)
    try:
        results = list(pooled.pool.iter_vad(files))
        assert len(list(pooled.pool.iter_vad(files[:2]))) == 2  # the scorer keeps working afterwards
    finally:
        pooled.close()
    assert [p.file.path for p, _ in results] == [f.path for f in files]
    failed = {Path(p.file.path).name: p.error for p, outputs in results if outputs is None}
    assert list(failed) == ["p2_crash.jpg"] and "worker process died" in failed["p2_crash.jpg"]


def test_a_photo_removed_between_listing_and_hashing_is_skipped_not_an_error(tmp_path):
    kept, gone = photo(tmp_path / "kept.jpg"), photo(tmp_path / "gone.jpg")
    listed = list(iter_library(tmp_path))
    gone.unlink()
    items = list(hash_images(listed))
    assert [item.path for item in items if isinstance(item, ImageFile)] == [str(kept)]
    assert [item.reason for item in items if isinstance(item, Skipped)] == ["removed before it was read"]

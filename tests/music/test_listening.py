"""The evaluation's listening page (piano rolls, audio, measures) in headless Chromium, and the report's targets."""

import json
from pathlib import Path

import pytest

from emoscore.music.cp import Note, decode_notes, encode_notes
from emoscore.music.evaluate import MusicalityTargets, check_targets, measure_pieces
from emoscore.music.listening import Example, write_page
from emoscore.music.metrics import MEASURES
from emoscore.music.render import renderer_available
from tests.helpers import CHROMIUM, DEFAULTS, chromium_page

REPORT = Path(__file__).parents[2] / "reports" / "eval_music.json"


def piece(shift):
    notes = [Note(4 * i, 60 + shift + (0, 4, 7, 12)[i % 4], 4, 70 + 5 * (i % 3)) for i in range(16)]
    return encode_notes(notes, [(0, 96.0)], emotion=1)


@pytest.fixture
def page(tmp_path):
    examples = [
        Example(f"Q{q}", source, piece(q + (source == "real")), measure_pieces([piece(q)])[0])
        for q in (1, 2, 3, 4)
        for source in ("generated", "real")
    ]
    sections = ({"density": 8.0, "key_clarity": 0.91}, {"density": 7.5, "key_clarity": 0.84})
    examples += [
        Example("Q1", source, piece(0), measure_pieces([piece(0)])[0], sections) for source in ("generated", "real")
    ]
    summary = {
        "controllability": 0.9,
        "measures": MEASURES,
        "targets_met": True,
        "rows": [{"quadrant": "Q1<script>", "cells": ["1.00 / 1.00"] * len(MEASURES)}],
    }
    return write_page(examples, summary, tmp_path / "listening")


def test_the_page_escapes_and_links_every_medium_relatively(page):
    text = page.read_text()
    assert "Q1<script>" not in text and "Q1&lt;script&gt;" in text
    media = page.parent / "media"
    assert len(list(media.glob("*.png"))) == 10 and len(list(media.glob("*.mid"))) == 10
    assert 'src="media/' in text and "/tmp" not in text


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`)")
def test_the_listening_page_in_headless_chromium(page):
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    with chromium_page(page.parent, width=1200) as (tab, base, problems):
        tab.goto(f"{base}/index.html", wait_until="networkidle")
        assert tab.locator("section").count() == 5 and tab.locator("article").count() == 10
        assert tab.locator("article.generated").count() == 5 and tab.locator("article.real").count() == 5
        long = tab.locator("#Q1-long article.long")  # a long piece beside a real score, each with its sections
        assert long.count() == 2 and tab.locator("article:not(.long) table.sections").count() == 0
        rows = long.first.locator("table.sections tr").all_inner_texts()
        assert rows[1].split() == ["notes", "per", "bar", "8.0", "7.5"] and rows[2].split()[-2:] == ["0.91", "0.84"]
        assert tab.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 600)")
        if renderer_available():
            tab.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)")
            durations = tab.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
            assert len(durations) == 10 and all(d > 3 for d in durations)  # 4 bars at 96 BPM: 10 s
        else:
            assert tab.locator(".note").count() == 1  # says why there is no audio
    assert not problems.failures and not problems.console_errors


def test_targets_are_judged_per_quadrant():
    entry = {
        "generated": {"scale_consistency": 0.95, "pitch_class_entropy": 3.0, "note_density": 10.0},
        "fine_tuning_data": {"pitch_class_entropy": 2.8, "note_density": 11.0},
    }
    report = {"controllability": 0.9, "per_quadrant": {"Q1": entry, "Q2": json.loads(json.dumps(entry))}}
    assert check_targets(report, MusicalityTargets.from_params(DEFAULTS.eval_music))["all_met"]
    report["per_quadrant"]["Q2"]["generated"]["note_density"] = 7.0  # 36% under the data's
    judged = check_targets(report, MusicalityTargets.from_params(DEFAULTS.eval_music))
    assert not judged["all_met"] and judged["met"] == {
        "controllability": True,
        "scale_consistency": True,
        "pitch_class_entropy": True,
        "note_density": False,
    }
    report["long_form"] = {"all_within_tolerance": True, "recurrence_within_real_range": False}
    judged = check_targets(report, MusicalityTargets.from_params(DEFAULTS.eval_music))
    assert judged["met"]["long_sections"] and not judged["met"]["long_form_recurrence"]


def test_controllability_is_heard_by_the_judge_that_hears_real_clips_best():
    entry = {
        "generated": {"scale_consistency": 0.95, "pitch_class_entropy": 3.0, "note_density": 10.0},
        "fine_tuning_data": {"pitch_class_entropy": 2.8, "note_density": 11.0},
    }
    report = {
        "controllability": 0.9,
        "classifier_test_accuracy_on_real_clips": 0.6,
        "per_quadrant": {"Q1": entry},
        "controllability_by_rule": {"generated": {"quadrant": 0.5}, "held_out_clips": {"quadrant": 0.85}},
    }
    targets = MusicalityTargets.from_params(DEFAULTS.eval_music)
    judged = check_targets(report, targets)  # the rule hears real clips better, and it hears half the pieces right
    assert judged["judge"] == {"name": "rule", "accuracy_on_real_clips": 0.85, "controllability": 0.5}
    assert judged["met"]["classifier_on_real_clips"] and not judged["met"]["controllability"]
    report["classifier_test_accuracy_on_real_clips"] = 0.9  # now the classifier does: its 0.9 counts
    judged = check_targets(report, targets)
    assert judged["judge"]["name"] == "classifier" and judged["met"]["controllability"]
    del report["controllability_by_rule"]["held_out_clips"]  # a rule not tried on real clips never judges
    report["classifier_test_accuracy_on_real_clips"] = 0.6
    judged = check_targets(report, targets)
    assert judged["judge"]["name"] == "classifier" and not judged["met"]["classifier_on_real_clips"]


@pytest.mark.skipif(not REPORT.exists(), reason="no reports/eval_music.json yet (run dvc repro)")
def test_the_committed_report_has_every_measure_and_meets_the_targets():
    report = json.loads(REPORT.read_text())
    for entry in report["per_quadrant"].values():
        for source in ("generated", "fine_tuning_data", "held_out_clips"):
            assert set(entry[source]) == set(MEASURES)
    assert set(report["real_scores"]) == {"pieces", *MEASURES} and report["real_scores"]["pieces"] > 0
    assert set(report["sampling_comparison"]) == {"params_yaml", "emopia_released", "mode_steering_off"}
    targets = report["musicality_targets"]
    recomputed = check_targets(
        report,
        MusicalityTargets(
            targets["targets"]["scale_consistency"],
            targets["targets"]["tolerance"],
            targets["targets"]["controllability"],
            targets["targets"]["classifier"],
        ),
    )
    assert recomputed == targets  # the verdict follows from the figures in the same report
    # met on the real-score demo set with mode steering, two openings and the repetition penalty, controllability
    # heard by the labelling rule (0.86 on held-out real clips, where the learnt classifier hears 0.68); note
    # density in Q2/Q3 not (docs/music.md, "Openings")
    met = (
        "scale_consistency",
        "controllability",
        "classifier_on_real_clips",
        "pitch_class_entropy",
        "long_sections",
        "long_form_recurrence",
    )
    assert all(targets["met"][name] for name in met)
    assert all(report["realism"]["interval_targets_met"].values())
    assert report["mode"]["met"]  # every quadrant's mode, Q2's since two openings
    steered, unsteered = (
        report["sampling_comparison"][name]["minor_share_per_quadrant"] for name in ("params_yaml", "mode_steering_off")
    )
    assert steered["Q2"] > unsteered["Q2"] and steered["Q3"] > unsteered["Q3"]  # the rules, not the model alone
    # the rule made these labels; re-timed transcriptions and transposed copies move a few across its median (0.87)
    assert report["controllability_by_rule"]["fine_tuning_clips"]["quadrant"] > 0.8
    assert report["intensity"]["all_rise"]


def test_each_long_piece_is_shown_beside_a_real_score_in_its_quadrants_mode():
    from emoscore.music.judge import Judged
    from emoscore.music.tonality import find_key

    def score(root, third, bars):
        degrees = (0, 2, third, 5, 7, 9 if third == 4 else 8, 11 if third == 4 else 10, 12)
        notes = [Note(2 * i, root + degrees[i % 8], 2, 80) for i in range(8 * bars)]
        return encode_notes(notes, [(0, 90.0)])

    major, minor = score(60, 4, 40), score(57, 3, 40)
    long_pieces = {32: [score(60, 4, 32) for _ in range(8)]}  # two per quadrant
    judged = Judged({}, {}, {}, {}, [major, minor], long_pieces)
    examples = judged.long_examples()
    assert [(e.quadrant, e.source) for e in examples] == [
        (q, source) for q in ("Q1", "Q2", "Q3", "Q4") for source in ("generated", "real")
    ]
    for example in examples:
        assert len(example.sections) == 4 and example.long
        if example.source == "real":
            mode = find_key(decode_notes(example.steps)[0]).mode
            assert mode == ("major" if example.quadrant in ("Q1", "Q4") else "minor")
    assert Judged({}, {}, {}, {}, [major], {}).long_examples() == []  # no long pieces judged, none shown

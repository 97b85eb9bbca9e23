"""The prepared GPU measurement (benchmarks/gpu.py) stays runnable between GPU sessions: run here on the CPU at
tiny sizes, its own checks (a batched piece equals the piece alone; bf16 VAD within rounding of fp32) pass."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT


def test_the_gpu_script_runs_its_checks_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    command = [sys.executable, "-m", "benchmarks.gpu", "--out", str(out), "--device", "cpu", "--quick"]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    generation = figures["generation"]["quick"]
    assert figures["device"] == "cpu" and generation["batch"] == 8
    assert generation["batch_check"] == {"pieces_equal": 8, "pieces": 8}  # fixed shapes = eager, token for token
    assert generation["one_fixed_piece_steps_per_s"] > 0 and figures["vad"]["bf16_people_per_s"] > 0
    assert figures["jpeg"]["files"] == 4 and figures["jpeg"]["device_images_per_s"] > 0


@pytest.mark.slow
def test_the_end_to_end_gpu_script_scores_every_photo_on_the_cpu(tmp_path):
    """benchmarks/gpu_e2e.py as the GPU session runs it, at tiny sizes: every photo gets its row, audio and chart."""
    from emoscore.config import RenderParams
    from emoscore.music.audio import bank_for
    from emoscore.music.bank import bank_folder
    from emoscore.music.render import find_soundfont, renderer_available

    if not renderer_available():
        pytest.skip("FluidSynth or a General MIDI SoundFont is missing (the bank is built here)")
    bank_for(RenderParams(), 44100)
    bank = bank_folder(find_soundfont(), 44100, Path(os.environ["EMOSCORE_CACHE"]))
    out = tmp_path / "e2e.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.gpu_e2e",
        "--out",
        str(out),
        "--bank",
        str(bank),
        "--photos",
        "24",
        "--device",
        "cpu",
        "--quick",
        "--work",
        str(tmp_path / "work"),
    ]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    summary = figures["run"]["all"]["summary"]
    assert summary["scored"] == summary["rows_with_audio"] == summary["rows_with_chart"] == 24
    assert figures["run"]["tenth"]["summary"]["scored"] == 2 and summary["failed"] == 0
    assert figures["stages"]["bank_render_pieces_per_s"] > 0 and figures["stages"]["chart_ms_per_photo_one_core"] > 0


@pytest.mark.slow
def test_the_music_gpu_script_pretrains_fine_tunes_and_judges_on_the_cpu(tmp_path):
    """benchmarks/gpu_music.py as a GPU session runs it (issue #26's GPU item), at a tiny size on data written here
    in the prepared folder's layout: pretraining sized to its budget, the corpus moved to seven keys, fine-tuning
    by whole epochs, both checkpoints kept, and eval_music's judge run on the result."""
    from emoscore.config import SampleParams
    from emoscore.music.classify import ClassifierConfig, MusicClassifier
    from emoscore.music.corpus import prepare_corpus
    from emoscore.music.emopia import load_split, prepare_emopia
    from emoscore.music.model import CPTransformer
    from emoscore.music.vocabulary import VOCABULARY, Vocabulary
    from emoscore.samples.music import write_emopia_sample

    data = tmp_path / "music"
    sample = SampleParams(out=tmp_path / "sample", emopia_songs_per_quadrant=5, emopia_clips_per_song=2, emopia_bars=4)
    prepare_emopia(write_emopia_sample(sample), data / "emopia")
    VOCABULARY.save(data / "emopia" / "vocabulary.json")
    prepare_corpus(None, data / "demo_corpus", music21=["bach", "joplin"], music21_files=8, transpositions=[0])
    MusicClassifier(ClassifierConfig(tuple(VOCABULARY.sizes), 16, 1, 2, 0.0, 64)).save(
        data / "music_classifier.pt", VOCABULARY
    )
    out = tmp_path / "music.json"
    command = [sys.executable, "-m", "benchmarks.gpu_music", "--data", str(data), "--out", str(out)]
    command += ["--device", "cpu", "--quick", "--pretrain-s", "4", "--finetune-epochs", "2", "--batch-size", "4"]
    command += ["--keep", str(tmp_path / "kept")]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    pretrain, finetune = figures["pretrain"], figures["finetune"]
    assert pretrain["plan"]["keys"] == [-5, -3, -1, 0, 2, 4, 6] and finetune["plan"]["keys"] == [0]
    corpus_pieces = len(load_split(data / "demo_corpus" / "train.npz")[0])
    assert pretrain["plan"]["of_pieces"] == 7 * corpus_pieces and pretrain["plan"]["pieces"] > 0
    # fine-tuning by epochs: all of the set, twice, the last epoch kept; both checkpoints kept, each what it says
    assert finetune["plan"]["whole"] and finetune["plan"]["epochs"] == len(finetune["epochs"]) == 2
    assert finetune["budget_s"] is None and finetune["epochs_asked"] == 2
    assert finetune["kept"] == "last" and finetune["kept_epoch"] == 2
    kept = tmp_path / "kept"
    assert {path.name for path in kept.iterdir()} == {"music_pretrained.pt", "music.pt"}
    for name, pretrained, epochs in (("music_pretrained.pt", True, pretrain), ("music.pt", False, finetune)):
        _, sections = CPTransformer.load(kept / name)
        assert sections["extra"]["pretrained"] is pretrained
        assert sections["extra"]["history"]["epochs"] == epochs["epochs"]
    tuned, vocabulary = CPTransformer.from_checkpoint(kept / "music.pt")
    assert vocabulary == Vocabulary.load(data / "emopia" / "vocabulary.json") and tuned.config.d_model == 64
    plan = pretrain["plan"]  # pretraining by its budget
    assert pretrain["step_s"] > 0 and len(pretrain["epochs"]) == plan["epochs"] >= 1
    assert plan["budget_windows"] % 4 == 0 and plan["budget_windows"] >= 4  # whole batches of 4 in 4 s
    if plan["whole"]:  # all of it fits: as many whole epochs as the budget holds
        assert plan["epochs"] == max(1, plan["budget_windows"] // plan["of_windows"])
    else:  # one epoch of pieces drawn until the budget is reached (keys out of the piano's range dropped)
        assert plan["epochs"] == 1 and plan["budget_windows"] / 2 <= plan["windows"]
        assert plan["windows"] <= plan["budget_windows"] + 0.1 * plan["of_windows"]
    judged = figures["judge"]
    assert set(judged["minor_share"]) == {"Q1", "Q2", "Q3", "Q4"} and 0 <= judged["key_clarity"] <= 1
    assert 0 <= judged["controllability_by_rule"]["quadrant"] <= 1 and "16" in judged["long_sections"]
    assert figures["eval_music"]["pieces_per_quadrant"] == 2

    # the control: the kept pretrained checkpoint fine-tuned again, its lowest-val-loss epoch judged; --keep takes
    # only what this run trained, so the given checkpoint is neither copied onto itself nor overwritten
    before = (kept / "music_pretrained.pt").read_bytes()
    control = [*command[:5], "--out", str(tmp_path / "control.json"), "--device", "cpu", "--quick", "--batch-size", "4"]
    control += ["--pretrained", str(kept / "music_pretrained.pt"), "--finetune-epochs", "1", "--finetune-keep", "best"]
    result = subprocess.run([*control, "--keep", str(kept)], cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads((tmp_path / "control.json").read_text())
    assert figures["pretrain"] == {"checkpoint": str(kept / "music_pretrained.pt")}
    assert figures["finetune"]["kept"] == "best" and len(figures["finetune"]["epochs"]) == 1
    assert (kept / "music_pretrained.pt").read_bytes() == before and "judge" in figures


def test_the_music_gpu_script_sizes_each_run_as_named(tmp_path):
    """`--size`: the paper's size at its own rates and batch 16; the demo's (the CPU stand-in) at params.yaml's
    size, batch and learning rates, in the precision asked for."""
    from benchmarks.gpu_music import LEARNING_RATE, PAPER, run_params, sizing
    from emoscore.config import load_params

    demo = load_params(PROJECT / "params.yaml")
    assert sizing("paper", None) == (PAPER, 16, LEARNING_RATE)
    size, batch, rates = sizing("demo", None)
    assert (size, batch, rates) == ({}, demo.music.batch_size, {"pretrain": None, "finetune": None})
    params = run_params(tmp_path, tmp_path, "cpu", size, batch, False, "fp32")
    assert (params.music.d_model, params.music.n_layers, params.music.seq_len) == (
        demo.music.d_model,
        demo.music.n_layers,
        demo.music.seq_len,
    )
    assert params.music.precision == params.pretrain_music.precision == "fp32"
    paper = run_params(tmp_path, tmp_path, "cpu", *sizing("paper", 8)[:2], False)
    assert paper.music.d_model == 512 and paper.music.batch_size == 8 and paper.music.precision == "bf16"

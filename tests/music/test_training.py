"""Pretraining on unlabeled MIDI, fine-tuning from it, and training that survives a kill: resume, accumulation."""

import shutil

import numpy as np
import pytest
import torch

from emoscore.config import parse_params
from emoscore.errors import CheckpointError
from emoscore.music import train as train_module
from emoscore.music.corpus import prepare_corpus
from emoscore.music.cp import EMOTION, TYPE
from emoscore.music.emopia import load_split, save_split
from emoscore.music.train import Schedule, train_music_model
from emoscore.music.vocabulary import TYPE_EMOTION, VOCABULARY
from emoscore.samples.music import write_piece
from tests.music.test_timing import a_song, transcribe

MUSIC = {
    "d_model": 32,
    "n_layers": 1,
    "n_heads": 2,
    "seq_len": 64,
    "epochs": 2,
    "batch_size": 4,
    "embedding_sizes": [8, 8, 8, 4, 8, 8, 8, 4],
    "type_embedding": 4,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small unlabeled corpus in nested folders: scores, a transcription and two bad files."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    for index in range(10):
        write_piece(root / "scores" / f"piece{index}.mid", index % 4 + 1, 8, transcribed=False, rng=rng)
    (root / "live").mkdir()
    transcribe(a_song(), root / "live" / "take.MID")
    (root / "live" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00")
    (root / "notes.txt").write_text("not music")
    (root / "empty.midi").write_bytes(b"")
    out = root.parent / (root.name + "_tokens")
    return out, prepare_corpus(root, out)


def test_an_unlabeled_corpus_is_tokenised_with_an_unlabeled_emotion_word(corpus):
    out, report = corpus
    assert sum(report["clips_kept"].values()) == 11
    assert report["skipped_by_reason"] == {"corrupt": 1, "empty_file": 1}
    assert report["beat_tracked"] == 1  # the transcription; the scores keep their tempo maps
    pieces = load_split(out / "train.npz")[0] + load_split(out / "val.npz")[0]
    assert all(p[0, TYPE] == TYPE_EMOTION and p[0, EMOTION] == 0 for p in pieces)
    assert load_split(out / "val.npz")[0], "every corpus gets a validation piece"


def schedule(tmp_path, **changes):
    music = parse_params({"music": {**MUSIC, **changes}}).music
    return music, Schedule.of(music.model_copy(update={"resume": tmp_path / "resume.pt"}), "cpu")


def test_fine_tuning_starts_from_the_pretrained_weights(corpus, tmp_path):
    out, _ = corpus
    music, plan = schedule(tmp_path, epochs=1)
    pretrained, report = train_music_model(out, music, plan)
    pretrained.save(tmp_path / "pretrained.pt", VOCABULARY, extra={"history": report})
    # zero epochs of fine-tuning are not allowed, so compare what a fine-tune starts from through the loader
    state = train_module.load_pretrained(tmp_path / "pretrained.pt", pretrained.config)
    assert all(torch.equal(state[k], v) for k, v in pretrained.state_dict().items())
    tuned, tuned_report = train_music_model(out, music, plan, init=tmp_path / "pretrained.pt")
    scratch, _ = train_music_model(out, music, plan)
    assert tuned_report["initialised_from"].endswith("pretrained.pt")
    assert tuned_report["epochs"][0]["val_loss"] < report["epochs"][0]["val_loss"]  # one more epoch of learning
    assert not torch.equal(tuned.embeddings[4].weight, scratch.embeddings[4].weight)


def test_a_pretrained_model_of_another_size_is_refused_by_name(corpus, tmp_path):
    out, _ = corpus
    music, plan = schedule(tmp_path, epochs=1)
    small, _ = train_music_model(out, music, plan)
    small.save(tmp_path / "small.pt", VOCABULARY)
    bigger, bigger_plan = schedule(tmp_path, epochs=1, d_model=64)
    with pytest.raises(CheckpointError, match=r"small\.pt.*d_model=32"):
        train_music_model(out, bigger, bigger_plan, init=tmp_path / "small.pt")


def _killed_in_epoch_two(monkeypatch, data, music, plan) -> None:
    """Train until a kill at the end of epoch 2 (its resume state written for epoch 1), then undo the kill."""
    evaluate = train_module.evaluate_loss
    calls = []

    def dies_in_epoch_two(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return evaluate(*args)

    with monkeypatch.context() as patched:
        patched.setattr(train_module, "evaluate_loss", dies_in_epoch_two)
        with pytest.raises(KeyboardInterrupt):
            train_music_model(data, music, plan)


def test_a_killed_run_resumes_to_the_same_weights(corpus, tmp_path, monkeypatch):
    out, _ = corpus
    music, plan = schedule(tmp_path, epochs=3)
    whole, _ = train_music_model(out, music, plan)
    _killed_in_epoch_two(monkeypatch, out, music, plan)
    assert plan.resume.exists()
    resumed, report = train_music_model(out, music, plan)
    assert [e["epoch"] for e in report["epochs"]] == [1, 2, 3]
    pairs = zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not plan.resume.exists()


def test_a_killed_run_does_not_resume_onto_other_data_in_the_same_folder(corpus, tmp_path, monkeypatch):
    """A run killed while training on one corpus, rerun after the corpus in its folder changed, starts afresh."""
    out, _ = corpus
    data = tmp_path / "data"
    shutil.copytree(out, data)
    music, plan = schedule(tmp_path, epochs=2)
    _killed_in_epoch_two(monkeypatch, data, music, plan)
    pieces, quadrants, names = load_split(data / "train.npz")
    save_split(data / "train.npz", pieces[:-1], names[:-1], list(quadrants[:-1]))  # the corpus changes
    rerun, _ = train_music_model(data, music, plan)
    fresh, _ = train_music_model(
        data, music, Schedule.of(music.model_copy(update={"resume": tmp_path / "r2.pt"}), "cpu")
    )
    pairs = zip(fresh.state_dict().values(), rerun.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_gradient_accumulation_takes_fewer_optimizer_steps(corpus, tmp_path, monkeypatch):
    out, _ = corpus
    steps = []
    step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: (steps.append(1), step(self, *a, **k))[1])
    music, plan = schedule(tmp_path, epochs=1)
    train_music_model(out, music, plan)
    single = len(steps)
    steps.clear()
    music, plan = schedule(tmp_path, epochs=1, accumulate=3)
    _, report = train_music_model(out, music, plan)
    assert len(steps) == -(-single // 3) and np.isfinite(report["best_val_loss"])


def test_bf16_autocast_trains_on_the_cpu_too(corpus, tmp_path):
    out, _ = corpus
    music, plan = schedule(tmp_path, epochs=1, precision="bf16")
    model, report = train_music_model(out, music, plan)
    _, fp32_report = train_music_model(out, *schedule(tmp_path, epochs=1))
    assert np.isfinite(report["best_val_loss"]) and report["best_val_loss"] != fp32_report["best_val_loss"]
    assert next(model.parameters()).dtype == torch.float32  # autocast computes in bf16; the weights stay fp32


def test_training_keeps_the_epoch_of_the_lowest_val_loss_or_the_last(corpus, tmp_path, monkeypatch):
    """`keep="best"` returns the weights of the epoch whose val loss was lowest (here the first); `"last"` those of
    the last epoch, which after a strong pretraining is the one that has learnt the quadrants (docs/music.md)."""
    out, _ = corpus
    music, plan = schedule(tmp_path, epochs=3)
    evaluate = train_module.evaluate_loss
    seen: list[dict] = []

    def first_is_lowest(model, *args):
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        evaluate(model, *args)
        return [0.1, 0.5, 0.9][(len(seen) - 1) % 3]

    monkeypatch.setattr(train_module, "evaluate_loss", first_is_lowest)
    best, report = train_music_model(out, music, plan)
    last, _ = train_music_model(out, music, plan, keep="last")
    assert report["best_val_loss"] == 0.1 and len(seen) == 6
    assert all(torch.equal(v, seen[0][k]) for k, v in best.state_dict().items())
    assert all(torch.equal(v, seen[5][k]) for k, v in last.state_dict().items())
    assert not all(torch.equal(v, seen[0][k]) for k, v in last.state_dict().items())

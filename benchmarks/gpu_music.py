"""Issue #26's GPU item: the CP transformer at the CP paper's size (d_model 512, 12 layers, 8 heads, windows of 1,024
steps) in bf16 by default, pretrained on the whole of music21's corpus and fine-tuned on the demo's real-score EMOPIA
set, each for a wall-clock budget or a number of epochs; then judged by `eval_music`'s own judge, whose figures go
beside the CPU demo's in docs/music.md. Two steps, the first here (no FluidSynth or music21 parsing needed there):

    python -m benchmarks.gpu_music --prepare .gpu/music [--corpus FOLDER]    # ~8 min on 2 cores (music21's parsing)
    python -m benchmarks.gpu_music --data .gpu/music --out music.json [--pretrain-s 200] [--finetune-s 80]

The prepared folder holds the whole corpus tokenised in one key (`corpus/`; moved to seven keys as CP steps on the
device), the demo's fine-tuning set and vocabulary (`emopia/`), its music classifier, and the demo corpus whose
held-out scores the judge compares with (`demo_corpus/`), so the judge's real references are the CPU demo's (the
split is by a hash of each score's name, so those scores are held out of the whole corpus too). A budget is met by
measuring the step time first and training on as many windows as fit (whole epochs when the corpus fits); the
fine-tune's last epoch is judged, not its lowest validation loss (that came before the quadrants were learnt). The
report is written after each phase, so a run cut short still says what it did. `--device cpu --quick` runs it here
on the demo's data at a tiny size, which is how the tests keep it working; `--size demo --device cpu --precision fp32`
is the nearest thing a machine without a GPU can do: the whole corpus at the demo's own size and learning rates.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import yaml

from benchmarks.gpu import synchronize
from emoscore.config import Params, load_params, parse_params
from emoscore.device import autocast, pick_device
from emoscore.music.corpus import prepare_corpus
from emoscore.music.cp import transpose_steps
from emoscore.music.emopia import load_split, save_split, windows
from emoscore.music.judge import judge_music
from emoscore.music.model import CPTransformer, MusicConfig
from emoscore.music.train import Schedule, pad_batch, train_music_model
from emoscore.music.vocabulary import VOCABULARY, Vocabulary

PROJECT = Path(__file__).resolve().parent.parent
PAPER = {"d_model": 512, "n_layers": 12, "n_heads": 8, "seq_len": 1024}
QUICK = {"d_model": 64, "n_layers": 2, "n_heads": 4, "seq_len": 128}
SIZES = {"paper": PAPER, "demo": {}, "tiny": QUICK}  # demo: params.yaml's own (d_model 128, 3 layers, 256 steps)
KEYS = [-5, -3, -1, 0, 2, 4, 6]  # the corpus is prepared in one key and moved to these on the device
CALIBRATION_STEPS = 6  # timed training steps (after two untimed) that size each phase to its budget

LEARNING_RATE = {"pretrain": 3e-4, "finetune": 1e-4}  # the paper size's AdamW rates (the demo's 1e-3 is for 128 wide)


def prepare(folder: Path, corpus: Path | None) -> None:
    """Here: the whole corpus tokenised (or copied from `corpus`), and the demo's data and classifier beside it."""
    params = load_params(PROJECT / "params.yaml")
    folder.mkdir(parents=True, exist_ok=True)
    if corpus is not None:
        shutil.copytree(corpus, folder / "corpus", dirs_exist_ok=True)
    else:
        c = params.midi_corpus
        report = prepare_corpus(
            c.root, folder / "corpus", c.timing, music21=c.music21, music21_files=10_000, transpositions=[0]
        )
        (folder / "corpus" / "report.json").write_text(json.dumps(report, indent=1))
    shutil.copytree(PROJECT / params.emopia.out, folder / "emopia", dirs_exist_ok=True)
    shutil.copy(PROJECT / params.emopia.vocabulary, folder / "emopia" / "vocabulary.json")
    shutil.copytree(PROJECT / params.midi_corpus.out, folder / "demo_corpus", dirs_exist_ok=True)
    shutil.copy(PROJECT / params.music_classifier.out, folder / "music_classifier.pt")


def sizing(name: str, batch_size: int | None) -> tuple[dict, int, dict[str, float | None]]:
    """The model size (empty: params.yaml's own), batch and learning rates per phase (None: the section's own) of
    `name`: the paper's and the tiny size train at the paper's rates and batch 16, the demo's at params.yaml's."""
    if name == "demo":
        return {}, batch_size or load_params(PROJECT / "params.yaml").music.batch_size, dict.fromkeys(LEARNING_RATE)
    return SIZES[name], batch_size or 16, dict(LEARNING_RATE)


def run_params(
    data: Path, work: Path, device: str, size: dict, batch_size: int, quick: bool, precision: str = "bf16"
) -> Params:
    """params.yaml with the model at `size` in `precision` on `device`, the prepared data, and models written to
    `work`; an empty `size` keeps the demo's own."""
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    raw["music"].update(
        size,
        batch_size=batch_size,
        accumulate=1,
        device=device,
        precision=precision,
        resume=str(work / "music.resume"),
        out=str(work / "music.pt"),
        pretrained=True,
    )
    raw["pretrain_music"].update(
        batch_size=batch_size,
        accumulate=1,
        precision=precision,
        resume=str(work / "pretrain.resume"),
        out=str(work / "music_pretrained.pt"),
    )
    raw["emopia"].update(out=str(data / "emopia"), vocabulary=str(data / "emopia" / "vocabulary.json"))
    raw["midi_corpus"]["out"] = str(data / "demo_corpus")
    raw["music_classifier"]["out"] = str(data / "music_classifier.pt")
    if quick:
        raw["eval_music"].update(pieces_per_quadrant=2, intensity_pieces=1, long_bars=[16], long_pieces_per_quadrant=1)
    return parse_params(raw)


def step_seconds(params: Params, pieces: list[np.ndarray], device: torch.device) -> float:
    """Seconds per training step (forward, backward, optimizer; `params.music`'s precision) at its size and batch."""
    model = CPTransformer(MusicConfig.from_params(params.music)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cut = [w for piece in pieces[:64] for w in windows(piece, params.music.seq_len)]
    longest = sorted(cut, key=len)[-params.music.batch_size :]  # the slowest batch shape the data has
    words, lengths = pad_batch(longest)
    times = []
    for step in range(CALIBRATION_STEPS + 2):
        synchronize(device)
        started = time.perf_counter()
        with autocast(device, params.music.precision):
            loss, _ = model.loss(words.to(device), lengths.to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        synchronize(device)
        if step >= 2:
            times.append(time.perf_counter() - started)
    return float(np.median(times))


def fit_to_budget(
    folder: Path,
    train: tuple[list[np.ndarray], np.ndarray, list[str]],
    out: Path,
    seq_len: int,
    windows_budget: int,
    seed: int,
    keys: list[int] | None = None,
    epochs: int | None = None,
) -> dict:
    """A split in `out` of about `windows_budget` windows of `train` (`folder`'s train split) in each of `keys` (as
    CP steps): all of it for as many epochs as fit (or for `epochs`, when given: the budget is what they take), or
    one epoch of (piece, key) pairs drawn at random; validation a tenth, from `folder`'s validation split."""
    pieces, quadrants, names = train  # `folder`'s train split, as load_split read it
    count = [len(windows(piece, seq_len)) for piece in pieces]
    candidates = [(index, key) for index in range(len(pieces)) for key in keys or [0]]
    total = sum(count[index] for index, _ in candidates)
    if epochs is not None:
        windows_budget = epochs * total
    rng = np.random.default_rng(seed)
    whole = windows_budget >= total
    if whole:
        chosen, epochs = candidates, max(1, windows_budget // total)
    else:
        chosen, kept, epochs = [], 0, 1
        for pick in rng.permutation(len(candidates)):
            if kept >= windows_budget:
                break
            chosen.append(candidates[pick])
            kept += count[candidates[pick][0]]
    made: list[tuple[np.ndarray, str, int]] = []
    for index, key in chosen:
        try:
            moved = transpose_steps(pieces[index], key) if key else pieces[index]
        except ValueError:
            continue
        made.append((moved, f"{names[index].split('@')[0]}@{key:+d}", int(quadrants[index])))
    save_split(out / "train.npz", [m[0] for m in made], [m[1] for m in made], [m[2] for m in made])
    val, val_quadrants, val_names = load_split(folder / "val.npz")
    keep = rng.permutation(len(val))[: max(1, math.ceil(0.1 * len(made)))]
    save_split(
        out / "val.npz", [val[i] for i in keep], [val_names[i] for i in keep], [int(val_quadrants[i]) for i in keep]
    )
    return {
        "whole": whole,  # every (piece, key) pair, for `epochs` epochs; else one epoch of those drawn
        "budget_windows": windows_budget,
        "pieces": len(made),  # pairs whose key stays in the piano's range
        "of_pieces": len(candidates),
        "keys": keys or [0],
        "windows": sum(len(windows(m[0], seq_len)) for m in made),
        "of_windows": total,
        "epochs": int(epochs),
        "val_pieces": len(keep),
    }


def train_phase(
    name: str,
    params: Params,
    source: Path,
    budget_s: float,
    work: Path,
    report: dict,
    init: Path | None = None,
    learning_rate: float | None = None,
    epochs: int | None = None,
    keep: Literal["best", "last"] = "best",
) -> tuple[CPTransformer, Path]:
    """Train for about `budget_s` on `source`'s windows (from `init` when given) at `learning_rate` (the section's
    own when None), or for whole `epochs` of them when given (the step is timed either way, for the report), keeping
    the `keep` epoch; the model and checkpoint."""
    phase_started = time.perf_counter()
    device = pick_device(params.music.device)
    train = load_split(source / "train.npz")
    step = step_seconds(params, train[0], device)
    batch = params.music.batch_size
    keys = KEYS if init is None else None  # the corpus in seven keys; the fine-tuning set is balanced already
    budget = max(1, int(budget_s / step)) * batch  # windows the budget's training steps hold (one batch at least)
    plan = fit_to_budget(source, train, work / name, params.music.seq_len, budget, params.music.seed, keys, epochs)
    section = params.pretrain_music if init is None else params.music
    schedule = replace(Schedule.of(section, params.music.device), epochs=plan["epochs"])
    if learning_rate is not None:
        schedule = replace(schedule, learning_rate=learning_rate)
    started = time.perf_counter()
    model, history = train_music_model(work / name, params.music, schedule, init=init, keep=keep)
    seconds = time.perf_counter() - started
    vocabulary = VOCABULARY if init is None else Vocabulary.load(params.emopia.vocabulary)
    path = Path(section.out)
    model.save(path, vocabulary, extra={"history": history, "pretrained": init is None})
    kept = history["epochs"][-1] if keep == "last" else min(history["epochs"], key=lambda e: e["val_loss"])
    report[name] = {
        "budget_s": None if epochs is not None else budget_s,
        "epochs_asked": epochs,
        "step_s": round(step, 4),
        "plan": plan,
        "seconds": round(seconds, 1),
        "learning_rate": schedule.learning_rate,
        "best_val_loss": history["best_val_loss"],
        "kept": keep,  # the epoch of the lowest val loss, or the last
        "kept_epoch": kept["epoch"],
        "kept_val_loss": kept["val_loss"],
        "epochs": history["epochs"],
        "tokens_per_s": round(plan["windows"] * plan["epochs"] * params.music.seq_len / seconds, 1),
        "phase_seconds": round(time.perf_counter() - phase_started, 1),  # with timing, cutting and saving
    }
    return model, path


def judge(params: Params, report: dict) -> None:
    """eval_music's judge on the fine-tuned model; the figures the CPU demo's docs/music.md table has."""
    started = time.perf_counter()
    judged = judge_music(params).report
    report["judge_seconds"] = round(time.perf_counter() - started, 1)
    report["judge"] = summary(judged)
    report["eval_music"] = judged


def summary(judged: dict) -> dict:
    """The headline figures of an eval_music report, as docs/music.md's table of the CPU demo has them."""
    quadrants = judged["per_quadrant"]

    def ratio(measure: str) -> dict:
        return {
            q: round(r["generated"][measure] / r["fine_tuning_data"][measure], 3)
            if r["fine_tuning_data"][measure]
            else None
            for q, r in quadrants.items()
        }

    generated = judged["realism"]["sets"]["generated"]
    return {
        "musicality_targets": judged["musicality_targets"],
        "controllability_by_rule": judged["controllability_by_rule"]["generated"],
        "controllability_by_classifier": judged["controllability"],
        "minor_share": {q: r["minor_share"]["generated"] for q, r in quadrants.items()},
        "mode_met": judged["mode"]["met"],
        "overlaps": generated["overlap"],
        "key_clarity": generated["key_clarity"],
        "interval_targets_met": judged["realism"]["interval_targets_met"],
        "note_density_ratio": ratio("note_density"),
        "pitch_class_entropy_ratio": ratio("pitch_class_entropy"),
        "long_sections": {
            bars: {
                "density_ratio_to_first": length["continued"]["density_ratio_to_first"],
                "key_clarity_ratio_to_first": length["continued"]["key_clarity_ratio_to_first"],
                "recurring_bars_ratio_to_real": length["form"]["ratio_to_real"],
            }
            for bars, length in judged["long_form"]["lengths"].items()
        },
        "long_form_within_tolerance": judged["long_form"]["all_within_tolerance"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepare", type=Path, help="here: write the data folder (then carry it)")
    parser.add_argument("--corpus", type=Path, help="with --prepare: an already tokenised whole corpus to copy")
    parser.add_argument("--data", type=Path, help="the prepared folder")
    parser.add_argument("--out", type=Path, help="the report (JSON)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--pretrain-s", type=float, default=200.0, help="pretraining's wall-clock budget")
    parser.add_argument("--finetune-s", type=float, default=80.0, help="fine-tuning's wall-clock budget")
    parser.add_argument("--batch-size", type=positive, help="16 at the paper's and tiny sizes, params.yaml's at demo")
    parser.add_argument(
        "--size", choices=list(SIZES), help="paper, demo (params.yaml's) or tiny; default: paper, tiny with --quick"
    )
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--quick", action="store_true", help="a tiny model on the demo's data: checks the script")
    parser.add_argument("--pretrained", type=Path, help="fine-tune this checkpoint instead of pretraining (a control)")
    parser.add_argument("--pretrain-epochs", type=positive, help="pretrain for this many epochs, not for a budget")
    parser.add_argument("--finetune-epochs", type=positive, help="fine-tune for this many epochs, not for a budget")
    parser.add_argument("--keep", type=Path, help="a folder to copy the checkpoints this run trains to")
    parser.add_argument(
        "--finetune-keep",
        choices=["last", "best"],
        default="last",
        help="the fine-tune's epoch to judge: the last (default) or the lowest val loss, which after whole-corpus "
        "pretraining comes before the quadrants are learnt (docs/music.md)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    if args.prepare:
        prepare(args.prepare, args.corpus)
        return
    if not args.data or not args.out:
        parser.error("--data and --out (or --prepare)")
    if args.pretrained and args.pretrain_epochs:
        parser.error("--pretrain-epochs with --pretrained: that checkpoint is fine-tuned, nothing is pretrained")
    size, batch_size, rates = sizing(args.size or ("tiny" if args.quick else "paper"), args.batch_size)
    report: dict = {
        "device": _device_name(args.device),
        "torch": torch.__version__,
        "precision": args.precision,
        "batch_size": batch_size,
    }
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        params = run_params(args.data, work, args.device, size, batch_size, args.quick, args.precision)
        report["size"] = {key: getattr(params.music, key) for key in PAPER}
        report["sets"] = {
            "pretraining": "the whole music21 corpus, seven keys" if not args.quick else "the demo's corpus",
            "fine_tuning": "the demo's real-score EMOPIA-format set",
        }
        corpus = args.data / ("demo_corpus" if args.quick else "corpus")
        write = lambda: args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")  # noqa: E731
        if args.pretrained:
            pretrained = args.pretrained
            report["pretrain"] = {"checkpoint": str(pretrained)}
            report["sets"]["pretraining"] = f"none here: fine-tuned from {pretrained}"
        else:
            budget, rate = args.pretrain_s, rates["pretrain"]
            _, pretrained = train_phase(
                "pretrain", params, corpus, budget, work, report, None, rate, args.pretrain_epochs
            )
        write()
        finetune, rate = args.data / "emopia", rates["finetune"]
        _, tuned = train_phase(
            "finetune",
            params,
            finetune,
            args.finetune_s,
            work,
            report,
            pretrained,
            rate,
            args.finetune_epochs,
            args.finetune_keep,
        )
        write()
        if args.keep:  # only what this run trained: a given --pretrained checkpoint stays where it is
            args.keep.mkdir(parents=True, exist_ok=True)
            for checkpoint in [tuned] if args.pretrained else [pretrained, tuned]:
                shutil.copy(checkpoint, args.keep / checkpoint.name)
        judge(params, report)
        write()


def positive(text: str) -> int:
    """argparse's type for counts: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return value


def _device_name(device: str) -> str:
    chosen = pick_device(device)
    return torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else "cpu"


if __name__ == "__main__":
    main()

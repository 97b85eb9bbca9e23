"""Training loops of the music models on prepared EMOPIA splits (windows of CP steps)."""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from emoscore.config import MusicClassifierParams, MusicParams, PretrainMusicParams
from emoscore.device import autocast, pick_device
from emoscore.errors import CheckpointError
from emoscore.music.classify import ClassifierConfig, MusicClassifier, clip_accuracy_report, music_only
from emoscore.music.cp import transpose_steps
from emoscore.music.emopia import load_split, windows
from emoscore.music.families import EMOTION
from emoscore.music.model import CPTransformer, MusicConfig
from emoscore.music.vocabulary import VOCABULARY
from emoscore.progress import Progress
from emoscore.resume import fingerprint, load_state, save_state

log = logging.getLogger(__name__)
ARCHITECTURE = {"d_model", "n_layers", "n_heads", "dropout", "embedding_sizes", "type_embedding", "seq_len"}


def pad_batch(pieces: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length step arrays into a zero-padded [B, T, 8] tensor and their lengths."""
    lengths = torch.tensor([len(piece) for piece in pieces])
    batch = torch.zeros(len(pieces), int(lengths.max()), pieces[0].shape[1], dtype=torch.long)
    for i, piece in enumerate(pieces):
        batch[i, : len(piece)] = torch.from_numpy(np.asarray(piece, dtype=np.int64))
    return batch, lengths


def _batches(items: list, batch_size: int, rng: np.random.Generator | None) -> list[list]:
    order = rng.permutation(len(items)) if rng is not None else np.arange(len(items))
    return [[items[i] for i in order[start : start + batch_size]] for start in range(0, len(items), batch_size)]


def _schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass(frozen=True)
class Schedule:
    """How long and how a music model trains: `music` (fine-tuning) and `pretrain_music` each give one."""

    epochs: int
    batch_size: int
    accumulate: int
    learning_rate: float
    seed: int
    precision: str
    resume: Path
    device: str

    @classmethod
    def of(cls, section: MusicParams | PretrainMusicParams, device: str) -> Schedule:
        """The schedule of a params section, on `device`."""
        return cls(
            section.epochs,
            section.batch_size,
            section.accumulate,
            section.learning_rate,
            section.seed,
            section.precision,
            section.resume,
            device,
        )


def load_pretrained(path: Path, config: MusicConfig) -> dict:
    """The state dict of a pretrained checkpoint, refused (naming both) unless its architecture is `config`'s."""
    model, _ = CPTransformer.from_checkpoint(path, VOCABULARY)
    if replace(model.config, dropout=config.dropout) != config:
        raise CheckpointError(path, f"pretrained with {model.config}, but params.yaml `music` asks for {config}")
    return model.state_dict()


def train_music_model(
    data_dir: Path,
    music: MusicParams,
    schedule: Schedule,
    init: Path | None = None,
    keep: Literal["best", "last"] = "best",
) -> tuple[CPTransformer, dict]:
    """Train the CP transformer on windows of the train split (from `init`'s weights when given); keep the epoch
    with the lowest val loss, or the last one. Autocast in the schedule's precision, accumulation and resume."""
    torch.manual_seed(schedule.seed)
    rng = np.random.default_rng(schedule.seed)
    device = pick_device(schedule.device)
    train_pieces, _, _ = load_split(data_dir / "train.npz")
    val_pieces, _, _ = load_split(data_dir / "val.npz")
    train_windows = [w for piece in train_pieces for w in windows(piece, music.seq_len)]
    val_windows = [w for piece in val_pieces for w in windows(piece, music.seq_len)]
    if not train_windows:
        raise ValueError(f"{data_dir}: no training pieces")
    config = MusicConfig.from_params(music)
    model = CPTransformer(config)
    if init is not None:
        model.load_state_dict(load_pretrained(Path(init), config))
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=schedule.learning_rate, weight_decay=0.01)
    batches_per_epoch = -(-len(train_windows) // schedule.batch_size)
    steps_per_epoch = -(-batches_per_epoch // schedule.accumulate)
    scheduler = _schedule(optimizer, schedule.epochs * steps_per_epoch, warmup=min(100, steps_per_epoch * 2))
    history, best, start = [], (float("inf"), copy.deepcopy(model.state_dict())), 1
    run = fingerprint(
        {
            "data": str(Path(data_dir).resolve()),  # and its content: a changed corpus in the same folder starts afresh
            "data_digest": [_digest(Path(data_dir) / f"{split}.npz") for split in ("train", "val")],
            "init": _digest(init),
            "music": music.model_dump(mode="json", include=ARCHITECTURE),
            "schedule": replace(schedule, resume=Path(), device="").__dict__,
        }
    )
    resumed = load_state(schedule.resume, run)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        rng.bit_generator.state = resumed["numpy_rng"]
        torch.set_rng_state(resumed["torch_rng"])
        history, best, start = resumed["history"], (resumed["best_loss"], resumed["best_state"]), resumed["epoch"] + 1
    log.info(
        "music model: %d parameters, %d training windows, %s, %s",
        sum(p.numel() for p in model.parameters()),
        len(train_windows),
        device,
        schedule.precision,
    )
    for epoch in range(start, schedule.epochs + 1):
        model.train()
        losses = []
        batches = _batches(train_windows, schedule.batch_size, rng)
        for index, batch in enumerate(
            Progress(batches, desc=f"music epoch {epoch}/{schedule.epochs}", leave=False, mininterval=5)
        ):
            words, lengths = pad_batch(batch)
            kept = np.random.default_rng([schedule.seed, epoch, index]).random(len(batch)) >= music.unconditional_share
            words[:, 0, EMOTION] *= torch.from_numpy(kept)  # emotion dropout; a no-op on unlabeled (0) pretraining
            with autocast(device, schedule.precision):
                loss, _ = model.loss(words.to(device), lengths.to(device))
            (loss / schedule.accumulate).backward()
            losses.append(loss.item())
            if (index + 1) % schedule.accumulate == 0 or index + 1 == len(batches):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
                scheduler.step()
        val_loss = evaluate_loss(model, val_windows or train_windows, schedule.batch_size, device)
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss})
        log.info("music epoch %d: train loss %.4f, val loss %.4f", epoch, history[-1]["train_loss"], val_loss)
        if val_loss < best[0]:
            best = (val_loss, copy.deepcopy(model.state_dict()))
        if epoch < schedule.epochs:
            save_state(
                schedule.resume,
                {
                    "fingerprint": run,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "numpy_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "best_loss": best[0],
                    "best_state": best[1],
                },
            )
    Path(schedule.resume).unlink(missing_ok=True)
    if keep == "best":
        model.load_state_dict(best[1])
    report = {
        "epochs": history,
        "best_val_loss": best[0],
        "train_windows": len(train_windows),
        "initialised_from": str(init) if init else None,
    }
    return model.eval(), report


def _digest(path: Path | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path is not None else None


@torch.no_grad()
def evaluate_loss(model: CPTransformer, items: list[np.ndarray], batch_size: int, device: torch.device) -> float:
    """Mean teacher-forced loss over windows."""
    model.eval()
    losses = []
    for batch in _batches(items, batch_size, None):
        words, lengths = pad_batch(batch)
        losses.append(model.loss(words.to(device), lengths.to(device))[0].item() * len(batch))
    return float(np.sum(losses) / len(items))


def _classifier_windows(pieces: list[np.ndarray], quadrants: np.ndarray, length: int) -> list[tuple[np.ndarray, int]]:
    items = []
    for piece, quadrant in zip(pieces, quadrants, strict=True):
        body = music_only(piece)
        for start in range(0, max(len(body) - length, 0) + 1, length // 2):
            items.append((body[start : start + length], int(quadrant) - 1))
    return items


def in_any_key(words: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The window moved by a random −6…+5 semitones (as it is where that would leave the piano's range)."""
    semitones = int(rng.integers(-6, 6))
    try:
        return transpose_steps(words, semitones)
    except ValueError:
        return words


def train_music_classifier(data_dir: Path, params: MusicClassifierParams) -> tuple[MusicClassifier, dict]:
    """Train the quadrant classifier on train windows; keep the epoch with the best val clip accuracy."""
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    train_pieces, train_quadrants, _ = load_split(data_dir / "train.npz")
    val_pieces, val_quadrants, _ = load_split(data_dir / "val.npz")
    items = _classifier_windows(train_pieces, train_quadrants, params.window)
    model = MusicClassifier(ClassifierConfig.from_params(params))
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=0.01)
    history, best = [], (-1.0, copy.deepcopy(model.state_dict()))
    for epoch in range(1, params.epochs + 1):
        model.train()
        losses = []
        for batch in _batches(items, params.batch_size, rng):
            moved = [in_any_key(w, rng) if params.any_key else w for w, _ in batch]
            words, lengths = pad_batch(moved)
            targets = torch.tensor([q for _, q in batch])
            loss = F.cross_entropy(model(words, lengths), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        accuracy = clip_accuracy(model, val_pieces, val_quadrants)
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_accuracy": accuracy})
        log.info("classifier epoch %d: loss %.4f, val accuracy %.3f", epoch, history[-1]["train_loss"], accuracy)
        if accuracy > best[0]:
            best = (accuracy, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[1])
    return model.eval(), {"epochs": history, "best_val_accuracy": best[0], "train_windows": len(items)}


def clip_accuracy(model: MusicClassifier, pieces: list[np.ndarray], quadrants: np.ndarray) -> float:
    """Share of whole clips whose most probable quadrant is their label (NaN without clips)."""
    accuracy = clip_accuracy_report(model, pieces, quadrants)
    return float("nan") if accuracy is None else accuracy

"""Training of the two-branch EMOTIC model on prepared arrays; keeps the epoch with the best validation mAP.

Fit for the real dataset on a GPU: any device (`auto | cpu | cuda | cuda:N`), bf16 autocast, loader workers
that pin memory for the GPU, and a per-epoch state file so a killed run goes on from its last finished epoch
(removed once the run finishes); a resumed run ends with the same weights as one never interrupted.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path

import numpy as np
import torch

from emoscore.config import EmoticParams, VadParams, result_dump
from emoscore.device import autocast, pick_device
from emoscore.emotic.dataset import EmoticArrays, make_loader
from emoscore.emotic.evaluate import predict
from emoscore.emotic.losses import EmoticLoss
from emoscore.emotic.metrics import mean_ap, per_category_ap, vad_mae
from emoscore.emotic.model import EmoticNet, EmoticNetConfig
from emoscore.progress import Progress
from emoscore.resume import fingerprint, load_state, save_state

log = logging.getLogger(__name__)


def _data_identity(data_dir: Path) -> list:
    """What the prepared splits hold, cheaply: each label table's SHA-256, each crop array's size and the SHA-256
    of its first MiB (a rebuilt data set in the same folder is told apart without reading gigabytes)."""
    identity: list = []
    for split in ("train", "val"):
        table = Path(data_dir) / f"{split}.parquet"
        identity.append(hashlib.sha256(table.read_bytes()).hexdigest() if table.exists() else None)
        for part in ("context", "body"):
            array = Path(data_dir) / f"{split}_{part}.npy"
            if array.exists():
                with array.open("rb") as handle:
                    head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
                identity.append([array.stat().st_size, head])
            else:
                identity.append(None)
    return identity


def run_fingerprint(data_dir: Path, emotic: EmoticParams, params: VadParams) -> str:
    """What a resumed run must share with the one it continues: the data and the settings that change the weights."""
    return fingerprint(
        {
            "data": str(Path(data_dir).resolve()),
            "data_identity": _data_identity(data_dir),  # a changed data set in the same folder starts afresh
            "emotic": emotic.model_dump(mode="json", include={"context_size", "body_size"}),
            "vad": result_dump(params),  # runtime and location may differ between a killed run and its resumption
        }
    )


def train_vad_model(data_dir: Path, emotic: EmoticParams, params: VadParams) -> tuple[EmoticNet, dict]:
    """Train on `<data_dir>/train`, select on `val`; returns the best model and the per-epoch history."""
    torch.manual_seed(params.seed)
    np.random.seed(params.seed)
    device = pick_device(params.device)
    config = EmoticNetConfig.from_params(emotic, params)
    model = EmoticNet.for_training(config, context_weights=params.context_weights, body_weights=params.body_weights).to(
        device
    )
    train_set = EmoticArrays(data_dir, "train", hflip=params.hflip)
    val_set = EmoticArrays(data_dir, "val")
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(f"{data_dir}: train ({len(train_set)}) and val ({len(val_set)}) must hold people")
    pin = device.type == "cuda"
    train_loader = make_loader(
        train_set, params.batch_size, params.num_workers, shuffle=True, seed=params.seed, pin_memory=pin
    )
    val_loader = make_loader(val_set, params.batch_size, params.num_workers, shuffle=False, pin_memory=pin)
    criterion = EmoticLoss(
        params.discrete_weight,
        params.continuous_weight,
        params.continuous_loss,
        margin=params.continuous_margin,
        objective=params.loss,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs)
    history: list[dict] = []
    best_state, best_map, start = copy.deepcopy(model.state_dict()), -1.0, 1
    run = run_fingerprint(data_dir, emotic, params)
    resumed = load_state(params.resume, run)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        train_loader.sampler.generator.set_state(resumed["sampler_rng"])
        torch.set_rng_state(resumed["torch_rng"])
        if device.type == "cuda":
            torch.cuda.set_rng_state(resumed["cuda_rng"], device)
        history, best_state, best_map = resumed["history"], resumed["best_state"], resumed["best_map"]
        start = resumed["epoch"] + 1
    log.info(
        "training on %d people, validating on %d, device %s, %s", len(train_set), len(val_set), device, params.precision
    )
    for epoch in range(start, params.epochs + 1):
        model.train()
        totals = np.zeros(3)
        batches = 0
        for batch in Progress(train_loader, desc=f"epoch {epoch}/{params.epochs}", unit="batch", leave=False):
            with autocast(device, params.precision):
                outputs, vad = model(
                    batch["context"].to(device, non_blocking=pin), batch["body"].to(device, non_blocking=pin)
                )
                loss, discrete, continuous = criterion(
                    outputs.float(), vad.float(), batch["categories"].to(device), batch["vad"].to(device)
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += [loss.item(), discrete.item(), continuous.item()]
            batches += 1
        scheduler.step()
        val = predict(model, val_loader, device)
        val_map = float(mean_ap(per_category_ap(val.categories, val.probabilities)))
        entry = {
            "epoch": epoch,
            "train_loss": float(totals[0] / batches),
            "train_discrete_loss": float(totals[1] / batches),
            "train_continuous_loss": float(totals[2] / batches),
            "val_map": val_map,
            "val_vad_mae": float(vad_mae(val.vad_targets, val.vad)["mean"]),
        }
        history.append(entry)
        log.info(
            "epoch %d: loss %.4f, val mAP %.4f, val VAD MAE %.3f",
            epoch,
            entry["train_loss"],
            val_map,
            entry["val_vad_mae"],
        )
        if val_map > best_map:
            best_map, best_state = val_map, copy.deepcopy(model.state_dict())
        if epoch < params.epochs:
            save_state(
                params.resume,
                {
                    "fingerprint": run,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "sampler_rng": train_loader.sampler.generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "best_state": best_state,
                    "best_map": best_map,
                    "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                },
            )
    Path(params.resume).unlink(missing_ok=True)
    model.load_state_dict(best_state)
    best_epoch = max(history, key=lambda item: item["val_map"])["epoch"]
    return model, {
        "epochs": history,
        "best_epoch": best_epoch,
        "best_val_map": best_map,
        "train_people": len(train_set),
        "val_people": len(val_set),
    }

"""Training of the two-branch EMOTIC model on prepared arrays; keeps the epoch with the best validation mAP."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from emoscore.config import EmoticParams, VadParams
from emoscore.device import pick_device
from emoscore.emotic.dataset import EmoticArrays, make_loader
from emoscore.emotic.evaluate import predict
from emoscore.emotic.losses import EmoticLoss
from emoscore.emotic.metrics import mean_ap, per_category_ap, vad_mae
from emoscore.emotic.model import EmoticNet, EmoticNetConfig

log = logging.getLogger(__name__)


def train_vad_model(data_dir: Path, emotic: EmoticParams, params: VadParams) -> tuple[EmoticNet, dict]:
    """Train on `<data_dir>/train`, select on `val`; returns the best model and the per-epoch history."""
    torch.manual_seed(params.seed)
    np.random.seed(params.seed)
    device = pick_device(params.device)
    config = EmoticNetConfig.from_params(emotic, params)
    model = EmoticNet(config, params.context_weights, params.body_weights).to(device)
    train_set = EmoticArrays(data_dir, "train", hflip=params.hflip)
    val_set = EmoticArrays(data_dir, "val")
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(f"{data_dir}: train ({len(train_set)}) and val ({len(val_set)}) must hold people")
    train_loader = make_loader(train_set, params.batch_size, params.num_workers, shuffle=True, seed=params.seed)
    val_loader = make_loader(val_set, params.batch_size, params.num_workers, shuffle=False)
    criterion = EmoticLoss(
        params.discrete_weight, params.continuous_weight, params.continuous_loss, params.continuous_margin, params.loss
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs)
    history: list[dict] = []
    best_state, best_map = copy.deepcopy(model.state_dict()), -1.0
    log.info("training on %d people, validating on %d, device %s", len(train_set), len(val_set), device)
    for epoch in range(1, params.epochs + 1):
        model.train()
        totals = np.zeros(3)
        batches = 0
        for batch in tqdm(train_loader, desc=f"epoch {epoch}/{params.epochs}", unit="batch", leave=False):
            logits, vad = model(batch["context"].to(device), batch["body"].to(device))
            loss, discrete, continuous = criterion(logits, vad, batch["categories"].to(device), batch["vad"].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += [loss.item(), discrete.item(), continuous.item()]
            batches += 1
        scheduler.step()
        val = predict(model, val_loader, device)
        val_map = mean_ap(per_category_ap(val.categories, val.probabilities))
        entry = {
            "epoch": epoch,
            "train_loss": totals[0] / batches,
            "train_discrete_loss": totals[1] / batches,
            "train_continuous_loss": totals[2] / batches,
            "val_map": val_map,
            "val_vad_mae": vad_mae(val.vad_targets, val.vad)["mean"],
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
    model.load_state_dict(best_state)
    best_epoch = max(history, key=lambda item: item["val_map"])["epoch"]
    return model, {
        "epochs": history,
        "best_epoch": best_epoch,
        "best_val_map": best_map,
        "train_people": len(train_set),
        "val_people": len(val_set),
    }

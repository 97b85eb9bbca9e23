"""Prefect tasks for the EMOTIC stages: one emoscore call each."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from emoscore.config import EmoticParams, EvalVadParams, SampleParams, VadParams
from emoscore.emotic import evaluate, prepare, train
from emoscore.emotic.dataset import EmoticArrays
from emoscore.emotic.model import EmoticNet
from emoscore.sample import write_emotic_sample, write_sample_photos


@task
def write_emotic_sample_task(params: SampleParams) -> Path:
    """Write the EMOTIC-format sample dataset."""
    return write_emotic_sample(params)


@task
def prepare_emotic_split(root: Path, params: EmoticParams, split: str) -> dict:
    """Prepare one split and return its report."""
    return prepare.prepare_emotic_split(root, params, split)


@task
def train_vad_model(data_dir: Path, emotic: EmoticParams, params: VadParams) -> tuple[EmoticNet, dict]:
    """Train the two-branch model."""
    return train.train_vad_model(data_dir, emotic, params)


@task
def predict_split(model: EmoticNet, data_dir: Path, split: str, params: EvalVadParams) -> train.Predictions:
    """Model outputs over one prepared split."""
    loader = train.make_loader(EmoticArrays(data_dir, split), params.batch_size, 0, shuffle=False)
    return train.predict(model, loader, next(model.parameters()).device)


@task
def evaluation_report(test: train.Predictions, train_set: EmoticArrays, thresholds: dict[str, float]) -> dict:
    """Metrics against the baselines."""
    return evaluate.evaluation_report(test, train_set.categories, train_set.vad, thresholds)


@task
def write_sample_photos_task(params: SampleParams) -> Path:
    """Write the sample photos to score."""
    return write_sample_photos(params)

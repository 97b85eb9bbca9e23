"""Prefect tasks for the EMOPIA stages: one emoscore call each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import task

from emoscore.config import EvalMusicParams, MusicClassifierParams, MusicParams, SampleParams
from emoscore.music import emopia, evaluate, train
from emoscore.music.classify import MusicClassifier
from emoscore.music.generate import Sampling
from emoscore.music.model import CPTransformer
from emoscore.sample import write_emopia_sample


@task
def write_emopia_sample_task(params: SampleParams) -> Path:
    """Write the EMOPIA-format sample dataset."""
    return write_emopia_sample(params)


@task
def prepare_emopia(root: Path, out: Path) -> dict:
    """Tokenise every clip; return the report."""
    return emopia.prepare_emopia(root, out)


@task
def train_music_model(data_dir: Path, params: MusicParams) -> tuple[CPTransformer, dict]:
    """Train the CP transformer."""
    return train.train_music_model(data_dir, params)


@task
def train_music_classifier(data_dir: Path, params: MusicClassifierParams) -> tuple[MusicClassifier, dict]:
    """Train the music emotion classifier."""
    return train.train_music_classifier(data_dir, params)


@task
def evaluate_music(
    model: CPTransformer,
    classifier: MusicClassifier,
    real: dict[int, list[np.ndarray]],
    params: EvalMusicParams,
    sampling: Sampling,
) -> dict:
    """Generate N pieces per quadrant and judge them."""
    return evaluate.evaluate_music(
        model, classifier, real, params.pieces_per_quadrant, params.bars, params.seed, sampling
    )

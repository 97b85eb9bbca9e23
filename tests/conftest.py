"""Shared fixtures: tiny real-format files written by the tests themselves."""

from __future__ import annotations

import logging

import pytest
import torch
import yaml

from emoscore.config import load_params
from emoscore.digests import model_digest
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.thresholds import Thresholds
from emoscore.music.cp import VOCABULARY
from emoscore.music.model import CPTransformer
from emoscore.score import Scorer
from tests.helpers import SMALL, vad_config

logging.getLogger("emoscore").setLevel(logging.INFO)


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect API for the whole session (starting one costs several seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    import emoscore_tasks  # noqa: F401  (project-local Prefect settings first)

    with prefect_test_harness(server_startup_timeout=240):
        yield


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """Small untrained models and a params.yaml that points at them."""
    root = tmp_path_factory.mktemp("project")
    torch.manual_seed(0)
    EmoticNet(vad_config(fusion_hidden=16, context_size=32, body_size=32)).save(root / "vad.pt")
    # thresholds at the middle of the scores a random model gives, so some categories are named and some not
    Thresholds.from_mapping(model_digest(root / "vad.pt"), dict.fromkeys(CATEGORIES, 0.0)).save(root / "th.json")
    CPTransformer(SMALL).save(root / "music.pt", VOCABULARY)
    params = {
        "vad": {"out": str(root / "vad.pt")},
        "eval_vad": {"thresholds": str(root / "th.json")},
        "music": {"out": str(root / "music.pt")},
        "emopia": {"vocabulary": str(root / "absent_vocab.json")},
        "score": {"bars": 1, "chunk_size": 3, "workers": 0, "render_audio": False, "max_pixels": 50_000_000},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


@pytest.fixture(scope="session")
def scorer(project):
    return Scorer.from_params(load_params(project / "params.yaml"))

"""Training fit for long runs: resume after a kill gives the same weights, bf16 autocast, device choice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from emoscore.config import parse_params
from emoscore.device import autocast, pick_device
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.prepare import SPLITS, prepare_emotic_split
from emoscore.emotic.train import train_vad_model
from emoscore.errors import ConfigError
from emoscore.samples.datasets import write_emotic_sample
from tests.helpers import PROJECT, vad_config

TRAIN = (
    "import json, sys\n"
    "from emoscore.config import parse_params\n"
    "from emoscore.emotic.train import train_vad_model\n"
    "params = parse_params(json.loads(sys.argv[1]))\n"
    "model, history = train_vad_model(params.emotic.out, params.emotic, params.vad)\n"
    "model.save(params.vad.out, extra={'history': history})\n"
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("train")
    raw = {
        "sample": {
            "out": str(root / "sample"),
            "emotic_images": {"train": 48, "val": 8, "test": 4},
            "image_width": 96,
            "image_height": 80,
        },
        "emotic": {
            "root": str(root / "sample" / "emotic"),
            "out": str(root / "emotic"),
            "context_size": 64,
            "body_size": 48,
            "num_workers": 0,
        },
        "vad": {"epochs": 4, "batch_size": 4, "fusion_hidden": 16, "num_workers": 0},
    }
    params = parse_params(raw)
    write_emotic_sample(params.sample)
    for split in SPLITS:
        prepare_emotic_split(params.emotic, split)
    return raw


def with_paths(raw: dict, root: Path) -> dict:
    return raw | {"vad": raw["vad"] | {"out": str(root / "vad.pt"), "resume": str(root / "resume.pt")}}


def test_a_killed_run_resumes_and_ends_with_the_same_weights(prepared, tmp_path):
    whole, interrupted = with_paths(prepared, tmp_path / "whole"), with_paths(prepared, tmp_path / "killed")
    subprocess.run([sys.executable, "-c", TRAIN, json.dumps(whole)], cwd=PROJECT, check=True, timeout=600)
    resume = Path(interrupted["vad"]["resume"])
    run = subprocess.Popen(
        [sys.executable, "-c", TRAIN, json.dumps(interrupted)], cwd=PROJECT, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not resume.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # into the next epoch
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL, "the run finished before it could be killed; make epochs longer"
    kept = torch.load(resume, weights_only=True)  # plain data: no NumPy scalar or other global inside
    assert 1 <= kept["epoch"] < 4 and not Path(interrupted["vad"]["out"]).exists()
    subprocess.run([sys.executable, "-c", TRAIN, json.dumps(interrupted)], cwd=PROJECT, check=True, timeout=600)
    assert not resume.exists()  # removed once the run finished
    first, second = (torch.load(Path(r["vad"]["out"]), weights_only=True) for r in (whole, interrupted))
    assert first["extra"]["history"] == second["extra"]["history"]
    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])


def test_a_state_file_of_other_settings_is_not_resumed(prepared, tmp_path, caplog):
    raw = with_paths(prepared, tmp_path)
    Path(raw["vad"]["resume"]).write_bytes(b"")  # damaged
    raw["vad"]["epochs"] = 1
    params = parse_params(raw)
    _, history = train_vad_model(params.emotic.out, params.emotic, params.vad)
    assert [entry["epoch"] for entry in history["epochs"]] == [1] and "not resuming" in caplog.text


def test_bf16_autocast_trains_and_runs_matmuls_in_bfloat16(prepared, tmp_path):
    raw = with_paths(prepared, tmp_path)
    raw["vad"] = raw["vad"] | {"epochs": 1, "precision": "bf16"}
    params = parse_params(raw)
    model, history = train_vad_model(params.emotic.out, params.emotic, params.vad)
    assert torch.isfinite(torch.tensor(history["epochs"][0]["train_loss"]))
    assert next(model.parameters()).dtype == torch.float32  # weights stay fp32; only compute is bf16
    inputs = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 48, 48)
    with autocast(torch.device("cpu"), "bf16"):
        outputs, _ = model.eval()(*inputs)
    assert outputs.dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert model(*inputs)[0].dtype == torch.float32


def test_device_choice_is_checked():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            pick_device("cuda:1")
    with pytest.raises(ConfigError, match="unknown device"):
        pick_device("mps")
    with pytest.raises(ConfigError, match=r"vad\.device"):
        parse_params({"vad": {"device": "gpu0"}})


def test_the_model_follows_its_device_through_predict():
    """The whole model moves with .to(device); a CPU run of the same code catches a tensor left behind."""
    model = EmoticNet(vad_config(fusion_hidden=8, context_size=32, body_size=32)).eval().to(pick_device("cpu"))
    scores, vad = model.predict(torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32))
    assert scores.device == vad.device == next(model.parameters()).device


def test_a_changed_data_set_in_the_same_folder_is_not_resumed(prepared, tmp_path):
    import shutil

    import pandas as pd

    from emoscore.emotic.train import run_fingerprint

    data = tmp_path / "emotic"
    shutil.copytree(prepared["emotic"]["out"], data)
    params = parse_params(with_paths(prepared, tmp_path))
    before = run_fingerprint(data, params.emotic, params.vad)
    assert run_fingerprint(data, params.emotic, params.vad) == before  # the same data: resumable
    table = pd.read_parquet(data / "train.parquet")
    table.loc[0, "valence"] = table.loc[0, "valence"] + 1  # one label changed, every file the same size
    table.to_parquet(data / "train.parquet")
    relabelled = run_fingerprint(data, params.emotic, params.vad)
    assert relabelled != before
    crops = data / "train_context.npy"
    raw = bytearray(crops.read_bytes())
    raw[200] ^= 0xFF  # a changed crop in the first MiB, the size the same
    crops.write_bytes(bytes(raw))
    assert run_fingerprint(data, params.emotic, params.vad) != relabelled

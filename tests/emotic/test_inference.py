"""The two scoring engines compute the same thing: ONNX Runtime on the export equals the torch model."""

import numpy as np
import pytest
import torch

from emoscore.emotic.inference import load_vad_engine
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet
from emoscore.errors import ConfigError
from tests.helpers import vad_config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("vad") / "vad.pt"
    EmoticNet(vad_config(fusion_hidden=16, context_size=48, body_size=32)).save(path)
    return path


@pytest.mark.parametrize("count", [1, 5])
def test_onnxruntime_matches_torch_on_any_batch_size(checkpoint, count):
    generator = torch.Generator().manual_seed(count)
    contexts, bodies = (
        torch.randn(count, 3, 48, 48, generator=generator),
        torch.randn(count, 3, 32, 32, generator=generator),
    )
    reference = EmoticNet.from_checkpoint(checkpoint).eval()
    with torch.no_grad():
        expected_probabilities, expected_vad = (t.numpy() for t in reference.predict(contexts, bodies))
    for engine in ("torch", "onnxruntime"):
        probabilities, vad = load_vad_engine(checkpoint, engine, threads=1).predict(contexts, bodies)
        assert probabilities.shape == (count, len(CATEGORIES)) and vad.shape == (count, 3)
        assert np.allclose(probabilities, expected_probabilities, atol=1e-4), engine
        assert np.allclose(vad, expected_vad, atol=1e-3), engine


def test_torch_engine_on_the_chosen_device_returns_cpu_arrays(checkpoint):
    """The engine moves inputs to the model's device and results back: run on the CPU here, the same code path a
    GPU takes (a tensor left on the wrong device fails there and here alike)."""
    engine = load_vad_engine(checkpoint, "onnxruntime", threads=1, device="cpu")
    contexts, bodies = torch.randn(2, 3, 48, 48), torch.randn(2, 3, 32, 32)
    probabilities, vad = engine.predict(contexts, bodies)
    assert isinstance(probabilities, np.ndarray) and vad.dtype == np.float32
    with pytest.raises(ConfigError, match="unknown device"):
        load_vad_engine(checkpoint, "torch", threads=1, device="tpu")


def test_bf16_autocast_stays_close_to_fp32(checkpoint):
    """The GPU path runs the VAD model under bfloat16 autocast; the same code runs here on the CPU: the answers
    stay near fp32's (bfloat16 keeps 8 bits of mantissa) and come back as float32 arrays."""
    contexts, bodies = torch.randn(4, 3, 48, 48), torch.randn(4, 3, 32, 32)
    exact = load_vad_engine(checkpoint, "torch", threads=1, precision="fp32")
    fast = load_vad_engine(checkpoint, "onnxruntime", threads=1, precision="bf16")  # bf16 means torch, not ORT
    assert fast.bf16 and not exact.bf16
    (p32, v32), (p16, v16) = exact.predict(contexts, bodies), fast.predict(contexts, bodies)
    assert v16.dtype == np.float32 and not np.array_equal(v16, v32)  # it really ran in another precision
    assert np.abs(v16 - v32).max() < 0.1 and np.abs(p16 - p32).max() < 0.05


def test_the_onnx_export_is_kept_once_and_read_back_without_building_the_model(checkpoint, tmp_path, monkeypatch):
    """Every scoring worker loads the ONNX engine: the first exports the checkpoint into the cache, the others (and
    every later run) read that export, equal to a fresh one, with no torch model built and no torchvision loaded;
    a damaged export is replaced, not trusted."""
    import subprocess
    import sys

    from emoscore.emotic import inference
    from tests.helpers import PROJECT

    contexts, bodies = torch.randn(3, 3, 48, 48), torch.randn(3, 3, 32, 32)
    first = load_vad_engine(checkpoint, "onnxruntime", threads=1, cache=tmp_path)
    (kept,) = (tmp_path / "onnx").glob("vad-*.onnx")

    def refuse(model):
        raise AssertionError("exported again although the cache holds the export")

    monkeypatch.setattr(inference, "export_onnx", refuse)
    again = load_vad_engine(checkpoint, "onnxruntime", threads=1, cache=tmp_path)
    for ours, theirs in zip(first.predict(contexts, bodies), again.predict(contexts, bodies), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    loader = (
        "import sys; from pathlib import Path; from emoscore.emotic.inference import load_vad_engine; "
        f"load_vad_engine(Path({str(checkpoint)!r}), 'onnxruntime', 1, cache=Path({str(tmp_path)!r})); "
        "print('torchvision' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", loader], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]

    monkeypatch.undo()
    kept.write_bytes(b"not an onnx graph")
    repaired = load_vad_engine(checkpoint, "onnxruntime", threads=1, cache=tmp_path)
    np.testing.assert_array_equal(repaired.predict(contexts, bodies)[1], first.predict(contexts, bodies)[1])
    assert kept.read_bytes() != b"not an onnx graph"

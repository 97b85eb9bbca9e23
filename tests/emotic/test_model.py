"""The two-branch network and every checkpoint format it loads, written here in the real layouts."""

import pickle

import pytest
import torch
import torchvision

from emoscore.emotic.model import EmoticNet, build_backbone
from emoscore.errors import CheckpointError
from tests.helpers import vad_config


class Payload:
    """Stands for arbitrary code inside a pickle; weights_only loading must refuse it."""

    def __reduce__(self):
        return (print, ("this must never run",))


def _small_inputs(batch=2):
    return torch.randn(batch, 3, 32, 32), torch.randn(batch, 3, 32, 32)


def test_forward_shapes_and_predict_ranges():
    model = EmoticNet(vad_config(context_size=32, body_size=32)).eval()
    logits, vad = model(*_small_inputs(3))
    assert logits.shape == (3, 26) and vad.shape == (3, 3)
    inputs = _small_inputs(3)
    probabilities, vad_points = model.predict(*inputs)
    raw_logits, raw_vad = model(*inputs)
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    assert torch.allclose(probabilities, torch.sigmoid(raw_logits))
    assert torch.allclose(vad_points, raw_vad * 10)


def test_save_and_from_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = EmoticNet(vad_config(fusion_hidden=16, context_size=32, body_size=32)).eval()
    path = tmp_path / "vad.pt"
    model.save(path, extra={"note": "test"})
    loaded = EmoticNet.from_checkpoint(path).eval()
    assert loaded.config == model.config
    inputs = _small_inputs()
    for a, b in zip(model(*inputs), loaded(*inputs), strict=True):
        assert torch.equal(a, b)
    raw = torch.load(path, weights_only=True)
    assert raw["extra"] == {"note": "test"} and raw["format"] == "emoscore.vad/1"


def test_places365_checkpoint_loads(tmp_path):
    """Places365 ships {'epoch', 'arch', 'state_dict'} with DataParallel `module.` keys and a 365-way fc."""
    source = torchvision.models.resnet18(num_classes=365)
    path = tmp_path / "resnet18_places365.pth.tar"
    state = {f"module.{key}": value for key, value in source.state_dict().items()}
    torch.save({"epoch": 90, "arch": "resnet18", "state_dict": state, "best_prec1": 54.7}, path)
    backbone, features = build_backbone("resnet18", path)
    assert features == 512
    assert torch.equal(backbone.conv1.weight, source.conv1.weight)
    assert torch.equal(backbone.layer4[1].bn2.running_var, source.layer4[1].bn2.running_var)


def test_torchvision_state_dict_loads(tmp_path):
    source = torchvision.models.resnet18()
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(source.state_dict(), path)
    backbone, _ = build_backbone("resnet18", path)
    assert torch.equal(backbone.layer1[0].conv1.weight, source.layer1[0].conv1.weight)


def test_own_checkpoint_gives_its_context_branch(tmp_path):
    model = EmoticNet(vad_config(fusion_hidden=8))
    path = tmp_path / "vad.pt"
    model.save(path)
    backbone, _ = build_backbone("resnet18", path, prefix="context.")
    assert torch.equal(backbone.conv1.weight, model.context.conv1.weight)


def test_wrong_architecture_refused(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"resnet50\.pth: weights do not fit this backbone"):
        build_backbone("resnet18", path)


def test_pickle_payload_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        pickle.dump({"state_dict": Payload()}, handle)
    with pytest.raises(CheckpointError, match=r"evil\.pt"):
        build_backbone("resnet18", path)
    assert "must never run" not in capsys.readouterr().out
    torch.save({"model": Payload()}, tmp_path / "evil2.pt")
    with pytest.raises(CheckpointError, match="refused"):
        EmoticNet.from_checkpoint(tmp_path / "evil2.pt")


def test_not_our_checkpoint_refused(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"not an emoscore checkpoint of format 'emoscore\.vad/1'"):
        EmoticNet.from_checkpoint(path)
    (tmp_path / "garbage.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"garbage\.pt"):
        EmoticNet.from_checkpoint(tmp_path / "garbage.pt")
    with pytest.raises(CheckpointError, match="file not found"):
        EmoticNet.from_checkpoint(tmp_path / "absent.pt")


def test_random_init_is_logged(caplog):
    with caplog.at_level("WARNING", logger="emoscore"):
        build_backbone("resnet18")
    assert "RANDOM weights" in caplog.text


def test_unknown_backbone():
    with pytest.raises(ValueError, match="vgg"):
        build_backbone("vgg")

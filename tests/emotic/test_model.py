"""The two-branch network and every checkpoint format it loads, written here in the real layouts."""

import pickle

import pytest
import torch
import torchvision

from emoscore.checkpoints import extract_state_dict, load_weights_only
from emoscore.emotic.backbones import build_backbone, pretrained_backbone
from emoscore.emotic.model import EmoticNet
from emoscore.errors import CheckpointError
from tests.fixtures.legacy_torch import Py2Global, places365_checkpoint, write_legacy_checkpoint
from tests.helpers import vad_config


class Payload:
    """Stands for arbitrary code inside a pickle; weights_only loading must refuse it."""

    def __reduce__(self):
        return (print, ("this must never run",))


def _small_inputs(batch=2):
    return torch.randn(batch, 3, 32, 32), torch.randn(batch, 3, 32, 32)


def test_forward_shapes_and_predict_ranges():
    model = EmoticNet(vad_config(context_size=32, body_size=32, objective="normalized")).eval()
    logits, vad = model(*_small_inputs(3))
    assert logits.shape == (3, 26) and vad.shape == (3, 3)
    inputs = _small_inputs(3)
    probabilities, vad_points = model.predict(*inputs)
    raw_logits, raw_vad = model(*inputs)
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    assert torch.allclose(probabilities, torch.sigmoid(raw_logits))
    reference = EmoticNet(vad_config(context_size=32, body_size=32, objective="reference")).eval()
    scores, _ = reference.predict(*inputs)
    assert torch.equal(scores, reference(*inputs)[0])  # regressed onto 0/1: the raw output is the score
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
    assert raw["extra"] == {"note": "test"} and raw["format"] == "emoscore.vad/2"


@pytest.mark.parametrize(("arch", "features"), [("resnet18", 512), ("resnet50", 2048)])
def test_released_places365_checkpoint_loads(tmp_path, arch, features):
    """Written as Python 2.7 + PyTorch 0.2 wrote `resnet{18,50}_places365.pth.tar`: legacy container, byte-string
    keys, `module.` prefixes, a 365-way fc, no num_batches_tracked, a NumPy `best_prec1` whose bytes are not
    ASCII or UTF-8."""
    path = places365_checkpoint(tmp_path / f"{arch}_places365.pth.tar", arch)
    with pytest.raises(UnicodeDecodeError):  # what a plain torch.load says about such a file
        torch.load(path, map_location="cpu", weights_only=False)
    with pytest.raises(pickle.UnpicklingError):  # and what the default safe load says
        torch.load(path, map_location="cpu", weights_only=True)
    payload = load_weights_only(path)
    assert payload["arch"] == arch and payload["best_prec1"] == pytest.approx(54.74)
    source = extract_state_dict(payload, path)
    backbone, width = pretrained_backbone(arch, path)
    assert width == features
    assert torch.equal(backbone.conv1.weight, source["conv1.weight"])
    assert torch.equal(backbone.layer4[1].bn2.running_var, source["layer4.1.bn2.running_var"])
    assert "fc.weight" in source and not any(key.startswith("fc.") for key in backbone.state_dict())


def test_legacy_checkpoint_with_code_is_still_refused(tmp_path):
    path = write_legacy_checkpoint(tmp_path / "evil.pth.tar", {"state_dict": {}, "x": Py2Global("os", "system")})
    with pytest.raises(CheckpointError, match="refused"):
        load_weights_only(path)


def test_torchvision_state_dict_loads(tmp_path):
    source = torchvision.models.resnet18()
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(source.state_dict(), path)
    backbone, _ = pretrained_backbone("resnet18", path)
    assert torch.equal(backbone.layer1[0].conv1.weight, source.layer1[0].conv1.weight)


def test_own_checkpoint_gives_its_context_branch(tmp_path):
    model = EmoticNet(vad_config(fusion_hidden=8))
    path = tmp_path / "vad.pt"
    model.save(path)
    backbone, _ = pretrained_backbone("resnet18", path, prefix="context.")
    assert torch.equal(backbone.conv1.weight, model.context.conv1.weight)


def test_wrong_architecture_refused(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"resnet50\.pth: weights do not fit backbone resnet18"):
        pretrained_backbone("resnet18", path)


def test_pickle_payload_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        pickle.dump({"state_dict": Payload()}, handle)
    with pytest.raises(CheckpointError, match=r"evil\.pt"):
        pretrained_backbone("resnet18", path)
    assert "must never run" not in capsys.readouterr().out
    torch.save({"model": Payload()}, tmp_path / "evil2.pt")
    with pytest.raises(CheckpointError, match="refused"):
        EmoticNet.from_checkpoint(tmp_path / "evil2.pt")


def test_not_our_checkpoint_refused(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"not an emoscore checkpoint of format 'emoscore\.vad/2'"):
        EmoticNet.from_checkpoint(path)
    (tmp_path / "garbage.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"garbage\.pt"):
        EmoticNet.from_checkpoint(tmp_path / "garbage.pt")
    with pytest.raises(CheckpointError, match="file not found"):
        EmoticNet.from_checkpoint(tmp_path / "absent.pt")


def test_building_is_silent_and_training_from_no_weights_says_so(caplog, tmp_path):
    with caplog.at_level("INFO", logger="emoscore"):
        EmoticNet(vad_config(fusion_hidden=8)).save(tmp_path / "vad.pt")
        EmoticNet.from_checkpoint(tmp_path / "vad.pt")  # built, then loaded: nothing to warn about, nothing muted
    assert caplog.text == ""
    with caplog.at_level("WARNING", logger="emoscore"):
        EmoticNet.for_training(vad_config(fusion_hidden=8))
    assert caplog.text.count("RANDOM weights") == 2


def test_unknown_backbone():
    with pytest.raises(ValueError, match="vgg"):
        build_backbone("vgg")

"""The Omnivore Swin-B context backbone: the released checkpoint's layout loads (trunk only), other layouts are
refused naming the keys that differ, and an image goes through as a one-frame clip."""

from __future__ import annotations

import pytest
import torch

from emoscore.emotic.backbones import build_backbone, pretrained_backbone
from emoscore.emotic.model import EmoticNet
from emoscore.errors import CheckpointError
from tests.fixtures.omnivore import released_checkpoint
from tests.helpers import vad_config


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    payload = released_checkpoint()
    path = tmp_path_factory.mktemp("omnivore") / "swinB_checkpoint.torch"
    torch.save(payload, path)
    return path, payload


def test_released_omnivore_checkpoint_loads_its_trunk(released):
    path, payload = released
    backbone, width = pretrained_backbone("omnivore_swin_b", path)
    trunk, ours = payload["trunk"], backbone.state_dict()
    assert width == 1024
    assert torch.equal(ours["trunk.patch_embed.proj.weight"], trunk["patch_embed.proj.weight"])
    assert torch.equal(ours["trunk.features.4.17.mlp.3.weight"], trunk["layers.2.blocks.17.mlp.fc2.weight"])
    assert torch.equal(ours["trunk.features.3.reduction.weight"], trunk["layers.1.downsample.reduction.weight"])
    assert torch.equal(ours["trunk.norm.bias"], trunk["norm.bias"])
    assert not any("depth_patch_embed" in key or key.startswith("heads") for key in ours)
    with torch.no_grad():
        features = backbone.eval()(torch.randn(2, 3, 64, 64))  # images, not clips
    assert features.shape == (2, 1024) and torch.isfinite(features).all()


def test_other_layouts_are_refused_naming_the_keys(released, tmp_path):
    _, payload = released
    trunk = dict(payload["trunk"])
    trunk["layers.0.blocks.0.mlp.fc3.weight"] = trunk.pop("layers.0.blocks.0.mlp.fc2.weight")
    trunk["norm.weight"] = torch.ones(512)
    path = tmp_path / "odd.torch"
    torch.save({"trunk": trunk}, path)
    with pytest.raises(CheckpointError) as refused:
        pretrained_backbone("omnivore_swin_b", path)
    message = str(refused.value)
    assert "odd.torch: weights do not fit backbone omnivore_swin_b" in message
    assert "trunk.features.0.0.mlp.3.weight" in message  # missing
    assert "trunk.features.0.0.mlp.fc3.weight" in message  # unexpected
    assert "trunk.norm.weight: (512,) instead of (1024,)" in message
    torchvision_swin = tmp_path / "swin_b.pth"
    torch.save(build_backbone("swin_b")[0].state_dict(), torchvision_swin)
    with pytest.raises(CheckpointError, match="weights do not fit backbone omnivore_swin_b"):
        pretrained_backbone("omnivore_swin_b", torchvision_swin)


def test_vad_model_with_an_omnivore_context_branch_round_trips(released, tmp_path):
    path, _ = released
    config = vad_config(context_backbone="omnivore_swin_b", context_size=64, body_size=32)
    model = EmoticNet.for_training(config, context_weights=path).eval()
    model.save(tmp_path / "vad.pt")
    loaded = EmoticNet.from_checkpoint(tmp_path / "vad.pt")
    inputs = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(*inputs)[1], loaded(*inputs)[1])
    context, _ = pretrained_backbone("omnivore_swin_b", tmp_path / "vad.pt", prefix="context.")  # our own file too
    assert torch.equal(context.state_dict()["trunk.norm.bias"], model.context.state_dict()["trunk.norm.bias"])

"""Feature extractors for the two branches: a registry of builders (architecture only), then weights by path.

`resnet18`/`resnet50` (torchvision; Places365 or ImageNet weights), torchvision's 2-D `swin_b`, and
`omnivore_swin_b`: the trunk of facebookresearch/omnivore's `omnivore_swinB`, a 3-D (video) Swin-B fed an image
as a one-frame clip, whose released checkpoint loads by path. Its trunk is torchvision's `SwinTransformer3d`
built with Omnivore's settings; the released keys are translated to it (`omnivore_to_torchvision`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from emoscore.checkpoints import extract_state_dict, load_weights_only
from emoscore.errors import CheckpointError

if TYPE_CHECKING:
    from torchvision.models.video.swin_transformer import SwinTransformer3d

log = logging.getLogger(__name__)

# omnivore_swinB (omnivore/models/omnivore_model.py): patch (2,4,4), width 128, depths 2-2-18-2, heads 4-8-16-32,
# window (16,7,7), stochastic depth 0.3, patch norm; 1024 features after the final norm and the mean.
OMNIVORE_SWIN_B = {
    "patch_size": [2, 4, 4],
    "embed_dim": 128,
    "depths": [2, 2, 18, 2],
    "num_heads": [4, 8, 16, 32],
    "window_size": [16, 7, 7],
    "stochastic_depth_prob": 0.3,
}
# Classifier heads that pretrained checkpoints carry (ImageNet 1000, Places365 365 classes); we replace them.
HEAD_PREFIXES = ("fc.", "head.")


# torchvision is imported where an architecture is built, not with this module: importing it costs ~1.5 s (it
# brings torch._dynamo along), which a scoring worker running the ONNX export of a model never needs.


def _resnet(name: str) -> Callable[[], tuple[nn.Module, int]]:
    def build() -> tuple[nn.Module, int]:
        import torchvision

        network = getattr(torchvision.models, name)(weights=None)
        features = network.fc.in_features
        network.fc = nn.Identity()
        return network, features

    return build


def _swin_b() -> tuple[nn.Module, int]:
    import torchvision

    network = torchvision.models.swin_b(weights=None)
    features = network.head.in_features
    network.head = nn.Identity()
    return network, features


class ImageAsClip(nn.Module):
    """A video trunk that reads images: [B, 3, H, W] becomes a one-frame clip [B, 3, 1, H, W] (Omnivore's
    Im2Video; the patch embedding pads time to its 2-frame patch)."""

    def __init__(self, trunk: SwinTransformer3d) -> None:
        super().__init__()
        self.trunk = trunk

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features [B, 1024]: the trunk's final norm, averaged over time and space."""
        return self.trunk(images.unsqueeze(2))


def _omnivore_swin_b() -> tuple[nn.Module, int]:
    from torchvision.models.video.swin_transformer import SwinTransformer3d

    trunk = SwinTransformer3d(**OMNIVORE_SWIN_B, norm_layer=partial(nn.LayerNorm, eps=1e-5))
    features = trunk.head.in_features
    trunk.head = nn.Identity()
    return ImageAsClip(trunk), features


BACKBONES: dict[str, Callable[[], tuple[nn.Module, int]]] = {
    "resnet18": _resnet("resnet18"),
    "resnet50": _resnet("resnet50"),
    "swin_b": _swin_b,
    "omnivore_swin_b": _omnivore_swin_b,
}

_OMNIVORE_BLOCK = re.compile(r"layers\.(\d+)\.blocks\.(\d+)\.(.+)")
_OMNIVORE_DOWNSAMPLE = re.compile(r"layers\.(\d+)\.downsample\.(.+)")
_OMNIVORE_MLP = {"mlp.fc1.": "mlp.0.", "mlp.fc2.": "mlp.3."}


def omnivore_to_torchvision(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Omnivore trunk keys → our `ImageAsClip` keys, and the keys left out (the depth patch embedding, which only
    RGB-D input uses). A key of no known form is kept as is, so the shape check names it."""
    mapped, dropped = {}, []
    for key, value in state.items():
        if key.startswith("depth_patch_embed."):
            dropped.append(key)
            continue
        if block := _OMNIVORE_BLOCK.fullmatch(key):
            stage, index, rest = block.groups()
            for theirs, ours in _OMNIVORE_MLP.items():
                rest = rest.replace(theirs, ours) if rest.startswith(theirs) else rest
            key = f"features.{2 * int(stage)}.{index}.{rest}"
        elif downsample := _OMNIVORE_DOWNSAMPLE.fullmatch(key):
            stage, rest = downsample.groups()
            key = f"features.{2 * int(stage) + 1}.{rest}"
        mapped[f"trunk.{key}"] = value
    return mapped, dropped


def _omnivore_state(payload: object, path: Path | str) -> dict[str, torch.Tensor]:
    """The trunk of a released Omnivore checkpoint ({'trunk': …, 'heads': …}) in our key layout; our own
    checkpoints (already in it) pass through."""
    trunk = payload.get("trunk") if isinstance(payload, dict) and isinstance(payload.get("trunk"), dict) else payload
    state = extract_state_dict(trunk, path)
    if any(key.startswith("trunk.") for key in state):
        return state
    mapped, dropped = omnivore_to_torchvision(state)
    if dropped:
        log.info("%s: left out %d keys of the RGB-D patch embedding (images use the RGB one)", path, len(dropped))
    return mapped


def load_backbone_weights(backbone: nn.Module, name: str, path: Path | str, prefix: str = "") -> None:
    """Load a Places365 `.pth.tar` (the released Python 2 files too), a torchvision `.pth`, a released Omnivore
    checkpoint, or an emoscore checkpoint (its `prefix` branch).

    The classifier head is dropped; every other key must match the backbone exactly, so weights of another
    architecture are refused with the keys that differ.
    """
    payload = load_weights_only(path)
    if name == "omnivore_swin_b" and not (isinstance(payload, dict) and payload.get("format")):
        state = _omnivore_state(payload, path)
    else:
        state = extract_state_dict(payload, path)
    if prefix and any(key.startswith(prefix) for key in state):
        state = {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
    state = {key: value for key, value in state.items() if not key.startswith(HEAD_PREFIXES)}
    expected = backbone.state_dict()
    # batch norm's step counter arrived in PyTorch 0.4.1: older files (Places365) lack it, and it is not a weight
    missing = sorted(key for key in set(expected) - set(state) if not key.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        details = []
        if missing:
            details.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if wrong_shape:
            key = wrong_shape[0]
            shapes = f"{tuple(state[key].shape)} instead of {tuple(expected[key].shape)}"
            details.append(f"{len(wrong_shape)} keys of another shape (e.g. {key}: {shapes})")
        raise CheckpointError(path, f"weights do not fit backbone {name}: " + "; ".join(details))
    backbone.load_state_dict(state, strict=False)  # every weight is checked above; only step counters may lack


def build_backbone(name: str) -> tuple[nn.Module, int]:
    """A feature extractor (classifier removed) and its feature width, randomly initialised: the architecture
    only, as torchvision builds a model before it loads weights."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name]()


def pretrained_backbone(name: str, weights: Path | str, prefix: str = "") -> tuple[nn.Module, int]:
    """A feature extractor built, then loaded from `weights` (see load_backbone_weights)."""
    backbone, features = build_backbone(name)
    load_backbone_weights(backbone, name, weights, prefix)
    return backbone, features

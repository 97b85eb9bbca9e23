"""Person boxes for scoring: `none` (the whole image is one person), `hog` (OpenCV's people detector) or
`torchvision` (a Faster R-CNN loaded from a weights path). With no person found, the whole image is used."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Detection:
    """A person box [x1, y1, x2, y2] in pixels and the detector's score (1.0 for the whole image)."""

    box: Box
    score: float


def whole_image(image: Image.Image) -> list[Detection]:
    """The `none` detector."""
    return [Detection((0, 0, image.width, image.height), 1.0)]


class HogDetector:
    """OpenCV's HOG + linear SVM pedestrian detector (fast, CPU-only, upright people)."""

    def __init__(self, min_score: float = 0.5, max_side: int = 800) -> None:
        import cv2

        self.cv2 = cv2
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.min_score, self.max_side = min_score, max_side

    def __call__(self, image: Image.Image) -> list[Detection]:
        """Boxes of upright people, scaled back to the image's pixels."""
        scale = min(1.0, self.max_side / max(image.size))
        small = image.resize((max(64, int(image.width * scale)), max(128, int(image.height * scale))))
        gray = np.asarray(small.convert("L"))
        boxes, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
        found = []
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=False):
            if float(weight) >= self.min_score:
                box = (int(x / scale), int(y / scale), int((x + w) / scale), int((y + h) / scale))
                found.append(Detection(box, float(weight)))
        return found


class TorchvisionDetector:
    """Faster R-CNN (ResNet-50 FPN or MobileNet-v3 FPN) from a torchvision state dict given by path."""

    PERSON = 1  # COCO label

    def __init__(self, weights: Path, architecture: str = "fasterrcnn_resnet50_fpn", min_score: float = 0.6) -> None:
        import torch
        import torchvision

        from emoscore.checkpoints import extract_state_dict, load_weights_only

        builder = getattr(torchvision.models.detection, architecture)
        self.model = builder(weights=None, weights_backbone=None, num_classes=91).eval()
        self.model.load_state_dict(extract_state_dict(load_weights_only(weights), weights))
        self.min_score, self.torch = min_score, torch

    def __call__(self, image: Image.Image) -> list[Detection]:
        """Person boxes above the score threshold."""
        tensor = self.torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        with self.torch.no_grad():
            output = self.model([tensor])[0]
        keep = (output["labels"] == self.PERSON) & (output["scores"] >= self.min_score)
        return [
            Detection(tuple(int(v) for v in box), float(score))  # type: ignore[arg-type]
            for box, score in zip(output["boxes"][keep].tolist(), output["scores"][keep].tolist(), strict=True)
        ]


def build_detector(name: str, weights: Path | None = None) -> Callable[[Image.Image], list[Detection]]:
    """A detector by name; every detector falls back to the whole image when it finds nobody."""
    if name == "none":
        return whole_image
    if name == "hog":
        detector: Callable[[Image.Image], list[Detection]] = HogDetector()
    elif name == "torchvision":
        if weights is None:
            raise ValueError("detector 'torchvision' needs score.detector_weights (a Faster R-CNN .pth)")
        detector = TorchvisionDetector(weights)
    else:
        raise ValueError(f"unknown detector {name!r}; choose none, hog or torchvision")

    def detect_or_whole(image: Image.Image) -> list[Detection]:
        return detector(image) or whole_image(image)

    return detect_or_whole

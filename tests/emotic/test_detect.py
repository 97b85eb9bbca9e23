"""Person detectors: every one falls back to the whole image, and the torchvision one loads weights by path."""

import pytest
import torch
import torchvision
from PIL import Image

from emoscore.emotic.detect import Detection, TorchvisionDetector, build_detector, whole_image
from emoscore.errors import CheckpointError


def test_none_and_hog_fall_back_to_the_whole_image():
    image = Image.new("RGB", (200, 300), "white")  # nobody in it
    assert build_detector("none")(image) == [Detection((0, 0, 200, 300), 1.0)]
    assert build_detector("hog")(image) == whole_image(image)
    with pytest.raises(ValueError, match="unknown detector"):
        build_detector("yolo")
    with pytest.raises(ValueError, match="detector_weights"):
        build_detector("torchvision")


def test_torchvision_detector_from_a_state_dict(tmp_path):
    torch.manual_seed(0)
    builder = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn
    path = tmp_path / "detector.pth"
    torch.save(builder(weights=None, weights_backbone=None, num_classes=91).state_dict(), path)
    detector = TorchvisionDetector(path, architecture="fasterrcnn_mobilenet_v3_large_320_fpn", min_score=0.0)
    found = detector(Image.new("RGB", (160, 120), "gray"))
    assert all(isinstance(d, Detection) and 0 <= d.box[0] <= d.box[2] <= 160 for d in found)
    (tmp_path / "other.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"other\.pth"):
        TorchvisionDetector(tmp_path / "other.pth", architecture="fasterrcnn_mobilenet_v3_large_320_fpn")

"""prepare_split on real JPEG files and bad records: what is kept, what is skipped and why."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from emoscore.emotic.annotations import ImageAnnotation, PersonAnnotation
from emoscore.emotic.dataset import EmoticArrays, make_loader, prepare_split
from emoscore.errors import InvalidAnnotation


@pytest.fixture
def images_dir(tmp_path):
    root = tmp_path / "emotic"
    (root / "mscoco" / "images").mkdir(parents=True)
    left_red = np.zeros((60, 80, 3), dtype=np.uint8)
    left_red[:, :40] = (255, 0, 0)
    Image.fromarray(left_red).save(root / "mscoco" / "images" / "red.jpg", quality=95)
    (root / "mscoco" / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def _person(bbox, categories=("Peace",), vad=(5.0, 5.0, 5.0)):
    return PersonAnnotation(bbox=bbox, categories=categories, vad=vad)


def test_prepare_keeps_good_and_counts_bad(images_dir, tmp_path):
    records = [
        ImageAnnotation(
            "mscoco/images",
            "red.jpg",
            80,
            60,
            (
                _person((0, 0, 40, 60), ("Peace", "Happiness"), (7.0, 3.0, 6.0)),  # the red half
                _person((-20, -20, 200, 200)),  # past every edge: clipped, kept
                _person((90, 10, 120, 50)),  # entirely outside: empty after clipping
                _person((10, 10, 10, 50)),  # zero width
                _person((0, 0, 10, 10), vad=(float("nan"), 5.0, 5.0)),
                _person((0, 0, 10, 10), vad=(5.0, 12.0, 5.0)),
                _person((0, 0, 10, 10), categories=("Joy",)),
            ),
            where="a.mat:train[0]",
        ),
        ImageAnnotation("mscoco/images", "missing.jpg", 80, 60, (_person((0, 0, 5, 5)),), where="a.mat:train[1]"),
        ImageAnnotation("mscoco/images", "broken.jpg", 80, 60, (_person((0, 0, 5, 5)),), where="a.mat:train[2]"),
        InvalidAnnotation("a.mat:train[3]", "malformed record: x", "record_malformed"),
    ]
    out = tmp_path / "processed"
    report = prepare_split(iter(records), images_dir, out, split="train", context_size=32, body_size=16)
    summary = report.as_dict()
    assert summary["people_kept"] == 2
    assert summary["skipped_by_reason"] == {
        "bbox_empty": 2,
        "image_missing": 1,
        "image_unreadable": 1,
        "record_malformed": 1,
        "unknown_category": 1,
        "vad_missing": 1,
        "vad_out_of_range": 1,
    }
    assert any("missing.jpg" in example for example in summary["examples"])
    table = pd.read_parquet(out / "train.parquet")
    assert list(table["bbox"].iloc[1]) == [0, 0, 80, 60]
    bodies = np.load(out / "train_body.npy")
    contexts = np.load(out / "train_context.npy")
    assert bodies.shape == (2, 16, 16, 3) and contexts.shape == (2, 32, 32, 3)
    assert bodies[0, ..., 0].mean() > 200 and bodies[0, ..., 1].mean() < 40  # the crop is the red half
    assert not list(out.glob("*.tmp")) and not list(out.glob("*.part"))

    dataset = EmoticArrays(out, "train")
    item = dataset[0]
    assert item["context"].shape == (3, 32, 32) and item["body"].shape == (3, 16, 16)
    assert item["categories"].sum() == 2
    assert item["vad"].tolist() == pytest.approx([0.7, 0.3, 0.6])


def test_prepare_in_worker_processes_matches(images_dir, tmp_path):
    records = [ImageAnnotation("mscoco/images", "red.jpg", 80, 60, (_person((0, 0, 40, 60)),), where="x")] * 3
    serial = prepare_split(
        iter(records), images_dir, tmp_path / "a", split="val", context_size=32, body_size=16, workers=0
    )
    parallel = prepare_split(
        iter(records), images_dir, tmp_path / "b", split="val", context_size=32, body_size=16, workers=2
    )
    assert serial.as_dict() == parallel.as_dict()
    assert np.array_equal(np.load(tmp_path / "a" / "val_body.npy"), np.load(tmp_path / "b" / "val_body.npy"))


def test_training_batches_do_not_depend_on_loader_workers(images_dir, tmp_path):
    people = tuple(_person((x, 0, x + 40, 60)) for x in (0, 10, 20, 30, 40))
    records = [ImageAnnotation("mscoco/images", "red.jpg", 80, 60, people, where="x")] * 2
    prepare_split(iter(records), images_dir, tmp_path, split="train", context_size=32, body_size=16, workers=0)
    dataset = EmoticArrays(tmp_path, "train", hflip=True)

    def epochs(workers):
        loader = make_loader(dataset, 4, workers, shuffle=True, seed=3)
        return [torch.cat([batch["body"] for batch in loader]) for _ in range(2)]

    alone, with_worker = epochs(0), epochs(1)
    assert all(torch.equal(a, b) for a, b in zip(alone, with_worker, strict=True))
    assert not torch.equal(alone[0], alone[1])  # a new order and new flips each epoch
    flipped = dataset[(0, True)]["body"]
    assert torch.equal(flipped, dataset[(0, False)]["body"].flip(-1))

"""JPEG decoding on the scoring device (nvjpeg on a GPU), run here through torchvision's CPU decoder: the same
sizes, orientation and pixels (within rounding) as the CPU path, and every file it cannot take left to that path."""

import io
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import simplejpeg
import torch
from PIL import Image, ImageOps

from emoscore.catalog.table import ImageFile
from emoscore.images import DISPLAYED_SIZE, decode_image
from emoscore.scoring.jpeg_device import decode_jpegs, scaled_size, upright
from emoscore.scoring.people import prepare_image, prepare_images
from tests.test_images import smooth_photo

CPU = torch.device("cpu")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_as_pillow_does(orientation):
    pixels = np.random.default_rng(orientation).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(image))
    turned = upright(torch.from_numpy(pixels).permute(2, 0, 1), orientation).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(turned, expected)


@pytest.mark.parametrize("size", [(1200, 900), (1600, 1200), (700, 500), (1100, 1000), (4000, 3000), (300, 200)])
def test_the_size_is_the_one_libjpeg_turbo_gives(size):
    """M/8 scales, sides rounded up, checked against simplejpeg decoding the same file."""
    data = io.BytesIO()
    Image.new("RGB", size).save(data, "JPEG")
    height, width, _ = simplejpeg.decode_jpeg(data.getvalue(), min_width=256, min_height=256).shape
    assert scaled_size(*size, 256) == (width, height)


def test_a_batch_decodes_like_the_cpu_path(tmp_path):
    """A landscape, a phone portrait (stored landscape, orientation 6) and a small one: each at the size, the way
    up and within rounding of the pixels libjpeg-turbo's scaled decode gives; the full displayed size recorded."""
    paths = [tmp_path / "wide.jpg", tmp_path / "phone.jpg", tmp_path / "small.jpg"]
    smooth_photo(1600, 1200).save(paths[0], quality=92)
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6
    smooth_photo(2000, 1500).save(paths[1], quality=92, exif=exif)
    smooth_photo(300, 200).save(paths[2], quality=92)
    images = decode_jpegs(paths, CPU, 256, 100_000_000)
    for path, image in zip(paths, images, strict=True):
        reference = decode_image(path, draft=(256, 256))
        assert image is not None and image.size == reference.size and image.mode == "RGB"
        assert image.info[DISPLAYED_SIZE] == reference.info[DISPLAYED_SIZE]
        assert np.abs(np.asarray(image, dtype=float) - np.asarray(reference, dtype=float)).mean() < 3
    assert images[1].size == (375, 500) and images[1].info[DISPLAYED_SIZE] == (1500, 2000)


def test_files_it_cannot_take_go_the_cpu_way_and_fail_there_by_name(tmp_path):
    """A PNG, a CMYK JPEG, a cut-off JPEG (which a decoder would fill with grey), a missing file and one over the
    pixel limit come back as None; through prepare_images the good files score and the bad ones carry the CPU
    path's reasons, one row each."""
    good = tmp_path / "good.jpg"
    smooth_photo(800, 600).save(good, quality=90)
    png, cmyk, cut = tmp_path / "a.png", tmp_path / "cmyk.jpg", tmp_path / "cut.jpg"
    smooth_photo(800, 600).save(png)
    smooth_photo(800, 600).convert("CMYK").save(cmyk, quality=90)
    cut.write_bytes(good.read_bytes()[:4000])
    paths = [good, png, cmyk, cut, tmp_path / "gone.jpg"]
    decoded = decode_jpegs(paths, CPU, 128, 100_000_000)
    assert decoded[0] is not None and decoded[1:] == [None] * 4
    assert decode_jpegs([good], CPU, 128, 1000) == [None]  # over the limit: the CPU path says so
    options = {
        "context_size": 64,
        "body_size": 32,
        "detector": "none",
        "detector_weights": None,
        "max_pixels": 100_000_000,
    }
    files = [ImageFile(str(path), f"id{index}", 0) for index, path in enumerate(paths)]
    prepared = prepare_images(files, partial(prepare_image, **options), "cpu")
    alone = [prepare_image(file, **options) for file in files]
    assert [p.error is None for p in prepared] == [True, True, True, False, False]
    assert [p.error for p in prepared] == [p.error for p in alone]
    assert "truncated" in prepared[3].error and "not found" in prepared[4].error
    for ours, theirs in zip(prepared[:3], alone[:3], strict=True):
        assert (ours.width, ours.height) == (theirs.width, theirs.height) == (800, 600)
        assert np.abs(ours.context.astype(float) - theirs.context.astype(float)).mean() < 3


def test_scoring_with_the_device_decoder_gives_the_cpu_decoders_rows(tmp_path, project):
    """Through the scoring pool (in this process), the same people and VAD within a small tolerance; `auto` picks
    the CPU path where there is no GPU."""
    from emoscore.config import load_params
    from emoscore.scoring.listing import hash_images, iter_library
    from emoscore.scoring.scorer import Scorer

    (tmp_path / "library").mkdir()
    for index in range(5):
        smooth_photo(640 + 64 * index, 480).save(tmp_path / "library" / f"p{index}.jpg", quality=90)
    (tmp_path / "library" / "broken.jpg").write_bytes(b"\xff\xd8not a jpeg\xff\xd9")
    files = [f for f in hash_images(iter_library(tmp_path / "library")) if isinstance(f, ImageFile)]
    params = load_params(project / "params.yaml")
    rows = {}
    for decoder, used in (("auto", None), ("cpu", None), ("device", "cpu")):
        score = params.score.model_copy(update={"workers": 0, "jpeg_decoder": decoder, "device": "cpu"})
        scorer = Scorer.from_params(params.model_copy(update={"score": score}))
        assert scorer.pool.jpeg_device == used
        try:
            rows[decoder] = {Path(p.file.path).name: (p.error, vad) for p, vad in scorer.pool.iter_vad(files)}
        finally:
            scorer.close()
    assert rows["cpu"].keys() == rows["device"].keys() and len(rows["cpu"]) == 6
    assert rows["device"]["broken.jpg"][0] == rows["cpu"]["broken.jpg"][0] is not None
    for name, (error, outputs) in rows["cpu"].items():
        if error is None:
            np.testing.assert_allclose(rows["device"][name][1][1], outputs[1], atol=0.05)

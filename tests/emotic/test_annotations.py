"""Readers of the real EMOTIC formats, on files built here the way MATLAB and the reference code write them."""

import math

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.emotic.annotations import (
    ImageAnnotation,
    PersonAnnotation,
    clip_box,
    person_problem,
    read_mat_split,
    write_annotations_mat,
)
from emoscore.emotic.csv_layout import read_csv_split, write_annotations_csv
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.prepare import find_annotations
from emoscore.errors import InvalidAnnotation


def _cell(*names):
    cell = np.empty((1, len(names)), dtype=object)
    for i, name in enumerate(names):
        cell[0, i] = name
    return cell


def _structs(dtype_names, rows):
    array = np.zeros((1, len(rows)), dtype=[(name, object) for name in dtype_names])
    for i, row in enumerate(rows):
        for name, value in zip(dtype_names, row, strict=True):
            array[0, i][name] = value
    return array


def _vad(v, a, d):
    return _structs(["valence", "arousal", "dominance"], [(np.array([[v]]), np.array([[a]]), np.array([[d]]))])


def _image(filename, people, fields):
    size = _structs(["n_col", "n_row"], [(np.array([[640]]), np.array([[480]]))])
    database = _structs(["name"], [("mscoco",)])
    return (filename, "mscoco/images", size, database, _structs(fields, people))


@pytest.fixture
def real_layout_mat(tmp_path):
    """An Annotations.mat built struct by struct as MATLAB stores EMOTIC (1×1 arrays, cells, annotator arrays)."""
    train_fields = ["body_bbox", "annotations_categories", "annotations_continuous", "gender", "age"]
    test_fields = [
        "body_bbox",
        "annotations_categories",
        "combined_categories",
        "annotations_continuous",
        "combined_continuous",
        "gender",
        "age",
    ]
    train_people = [
        (
            np.array([[10, 20, 200, 400]]),
            _structs(["categories"], [(_cell("Happiness", "Engagement"),)]),
            _vad(7, 6, 8),
            "Male",
            "Adult",
        ),
        (
            np.array([[300, 50, 700, 470]]),
            _structs(["categories"], [(_cell("Sadness"),)]),
            _vad(float("nan"), 3, 4),
            "Female",
            "Kid",
        ),
    ]
    test_people = [
        (
            np.array([[5, 5, 100, 100]]),
            _structs(["categories"], [(_cell("Anger"),), (_cell("Anger", "Annoyance"),), (_cell("Fear"),)]),
            _cell("Anger", "Annoyance"),
            _structs(["valence", "arousal", "dominance"], [(2, 8, 6), (3, 7, 5), (2, 9, 7)]),
            _vad(2.3, 8.0, 6.0),
            "Male",
            "Teenager",
        ),
    ]
    image_fields = ["filename", "folder", "image_size", "original_database", "person"]
    contents = {
        "train": _structs(image_fields, [_image("a.jpg", train_people, train_fields)]),
        "val": _structs(image_fields, [_image("b.jpg", test_people, test_fields)]),
        "test": _structs(
            image_fields,
            [_image("c.jpg", test_people, test_fields), _image("d.jpg", test_people, test_fields)],
        ),
    }
    path = tmp_path / "Annotations" / "Annotations.mat"
    path.parent.mkdir()
    scipy.io.savemat(path, contents)
    return path


def test_mat_train_split(real_layout_mat):
    images = list(read_mat_split(real_layout_mat, "train"))
    assert len(images) == 1
    image = images[0]
    assert (image.folder, image.filename, image.width, image.height) == ("mscoco/images", "a.jpg", 640, 480)
    assert image.original_database == "mscoco"
    first, second = image.people
    assert first.bbox == (10, 20, 200, 400)
    assert first.categories == ("Happiness", "Engagement")
    assert first.vad == (7, 6, 8)
    assert (first.gender, first.age) == ("Male", "Adult")
    assert math.isnan(second.vad[0]) and second.categories == ("Sadness",)


def test_mat_val_test_use_combined_consensus(real_layout_mat):
    (val,) = read_mat_split(real_layout_mat, "val")
    person = val.people[0]
    assert person.categories == ("Anger", "Annoyance")
    assert person.vad == pytest.approx((2.3, 8.0, 6.0))
    assert person.annotator_categories == (("Anger",), ("Anger", "Annoyance"), ("Fear",))
    assert [image.filename for image in read_mat_split(real_layout_mat, "test")] == ["c.jpg", "d.jpg"]


def test_truncated_mat_is_reported_not_crashing(real_layout_mat, tmp_path):
    truncated = tmp_path / "truncated.mat"
    data = real_layout_mat.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    outcomes = []
    for split in ("train", "val", "test"):
        try:
            outcomes.extend(type(item).__name__ for item in read_mat_split(truncated, split))
        except InvalidAnnotation as error:
            assert "truncated.mat" in str(error)
            outcomes.append(error.kind)
    assert "split_unreadable" in outcomes


def test_missing_split_named(tmp_path):
    path = tmp_path / "only_train.mat"
    write_annotations_mat(path, {"train": []})
    with pytest.raises(InvalidAnnotation, match="no 'test' struct"):
        list(read_mat_split(path, "test"))


def test_reference_csv_layout(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        "Index,Folder,Filename,Image Size,BBox,Categorical_Labels,Continuous_Labels,Gender,Age\n"
        '0,mscoco/images,a.jpg,"[640, 480]","[86, 58, 564, 628]","[\'Disconnection\', \'Doubt/Confusion\']",'
        '"[5, 3, 9]",Male,Adult\n'
        '1,mscoco/images,b.jpg,not-a-list,"[1, 2, 3, 4]","[\'Peace\']","[5, 3, 9]",Female,Kid\n'
    )
    first, second = list(read_csv_split(path))
    assert isinstance(first, ImageAnnotation)
    assert first.people[0].categories == ("Disconnection", "Doubt/Confusion")
    assert (first.width, first.height, first.people[0].vad) == (640, 480, (5, 3, 9))
    assert isinstance(second, InvalidAnnotation) and "train.csv:3" in str(second)


def test_find_annotations(tmp_path, real_layout_mat):
    assert find_annotations(real_layout_mat.parent)["test"] == real_layout_mat
    csv_dir = tmp_path / "csv"
    write_annotations_csv(csv_dir / "train.csv", [])
    assert set(find_annotations(csv_dir)) == {"train"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidAnnotation, match="neither"):
        find_annotations(tmp_path / "empty")
    with pytest.raises(InvalidAnnotation):
        find_annotations(tmp_path / "missing.mat")


def test_person_problems():
    good = PersonAnnotation((0, 0, 10, 10), ("Peace",), (5, 5, 5))
    assert person_problem(good) is None
    assert person_problem(PersonAnnotation((0, 0, 1, 1), ("Joy",), (5, 5, 5)))[0] == "unknown_category"
    assert person_problem(PersonAnnotation((0, 0, 1, 1), (), (5, 5, 5)))[0] == "no_categories"
    assert person_problem(PersonAnnotation((0, 0, 1, 1), ("Peace",), (5, 11, 5)))[0] == "vad_out_of_range"
    assert person_problem(PersonAnnotation((0, 0, 1, 1), ("Peace",), (5, float("nan"), 5)))[0] == "vad_missing"


def test_clip_box():
    assert clip_box((-10, -5, 50, 60), 40, 30) == (0, 0, 40, 30)
    assert clip_box((50, 50, 80, 80), 40, 30) is None
    assert clip_box((10, 10, 10, 20), 40, 30) is None
    assert clip_box((30, 20, 10, 5), 40, 30) == (10, 5, 30, 20)


names = st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True).map(tuple)
vads = st.tuples(*[st.integers(1, 10).map(float)] * 3)
boxes = st.tuples(*[st.integers(0, 600).map(float)] * 4)
people = st.builds(PersonAnnotation, bbox=boxes, categories=names, vad=vads)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(people, min_size=1, max_size=3), min_size=1, max_size=4))
def test_mat_and_csv_round_trip(tmp_path_factory, images_people):
    directory = tmp_path_factory.mktemp("rt")
    images = [
        ImageAnnotation("f/images", f"{i}.jpg", 640, 480, tuple(persons), where="")
        for i, persons in enumerate(images_people)
    ]
    write_annotations_mat(directory / "a.mat", {"train": images, "test": images})
    write_annotations_csv(directory / "train.csv", images)
    for split in ("train", "test"):
        back = list(read_mat_split(directory / "a.mat", split))
        assert [(i.filename, [(p.bbox, p.categories, p.vad) for p in i.people]) for i in back] == [
            (i.filename, [(p.bbox, p.categories, p.vad) for p in i.people]) for i in images
        ]
    rows = list(read_csv_split(directory / "train.csv"))
    assert [(r.filename, r.people[0].categories, r.people[0].vad) for r in rows] == [
        (i.filename, p.categories, p.vad) for i in images for p in i.people
    ]

"""Errors cross process boundaries whole: a worker that refuses a file sends its error back to the parent."""

import pickle

import pytest

from emoscore.errors import CheckpointError, ConfigError, InvalidAnnotation, InvalidImage, InvalidMidi, InvalidVideo


@pytest.mark.parametrize(
    "error",
    [
        InvalidMidi("music21/x.mxl", "metre 3/4 is not duple", "not_duple"),
        InvalidImage("a.jpg", "truncated"),
        InvalidAnnotation("Annotations.mat:12", "no bbox", "missing_bbox"),
        CheckpointError("music.pt", "pickle payload"),
        InvalidVideo("film.mp4", "no video stream"),
        ConfigError("score.bars: must be at least 1"),
    ],
)
def test_every_error_pickles_with_its_message_and_attributes(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == str(error) and vars(again) == vars(error)

"""The bridge from VAD to music: quadrant, confidence, pooling over people, the seed."""

import pytest

from emoscore.scoring.bridge import music_seed, pool_people, vad_to_quadrant


@pytest.mark.parametrize(
    ("valence", "arousal", "quadrant"), [(8, 8, "Q1"), (2, 8, "Q2"), (2, 2, "Q3"), (8, 2, "Q4"), (5.5, 5.5, "Q1")]
)
def test_quadrants(valence, arousal, quadrant):
    assert vad_to_quadrant(valence, arousal).name == quadrant


def test_confidence_is_distance_to_the_nearer_boundary():
    assert vad_to_quadrant(10, 10).confidence == pytest.approx(1.0)
    assert vad_to_quadrant(5.5, 9).confidence == pytest.approx(0.0)
    assert vad_to_quadrant(7.75, 1.0).confidence == pytest.approx(2.25 / 4.5)
    assert vad_to_quadrant(6, 6, midpoint=7).name == "Q3"


def test_pooling_and_seed():
    people = [[2, 2, 5], [9.5, 9.5, 5], [6, 6, 5]]
    assert pool_people(people).tolist() == pytest.approx([5.833333, 5.833333, 5])
    assert pool_people(people, "most_confident").tolist() == [9.5, 9.5, 5]
    with pytest.raises(ValueError, match="no people"):
        pool_people([])
    assert music_seed("ab" * 32) == music_seed("ab" * 32) != music_seed("cd" * 32)

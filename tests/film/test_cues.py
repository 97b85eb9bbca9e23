"""Cue overrides and the stored composition: what a person chose for one cue survives a rerun, and a damaged or
foreign store is never trusted."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emoscore.errors import InvalidVideo
from emoscore.film.arc import SceneMood
from emoscore.film.cues import (
    CueOverride,
    key_scenes,
    load_composition,
    load_overrides,
    save_composition,
    save_overrides,
    segment_key,
)
from emoscore.scoring.bridge import Quadrant

MOOD = SceneMood(5, 2, (7.0, 7.0, 5.0), (7.0, 7.0, 5.0), Quadrant(1, 0.3), 0.1)

overrides = st.builds(
    CueOverride,
    quadrant=st.none() | st.integers(1, 4),
    valence=st.none() | st.floats(1, 10),
    arousal=st.none() | st.floats(1, 10),
    intensity=st.none() | st.floats(-0.5, 0.5),
    seed=st.none() | st.integers(0, 2**31),
)


@given(st.dictionaries(st.integers(1, 40), overrides, max_size=5))
def test_overrides_round_trip_through_their_file(tmp_path_factory, chosen):
    path = tmp_path_factory.mktemp("o") / "film.overrides.json"
    spans = [(4.0 * i, 4.0 * i + 4) for i in range(40)]
    save_overrides(path, "abc", chosen, spans)
    assert load_overrides(path, "abc", spans) == chosen
    assert load_overrides(path, "another film", spans) == {}


def test_an_override_whose_cue_moved_is_dropped_not_applied_to_another_scene(tmp_path, caplog):
    path = save_overrides(tmp_path / "film.overrides.json", "abc", {2: CueOverride(quadrant=3)}, [(0, 4), (4, 9)])
    assert load_overrides(path, "abc", [(0, 4), (4, 9)]) == {2: CueOverride(quadrant=3)}
    assert load_overrides(path, "abc", [(0, 2), (2, 4), (4, 9)]) == {}  # the edit was re-conformed: cue 2 moved
    assert "dropped" in caplog.text


def test_an_override_sets_the_mood_the_music_is_written_for():
    assert CueOverride(quadrant=3).applied(MOOD, 5.5).quadrant.number == 3
    calm = CueOverride(valence=3.0, arousal=2.0).applied(MOOD, 5.5)
    assert calm.quadrant.number == 3 and calm.vad[:2] == (3.0, 2.0) and calm.intensity < 0
    assert CueOverride(intensity=-0.4).applied(MOOD, 5.5).intensity == -0.4
    assert CueOverride(seed=7).applied(MOOD, 5.5) == MOOD
    newer = CueOverride(quadrant=2, seed=3).merged(CueOverride(valence=8.0, arousal=2.0))
    assert newer == CueOverride(valence=8.0, arousal=2.0, seed=3)
    assert newer.describe() == "valence=8.0 arousal=2.0 seed=3"


def test_a_damaged_overrides_file_is_refused_by_name(tmp_path):
    path = tmp_path / "film.overrides.json"
    path.write_text(json.dumps({"video_id": "abc", "cues": {"2": {"mood": "sad"}}}))
    with pytest.raises(InvalidVideo, match=r"film\.overrides\.json"):
        load_overrides(path, "abc", [(0, 4), (4, 8)])


def test_the_composition_round_trips_and_a_damaged_one_is_composed_anew(tmp_path, caplog):
    steps = [np.arange(24, dtype=np.int64).reshape(3, 8), np.ones((5, 8), dtype=np.int64)]
    path = save_composition(tmp_path / "film.composition.npz", ["a", "b"], steps)
    stored = load_composition(path)
    assert list(stored) == ["a", "b"] and all(np.array_equal(stored[k], s) for k, s in zip("ab", steps, strict=True))
    path.write_bytes(path.read_bytes()[:40])
    assert load_composition(path) == {} and "composed anew" in caplog.text


def test_a_kept_segment_is_played_as_when_it_was_composed_and_the_next_goes_on_from_it_as_composed():
    """The composition file holds the steps before their intensity: a kept segment is played again at its own,
    and the segment after it composes from the same context as when both were composed fresh."""
    import torch

    from emoscore.config import parse_params
    from emoscore.film.plan import Segment
    from emoscore.film.soundtrack import compose_segments
    from emoscore.music.model import CPTransformer
    from tests.helpers import SMALL

    torch.manual_seed(0)
    model = CPTransformer(SMALL).eval()
    params = parse_params({"film": {"chunk_bars": 2, "context_bars": 1}})
    segments = [
        Segment((i,), 2, intensity, (16, 16, 16), 48 * i, (120.0,) * 12, "cut", 120.0)
        for i, intensity in enumerate((0.45, -0.3))
    ]
    played, composed = compose_segments(model, segments, [11, 12], generation=params.generation, film=params.film)
    assert not np.array_equal(played[0], composed[0])  # played louder than composed
    again, stored = compose_segments(
        model, segments, [11, 12], generation=params.generation, film=params.film, kept=[composed[0], None]
    )
    for a, b in zip((*played, *composed), (*again, *stored), strict=True):
        np.testing.assert_array_equal(a, b)


@given(
    scenes=st.lists(st.integers(0, 5000), min_size=1, max_size=4, unique=True),
    seed=st.integers(0, 2**32 - 1),
    settings=st.text(max_size=30),
)
def test_a_segment_key_says_which_scenes_it_is_of(scenes, seed, settings):
    """The report reads each stored segment's cue off its key: key_scenes undoes what segment_key wrote."""
    from emoscore.film.plan import Segment

    segment = Segment(tuple(sorted(scenes)), 3, -0.25, (16, 12), 96, (90.0,) * 7, "cut", 90.0)
    assert key_scenes(segment_key(segment, seed, settings)) == segment.scenes

"""The API's example in emoscore/api.py runs as written, in a folder with a params.yaml, a photo and an album."""

import doctest

import emoscore.api
from tests.helpers import photo, tiny_project


def test_the_api_docstring_runs_as_written(tmp_path, monkeypatch):
    tiny_project(tmp_path)
    photo(tmp_path / "photo.jpg")
    photo(tmp_path / "album" / "night.png", format="PNG")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOSCORE_MODELS", raising=False)
    result = doctest.testmod(emoscore.api, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0
    assert (tmp_path / "piece.mid").is_file()

"""The Python API: load a trained set, score photos, compose pieces (run as a doctest in tests/test_api_doc.py).

>>> from pathlib import Path
>>> from emoscore.api import load
>>> models = load()  # or load("~/emoscore-models"); None = $EMOSCORE_MODELS, else ./params.yaml
>>> rows = models.score(["photo.jpg", "album/"])  # one catalog row (a dict) per image
>>> [(Path(row["path"]).relative_to(Path.cwd()).as_posix(), row["status"], row["quadrant"]) for row in rows]
[('photo.jpg', 'ok', 'Q...'), ('album/night.png', 'ok', 'Q...')]
>>> piece = models.compose(valence=7.5, arousal=8.0, out="piece.mid")
>>> piece.midi_path.name, piece.midi_path.exists()
('piece.mid', True)
>>> models.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Self

from emoscore.catalog.location import canonical, is_remote
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import KEY, ImageFile, error_row, unreadable_file
from emoscore.config import Params
from emoscore.models_home import resolve_params
from emoscore.music.compose import Piece
from emoscore.music.continuation import MAX_BARS
from emoscore.scoring.listing import Skipped, hash_images, iter_library
from emoscore.scoring.object_library import PhotoStore
from emoscore.text import shown

MEDIA_COLUMNS = ("midi_path", "audio_path", "chart_path")


class Models:
    """A trained set, loaded on first use: scoring starts its worker processes once, composing loads the music
    model once. Close it (or use `with`) to stop the workers."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self._scorer = None

    def __repr__(self) -> str:
        workers = "running" if self._scorer is not None else "not started"
        return (
            f"<emoscore Models vad={shown(self.params.vad.out)} music={shown(self.params.music.out)} "
            f"device={self.params.score.device} workers {workers}>"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the scoring workers."""
        if self._scorer is not None:
            self._scorer.close()
            self._scorer = None

    @property
    def scorer(self):  # noqa: ANN201 (emoscore.scoring.scorer.Scorer, imported when first asked for)
        """The scorer of this set (models loaded on first use)."""
        if self._scorer is None:
            from emoscore.scoring.scorer import Scorer

            self._scorer = Scorer.from_params(self.params)
        return self._scorer

    def score(
        self,
        paths: Iterable[str | Path] | str | Path,
        catalog: str | Path | None = None,
        *,
        media: str | Path = "emoscore-media",
    ) -> list[dict]:
        """Rows for every image under `paths` (files or folders), in order, ok or error. With `catalog` the paths
        are scored into it as `emoscore score` does (what it holds already is not scored again; media paths stay
        relative to it, as stored); without, the MIDI, audio and charts are written under `media` (created) and
        the rows carry their absolute paths, which stay true after this process ends."""
        given = [paths] if isinstance(paths, str | Path) else paths
        paths = [str(place) if is_remote(place := canonical(path)) else Path(path).expanduser() for path in given]
        if catalog is not None:
            return self._score_into(Catalog(catalog, self.params.score.catalog_storage), paths)
        folder = Path(media).expanduser().absolute()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"media={shown(folder)}: is a file, not a folder")
        files, unreadable = self._list(paths, None, exclude=[folder])
        failed = [error_row(self.scorer.identity, file, reason) for file, reason in unreadable]
        folder.mkdir(parents=True, exist_ok=True)
        rows = self.scorer.score_files(files, folder) + failed
        for row in rows:
            row.update({column: str(folder / row[column]) for column in MEDIA_COLUMNS if row.get(column)})
        return rows

    def _list(
        self, paths: list[Path | str], catalog: Catalog | None, *, exclude: list[Path | str] | None = None
    ) -> tuple[list[ImageFile], list[tuple[ImageFile, str]]]:
        """The images under `paths` in order (never inside the catalog or `exclude`), and each file that cannot be
        read at all with the reason."""
        files: list[ImageFile] = []
        unreadable: list[tuple[ImageFile, str]] = []
        index = catalog.scan_index() if catalog is not None else None
        if catalog is not None:
            exclude = [*(exclude or []), str(catalog) if catalog.remote else catalog.root]
        store = PhotoStore.configured(self.params.score.catalog_storage)
        for path in paths:
            found = iter_library(path, self.params.score.follow_symlinks_outside, exclude=exclude or [], store=store)
            for item in hash_images(found, index, store=store):
                if isinstance(item, ImageFile):
                    files.append(item)
                elif not isinstance(item, Skipped):
                    unreadable.append((unreadable_file(item[0]), item[1]))
        return files, unreadable

    def _score_into(self, catalog: Catalog, paths: list[Path | str]) -> list[dict]:
        """One scoring run per path into the catalog, then the catalog's row of each image, in order."""
        from emoscore.scoring.run import LocalScoring, score_run

        with LocalScoring(self.scorer) as local:
            for path in paths:
                score_run(self.params, local.submit, library=path, catalog=catalog, progress=False)
        files, unreadable = self._list(paths, catalog)  # the runs' scan index spares reading the files again
        identity = self.scorer.identity
        stored = {
            row["image_id"]: row
            for row in catalog.read().to_pylist()
            if tuple(row[name] for name in KEY) == identity.key(row["image_id"])
        }
        return [stored[item.image_id] for item in files] + [
            stored.get(file.image_id) or error_row(identity, file, reason) for file, reason in unreadable
        ]

    def compose(
        self,
        quadrant: str | int | None = None,
        *,
        valence: float | None = None,
        arousal: float | None = None,
        bars: int | None = None,
        seed: int = 0,
        out: str | Path = "piece.mid",
        audio: str | Path | None = None,
    ) -> Piece:
        """Write a piece for a quadrant ('Q1'…'Q4') or for a (valence, arousal) on the 1–10 scale (which also
        sets its intensity within the quadrant): MIDI at `out`, audio at `audio` when given; `bars` defaults to
        params generation.bars, as `emoscore generate`'s does."""
        from emoscore.music.compose import compose_piece, music_model
        from emoscore.music.generate import parse_quadrant
        from emoscore.scoring.bridge import arousal_intensity, vad_to_quadrant

        midpoint = self.params.score.quadrant_midpoint
        if (valence is None) != (arousal is None) or (quadrant is None) == (valence is None):
            raise ValueError("give a quadrant, or a valence and an arousal (not both)")
        for name, value in (("valence", valence), ("arousal", arousal)):
            if value is not None and not 1 <= value <= 10:  # also refuses NaN
                raise ValueError(f"{name} must be on the 1–10 scale, got {value}")
        if bars is not None and (isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= MAX_BARS):
            raise ValueError(f"bars must be a whole number 1–{MAX_BARS}, got {bars!r}")
        if valence is not None:
            number, intensity = vad_to_quadrant(valence, arousal, midpoint).number, arousal_intensity(arousal, midpoint)
        else:
            number, intensity = parse_quadrant(quadrant), 0.0
        model = music_model(Path(self.params.music.out), self.params.score.device, self.params.emopia.vocabulary)
        length = self.params.generation.bars if bars is None else bars
        return compose_piece(
            model,
            number,
            length,
            seed=seed,
            generation=self.params.generation,
            midi_path=Path(out),
            audio_path=Path(audio) if audio else None,
            render=self.params.render,
            intensity=intensity,
        )


def load(models: str | Path | None = None, params: str | Path = "params.yaml") -> Models:
    """A trained set: the models home `models`, else $EMOSCORE_MODELS, else the project's `params`."""
    return Models(resolve_params(Path(params), Path(models).expanduser() if models else None))

"""Project exceptions: each names the file (or key) at fault and the reason, so a batch can log and move on."""

from __future__ import annotations

from pathlib import Path


class EmoscoreError(Exception):
    """Base class for every error emoscore raises on purpose."""

    def __reduce__(self) -> tuple:
        """Pickled whole, attributes and all: a worker process sends it back (BaseException's pickle calls the class
        with its message alone, which no subclass with arguments of its own accepts)."""
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(kind: type[EmoscoreError], args: tuple, state: dict) -> EmoscoreError:
    error = Exception.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(EmoscoreError):
    """params.yaml (or a CLI override) has a wrong key or value."""


class InvalidImage(EmoscoreError):
    """An image file cannot be decoded safely."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class InvalidAnnotation(EmoscoreError):
    """An annotation record (EMOTIC .mat/CSV row, EMOPIA label) cannot be used."""

    def __init__(self, where: str, reason: str, kind: str = "invalid") -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason
        self.kind = kind


class InvalidMidi(EmoscoreError):
    """A MIDI file cannot be read or holds nothing we can tokenise."""

    def __init__(self, path: Path | str, reason: str, kind: str = "unreadable") -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.kind = kind


class CheckpointError(EmoscoreError):
    """A checkpoint is unsafe (pickle payload), malformed, or of the wrong architecture."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class InvalidVideo(EmoscoreError):
    """A video file (or a film's stills and timecodes) cannot be read through to the end."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

"""Whether a location names an object store, and its canonical spelling: importable without Arrow, so the command
line and params' validation can ask before anything heavy loads."""

from __future__ import annotations

from pathlib import Path


def is_remote(location: str | Path) -> bool:
    """Whether a catalog or library location names an object store rather than a local path."""
    return str(location).startswith("s3://")


def canonical(location: str | Path) -> str | Path:
    """A location as the rest of emoscore reads it: a URI's scheme is case-insensitive (RFC 3986), so `S3://b/p`
    is `s3://b/p`; anything else as given."""
    text = str(location)
    return "s3://" + text[5:] if text[:5].lower() == "s3://" else location

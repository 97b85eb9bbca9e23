"""Content hashes of files: an image's id in the catalog, and which weights produced a row."""

from __future__ import annotations

import hashlib
from pathlib import Path

from emoscore.errors import CheckpointError

HASH_BLOCK = 1 << 20


def file_sha256(path: Path) -> tuple[str, int]:
    """Content hash and size of a file, read in blocks (memory stays flat for any size)."""
    digest, size = hashlib.sha256(), 0
    with Path(path).open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


_KNOWN: dict[tuple[str, int, int, int], str] = {}  # (path, size, mtime_ns, inode) → digest, for this process


def model_digest(path: Path) -> str:
    """Short sha256 of a weights file: which model produced a row. A file unchanged since this process hashed it
    (same size, modification time and inode) is not read again: every command checks its models' digests."""
    try:
        stat = Path(path).stat()
        seen = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if seen not in _KNOWN:
            _KNOWN[seen] = file_sha256(Path(path))[0][:16]
        return _KNOWN[seen]
    except OSError as error:
        reason = f"{error.strerror or error} (train it with `dvc repro`, or point params.yaml at your checkpoint)"
        raise CheckpointError(path, reason) from None

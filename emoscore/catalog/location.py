"""Where a catalog lives: a local folder (the default, embedded) or `s3://bucket/prefix` on any S3-compatible store.

One set of storage options serves delta-rs (the tables) and Arrow's S3 file system (media, reads): the standard
AWS environment variables, overlaid by `score.catalog_storage` from params.yaml. Options are never logged: a
location prints as its URI only.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

from emoscore.catalog.table import CatalogError
from emoscore.catalog.uri import canonical, is_remote
from emoscore.text import shown

ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_S3_LOCKING_PROVIDER",
)


# what delta-rs cannot hold in a local table's path (deltalake 1.6.6): control characters are refused, `[`, `]`,
# `^` and `|` make it panic, `\` is read as a separator and `%XX` is decoded; it canonicalises symlinks, so an
# alias with a plain name does not help
UNUSABLE = re.compile(r"[\x00-\x1f\x7f\[\]^|\\]|%[0-9A-Fa-f]{2}")


SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")  # a URI (s3://, gs://, file:/…), never a folder


class StorageError(CatalogError):
    """A store cannot be reached or used (wrong credentials, a missing bucket, a server down)."""


def storage_options(configured: Mapping[str, str] | None = None) -> dict[str, str]:
    """The options delta-rs takes for an S3 store: the AWS environment, then params' `catalog_storage`. Commits
    use conditional puts (If-None-Match), which AWS S3 and the S3-compatible stores (MinIO, R2, Ceph) honour, so
    no lock service is needed; `AWS_S3_LOCKING_PROVIDER: dynamodb` in params chooses delta-rs's DynamoDB lock."""
    options = {name: os.environ[name] for name in ENVIRONMENT if os.environ.get(name)}
    if not options.get("AWS_REGION") and os.environ.get("AWS_DEFAULT_REGION"):
        options["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    options.update(
        {str(key).upper() if key.lower().startswith("aws_") else key: str(v) for key, v in (configured or {}).items()}
    )
    options.setdefault("AWS_REGION", "us-east-1")
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options.setdefault("AWS_ALLOW_HTTP", "true")
    if "AWS_S3_LOCKING_PROVIDER" not in options:
        options.setdefault("conditional_put", "etag")
    return options


@dataclass(frozen=True)
class Location:
    """A catalog's place: `uri` as the user wrote it (a local path is made absolute only where it must be)."""

    uri: str
    options: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, where: str | Path, configured: Mapping[str, str] | None = None) -> Location:
        """A location from a path or URI; options only for a remote one."""
        text = str(canonical(where))
        if is_remote(text):
            bucket = text.removeprefix("s3://").split("/", 1)[0]
            if not bucket:
                raise CatalogError(f"{text}: an S3 catalog is s3://BUCKET/PREFIX")
            return cls(text.rstrip("/"), storage_options(configured))
        if SCHEME.match(text):  # gs://, file:/… — not a folder, and not s3://
            raise CatalogError(f"{text}: a catalog is a local folder or s3://bucket/prefix")
        path = str(Path(text).expanduser())
        try:  # Arrow, DuckDB and delta-rs take paths as UTF-8 text: other bytes could not be read back
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise CatalogError(
                f"{shown(Path(path))}: a catalog's path must be UTF-8 text (the photos' need not)"
            ) from None
        if UNUSABLE.search(str(Path(path).absolute())):
            raise CatalogError(
                f"{shown(Path(path))}: a catalog's path cannot hold control characters, [ ] ^ | \\ or %XX "
                "(Delta Lake's delta-rs cannot open such a folder); choose another (the photos' names are free)"
            )
        return cls(path)

    @property
    def remote(self) -> bool:
        """Whether the catalog is on an object store."""
        return is_remote(self.uri)

    def __str__(self) -> str:
        return self.uri

    def join(self, *parts: str) -> str:
        """A path or URI under the location."""
        return "/".join([self.uri.rstrip("/"), *parts]) if self.remote else str(Path(self.uri, *parts))

    def filesystem(self) -> pafs.FileSystem:
        """Arrow's file system for this location (paths for it come from `fs_path`)."""
        if not self.remote:
            return pafs.LocalFileSystem()
        endpoint = self.options.get("AWS_ENDPOINT_URL")
        scheme = "http" if endpoint and endpoint.startswith("http://") else "https"
        return pafs.S3FileSystem(
            access_key=self.options.get("AWS_ACCESS_KEY_ID"),
            secret_key=self.options.get("AWS_SECRET_ACCESS_KEY"),
            session_token=self.options.get("AWS_SESSION_TOKEN"),
            region=self.options.get("AWS_REGION"),
            endpoint_override=endpoint.split("://", 1)[-1] if endpoint else None,
            scheme=scheme,
            connect_timeout=5,
            request_timeout=30,
        )

    def fs_path(self, uri: str) -> str:
        """A URI under this location as its file system names it (`bucket/key` on S3)."""
        return uri.removeprefix("s3://") if self.remote else uri.removeprefix("file://")

    def cache_name(self) -> str:
        """A short stable name for machine-local state about a remote catalog (its scan index, its lock)."""
        return hashlib.sha256(self.uri.encode()).hexdigest()[:16]


def absolute_catalog(where: str | Path) -> str:
    """A catalog location that means the same from any folder (a URI as it is, a path made absolute)."""
    text = str(where)
    return text if SCHEME.match(text) else str(Path(text).expanduser().resolve())


def local_state_folder(location: Location) -> Path:
    """Where this machine keeps what it knows of a remote catalog: the scan index (inode and mtime describe this
    machine's files, meaningless to another host) and the advisory lock."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emoscore" / "catalogs"
    return base / location.cache_name()

"""A photo library on an S3-compatible store (`s3://bucket/prefix`): its objects listed with size and ETag, read
whole, hashed as a stream.

boto3 lists and reads: Arrow's and delta-rs's S3 file systems report no ETag, and the ETag (with the size) is what
the scan index knows an unchanged or copied object by without reading it, as inode and mtime are on a disk. The
options are the catalog's (the AWS environment overlaid by `score.catalog_storage`), never logged.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from emoscore.catalog.location import StorageError, is_remote, storage_options
from emoscore.digests import HASH_BLOCK
from emoscore.errors import InvalidImage

log = logging.getLogger(__name__)
OBJECT_READERS = 8  # objects read at once: each read waits on the network, not a core


@dataclass(frozen=True)
class StoredObject:
    """One object under a library prefix as the listing gave it."""

    uri: str
    size: int
    etag: str
    mtime_ns: int


class ObjectMissing(Exception):
    """The object is gone (deleted since the listing)."""


class HiddenOptions(dict):
    """Storage options as they travel to worker processes: a dict that never prints its values."""

    def __repr__(self) -> str:
        return f"<{len(self)} storage options>"


# refusals about the whole store, not one object: the run stops (exit 2) and the next run finishes the work,
# rather than every object getting an error row that a later run would count as done
STORE_CODES = frozenset(
    {
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "InternalError",
    }
)
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def store_down(error: Exception) -> bool:
    """Whether a failure is the store's (unreachable, throttling, 5xx, credentials, no bucket), not the object's."""
    from botocore.exceptions import BotoCoreError

    response = getattr(error, "response", None)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if isinstance(response, dict) else 0
    return isinstance(error, BotoCoreError) or _code(error) in STORE_CODES or int(status or 0) >= 500


def split(uri: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@functools.cache
def _client(options: frozenset[tuple[str, str]]):  # botocore's generated S3 client class: no type to name
    """One S3 client per set of options in this process (clients are thread-safe)."""
    import boto3
    from botocore.config import Config

    settings = dict(options)
    endpoint = settings.get("AWS_ENDPOINT_URL")
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=settings.get("AWS_REGION"),
        aws_access_key_id=settings.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=settings.get("AWS_SESSION_TOKEN"),
        config=Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 5},
            s3={"addressing_style": "path"} if endpoint else {},  # MinIO, Ceph, moto: buckets are not host names
            max_pool_connections=32,
        ),
    )


def _reason(error: Exception) -> str:
    """A store's refusal in a few words (its error code and message), never the options."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        detail = response["Error"]
        return f"{detail.get('Code', 'error')}: {detail.get('Message') or 'refused by the store'}"
    return str(error) or type(error).__name__


def _unavailable(uri: str, error: Exception) -> StorageError:
    return StorageError(f"{uri}: the store cannot be read ({_reason(error)}); run again when it is back")


@dataclass(frozen=True)
class PhotoStore:
    """The store an `s3://` library lives on, with its options (kept out of repr and logs)."""

    options: dict[str, str] = field(repr=False)

    @classmethod
    def configured(cls, storage: Mapping[str, str] | None = None) -> PhotoStore:
        """The store as the AWS environment and params' `catalog_storage` describe it."""
        return cls(storage_options(storage))

    @property
    def client(self):  # noqa: ANN201 (botocore's generated S3 client class)
        """This process's S3 client for these options."""
        return _client(frozenset(self.options.items()))

    def list(self, root: str) -> Iterator[StoredObject]:
        """Every object under `root` (a prefix, taken as a folder; or one object's own URI), in key order.
        InvalidImage naming `root` when it cannot be listed or holds nothing."""
        bucket, prefix = split(root.rstrip("/"))
        if not bucket:
            raise InvalidImage(root, "a library on a store is s3://BUCKET/PREFIX")
        found = False
        try:
            single = self._head(bucket, prefix) if prefix else None
            if single is not None:
                yield self._object(bucket, prefix, single["ContentLength"], single["ETag"], single["LastModified"])
                return
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
            )
            for page in pages:
                for entry in page.get("Contents", []):
                    found = True
                    yield self._object(bucket, entry["Key"], entry["Size"], entry["ETag"], entry["LastModified"])
        except InvalidImage:
            raise
        except Exception as error:  # botocore's errors: no bucket, refused credentials, a store down
            raise InvalidImage(root, f"library cannot be listed ({_reason(error)})") from None
        if not found:
            raise InvalidImage(root, "library not found (no objects under this prefix)")

    @staticmethod
    def _object(bucket: str, key: str, size: int, etag: str, modified: object) -> StoredObject:
        mtime_ns = int(modified.timestamp() * 1e9) if hasattr(modified, "timestamp") else 0
        return StoredObject(f"s3://{bucket}/{key}", int(size), str(etag).strip('"'), mtime_ns)

    def _head(self, bucket: str, key: str) -> dict | None:
        """The object's metadata, or None when there is no such object (a prefix, or a key gone)."""
        try:
            return self.client.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            if _code(error) in MISSING_CODES:
                return None
            raise

    def exists(self, uri: str) -> bool:
        """Whether the object is there (a store that cannot be asked counts as there: nothing is rewritten)."""
        try:
            return self._head(*split(uri)) is not None
        except Exception as error:
            log.debug("%s: cannot be checked (%s)", uri, _reason(error))
            return True

    def read(self, uri: str) -> bytes:
        """The object's bytes; InvalidImage naming it when it cannot be read, StorageError when the store is down."""
        bucket, key = split(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            if store_down(error):
                raise _unavailable(uri, error) from None
            raise InvalidImage(uri, f"cannot read: {_reason(error)}") from None

    def sha256(self, uri: str) -> tuple[str, int, str]:
        """Content hash, size and ETag of the bytes read (streamed: memory stays flat). ObjectMissing when it is
        gone, OSError with the store's reason when it refuses the object, StorageError when the store is down."""
        bucket, key = split(uri)
        digest, size = hashlib.sha256(), 0
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            for block in response["Body"].iter_chunks(HASH_BLOCK):
                digest.update(block)
                size += len(block)
        except Exception as error:
            if _code(error) in MISSING_CODES:
                raise ObjectMissing(uri) from None
            if store_down(error):
                raise _unavailable(uri, error) from None
            raise OSError(_reason(error)) from None
        return digest.hexdigest(), size, str(response.get("ETag", "")).strip('"')


def check_library(root: str, storage: Mapping[str, str] | None = None) -> None:
    """Refuse, before any model is loaded, an s3:// library that cannot be listed or holds nothing."""
    next(PhotoStore.configured(storage).list(root))


def read_object(path: str, storage: Mapping[str, str] | None = None) -> bytes | None:
    """The bytes of an s3:// library's object (InvalidImage naming it when unreadable); None for a file on disk,
    which the decoder opens itself."""
    return PhotoStore.configured(storage).read(path) if is_remote(path) else None

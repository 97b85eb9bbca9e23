"""A photo library on an S3-compatible store (moto's server on 127.0.0.1): scored like a folder of the same photos,
unchanged or copied objects known by size and ETag without being read, a corrupt object costing only its own row,
emoscore's own prefixes left alone, and a missing bucket or prefix refused in one line."""

import json
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from emoscore.catalog.gallery import write_gallery
from emoscore.catalog.scan_index import INDEX_FILE, ScanIndex
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import GALLERY_MARKER, Identity, error_row
from emoscore.scoring import object_library
from emoscore.scoring.library import score_library
from emoscore.scoring.listing import iter_library
from emoscore.scoring.object_library import PhotoStore, StoredObject
from emoscore_flows.cli import app
from tests.helpers import Now, photo, read_catalog, score_local

runner = CliRunner()
IDENTITY = Identity("vad", "music", "params")


def client(server):
    environment = server.environment()
    return boto3.client(
        "s3",
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def upload(s3_client, folder: Path, bucket: str, prefix: str) -> None:
    """Every file under `folder` as an object under `prefix`, at its relative path."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3_client.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(folder)}", Body=path.read_bytes())


@pytest.fixture
def bucket(s3, s3_server):
    """The fresh bucket of the `s3` fixture (its AWS environment set)."""
    return s3.removeprefix("s3://").split("/")[0]


def counted_reads(monkeypatch) -> list[str]:
    """The keys this process reads whole to hash them, from now on."""
    reads: list[str] = []
    real = PhotoStore.sha256
    monkeypatch.setattr(PhotoStore, "sha256", lambda self, uri: reads.append(uri.rsplit("/", 1)[-1]) or real(self, uri))
    return reads


def test_a_store_library_gets_the_rows_of_the_same_photos_on_disk(project, s3_server, bucket, tmp_path):
    folder = tmp_path / "photos"
    for index in range(4):
        photo(folder / "album" / f"{index}.jpg", size=(60 + 5 * index, 44))
    photo(folder / "top.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (folder / "raw.CR2").write_bytes(b"raw")
    (folder / "notes.txt").write_text("not a photo")
    upload(client(s3_server), folder, bucket, "library")
    params = str(project / "params.yaml")
    score_local(folder, tmp_path / "disk", params, progress=False)
    library = f"s3://{bucket}/library"
    result = runner.invoke(
        app, ["score", library, "--catalog", str(tmp_path / "store"), "--no-prefect", "--json", "--params", params]
    )
    assert result.exit_code == 1, result.output  # the broken object failed; its error row is in
    summary = json.loads(result.output[result.output.index("{") :])
    assert (summary["scored"], summary["failed"], summary["library"]) == (5, 1, library)
    assert summary["skipped"] == {"camera RAW file": 1}
    disk = {row["image_id"]: row for row in read_catalog(tmp_path / "disk").to_pylist()}
    store = {row["image_id"]: row for row in read_catalog(tmp_path / "store").to_pylist()}
    assert disk.keys() == store.keys() and len(store) == 6
    for image_id, here in disk.items():
        there = store[image_id]
        assert there["path"] == f"{library}/{Path(here['path']).relative_to(folder)}"
        assert there["library"] == library
        for column in ("status", "quadrant", "width", "height", "error"):
            assert here[column] == there[column], column
        if here["status"] == "ok":
            assert abs(here["valence"] - there["valence"]) < 1e-5
            assert (tmp_path / "disk" / here["midi_path"]).read_bytes() == (
                tmp_path / "store" / there["midi_path"]
            ).read_bytes()
    page = write_gallery(read_catalog(tmp_path / "store"), Catalog(tmp_path / "store"), tmp_path / "gallery")
    assert page.exists() and len(list((tmp_path / "gallery" / "thumbs").glob("*.jpg"))) == 5  # read from the store


def test_unchanged_and_copied_objects_are_not_read_again_and_a_changed_one_is(s3_server, bucket, tmp_path, monkeypatch):
    s3_client = client(s3_server)
    for name in ("a", "b", "c"):
        s3_client.put_object(Bucket=bucket, Key=f"lib/{name}.jpg", Body=name.encode() * 500)
    library, catalog = f"s3://{bucket}/lib", Catalog(tmp_path / "catalog")

    def a_pass():
        rows = lambda files: Now([error_row(IDENTITY, file, "stand-in") for file in files])  # noqa: E731
        return score_library(library, catalog, IDENTITY, rows, chunk_size=50, progress=False)

    first = a_pass()
    assert first.failed == 3
    reads = counted_reads(monkeypatch)
    assert a_pass().already_done == 3 and reads == []  # known by size and ETag: nothing read
    s3_client.copy_object(Bucket=bucket, Key="lib/moved/a.jpg", CopySource={"Bucket": bucket, "Key": "lib/a.jpg"})
    s3_client.delete_object(Bucket=bucket, Key="lib/a.jpg")
    s3_client.put_object(Bucket=bucket, Key="lib/b.jpg", Body=b"changed" * 300)
    third = a_pass()
    assert reads == ["b.jpg"]  # the copy keeps its ETag; the rewritten object is hashed again
    assert (third.moved, third.failed, third.already_done) == (1, 1, 2)
    paths = {row["path"] for row in read_catalog(tmp_path / "catalog").to_pylist()}
    assert f"{library}/moved/a.jpg" in paths and f"{library}/a.jpg" not in paths
    index = ScanIndex.load(tmp_path / "catalog")
    assert {Path(uri).name for uri in index.entries} == {"a.jpg", "b.jpg", "c.jpg"}
    assert all(entry.etag and entry.inode == 0 for entry in index.entries.values())


def test_emoscore_own_prefixes_and_the_catalog_inside_the_library_are_left_alone(
    project, s3_server, bucket, tmp_path, monkeypatch
):
    s3_client = client(s3_server)
    folder = tmp_path / "photos"
    photo(folder / "a.jpg")
    photo(folder / "gallery" / "thumbs" / "x.jpg")
    (folder / "gallery" / GALLERY_MARKER).write_bytes(b"")
    photo(folder / "old-catalog" / "charts" / "c.jpg")
    (folder / "old-catalog" / "images" / "_delta_log").mkdir(parents=True)
    (folder / "old-catalog" / "images" / "_delta_log" / "00000000000000000000.json").write_text("{}")
    upload(s3_client, folder, bucket, "lib")
    store = PhotoStore.configured()
    found = list(iter_library(f"s3://{bucket}/lib", store=store, exclude=[f"s3://{bucket}/lib/run-catalog"]))
    assert [item.uri.rsplit("/", 1)[-1] for item in found if isinstance(item, StoredObject)] == ["a.jpg"]
    params = str(project / "params.yaml")
    catalog = f"s3://{bucket}/lib/catalog"  # a store catalog inside the store library: never scored as photos
    for _ in range(2):
        command = ["score", f"s3://{bucket}/lib", "--catalog", catalog, "--no-prefect", "--json", "--params", params]
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert (summary["scored"], summary["already_done"]) == (0, 1)
    assert [Path(row["path"]).name for row in read_catalog(catalog).to_pylist()] == ["a.jpg"]


def test_a_missing_bucket_or_prefix_is_one_line_and_writes_nothing(project, s3_server, bucket, tmp_path):
    params = str(project / "params.yaml")
    for library, reason in (
        ("s3://no-such-bucket-here/photos", "cannot be listed (NoSuchBucket"),
        (f"s3://{bucket}/nothing-here", "library not found (no objects under this prefix)"),
        (f"S3://{bucket}/nothing-here", "library not found (no objects under this prefix)"),  # not a folder
    ):
        result = runner.invoke(
            app, ["score", library, "--catalog", str(tmp_path / "catalog"), "--no-prefect", "--params", params]
        )
        assert result.exit_code == 2, result.output
        said = "s3://" + library[5:]
        assert said in result.output and reason in result.output and "Traceback" not in result.output
    assert not (tmp_path / "catalog" / "images").exists()


def test_an_object_gone_or_unreadable_costs_only_its_own_row(s3_server, bucket, tmp_path, monkeypatch):
    s3_client = client(s3_server)
    for name in ("a", "b", "c"):
        s3_client.put_object(Bucket=bucket, Key=f"lib/{name}.jpg", Body=name.encode() * 100)
    real = PhotoStore.sha256

    def flaky(self, uri):
        if uri.endswith("a.jpg"):
            s3_client.delete_object(Bucket=bucket, Key="lib/a.jpg")  # removed between listing and reading
        if uri.endswith("b.jpg"):
            raise OSError("AccessDenied: Access Denied")
        return real(self, uri)

    monkeypatch.setattr(PhotoStore, "sha256", flaky)
    rows = lambda files: Now([error_row(IDENTITY, file, "stand-in") for file in files])  # noqa: E731
    summary = score_library(f"s3://{bucket}/lib", Catalog(tmp_path / "c"), IDENTITY, rows, progress=False)
    assert summary.skipped == {"removed before it was read": 1}
    errors = {Path(row["path"]).name: row["error"] for row in read_catalog(tmp_path / "c").to_pylist()}
    assert errors == {"b.jpg": "cannot read: AccessDenied: Access Denied", "c.jpg": "stand-in"}
    with pytest.raises(Exception, match=r"lib/gone\.jpg: cannot read: NoSuchKey"):
        object_library.read_object(f"s3://{bucket}/lib/gone.jpg")


def test_a_scan_index_written_before_store_libraries_still_reads(tmp_path):
    old = pa.table(
        {
            "path": [b"/photos/a.jpg"],
            "size": pa.array([10], pa.int64()),
            "mtime_ns": pa.array([5], pa.int64()),
            "inode": pa.array([7], pa.int64()),
            "image_id": ["abc"],
        }
    )
    pq.write_table(old, tmp_path / INDEX_FILE)
    index = ScanIndex.load(tmp_path)
    assert index.entries["/photos/a.jpg"].image_id == "abc" and index.entries["/photos/a.jpg"].etag is None
    index.record_object("s3://b/lib/x.jpg", 3, '"e1"', 0, "def")
    index.save(tmp_path, "s3://b/lib")
    again = ScanIndex.load(tmp_path)
    assert again.known_object("s3://b/lib/elsewhere.jpg", 3, '"e1"') == "def"  # a copy: same size and ETag
    assert again.known_object("s3://b/lib/x.jpg", 4, '"e1"') is None
    assert again.entries["/photos/a.jpg"].image_id == "abc"  # another library's entries are kept


def test_params_and_serve_keep_a_store_library_a_uri(tmp_path):
    from emoscore.config import parse_params
    from emoscore_flows.serve import ServeJob

    assert parse_params({"score": {"library": "s3://bucket/photos/"}}).score.library == "s3://bucket/photos"
    assert parse_params({"score": {"library": "S3://bucket/photos"}}).score.library == "s3://bucket/photos"
    assert parse_params({"score": {"library": "photos"}}).score.library == Path("photos")
    job = ServeJob("s3://bucket/photos", None, tmp_path / "params.yaml", "tick")
    assert job.parameters()["library"] == "s3://bucket/photos"  # not made a folder (which would read s3:/bucket)


def test_the_api_scores_a_store_library_with_and_without_a_catalog(project, s3_server, bucket, tmp_path):
    from emoscore import api

    s3_client = client(s3_server)
    photo(tmp_path / "a.jpg")
    s3_client.put_object(Bucket=bucket, Key="lib/a.jpg", Body=(tmp_path / "a.jpg").read_bytes())
    s3_client.put_object(Bucket=bucket, Key="lib/bad.jpg", Body=b"\xff\xd8 no")
    models = api.load(params=project / "params.yaml")
    loose = models.score(f"s3://{bucket}/lib", media=tmp_path / "media")
    into = models.score(f"S3://{bucket}/lib", catalog=tmp_path / "catalog")  # a URI's scheme in any case
    for rows in (loose, into):
        assert [(Path(row["path"]).name, row["status"]) for row in rows] == [("a.jpg", "ok"), ("bad.jpg", "error")]
        assert rows[0]["path"] == f"s3://{bucket}/lib/a.jpg"
    assert loose[0]["quadrant"] == into[0]["quadrant"]


def unreachable(real):
    """A PhotoStore method called against a store nothing answers (connection refused): the store is down."""

    def call(self, uri):
        return real(PhotoStore({**self.options, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}), uri)

    return call


def test_a_store_down_mid_run_writes_no_row_and_the_next_run_finishes(
    project, s3_server, bucket, tmp_path, monkeypatch
):
    s3_client = client(s3_server)
    for index in range(3):
        photo(tmp_path / f"{index}.jpg", size=(50 + index, 40))
        s3_client.put_object(Bucket=bucket, Key=f"lib/{index}.jpg", Body=(tmp_path / f"{index}.jpg").read_bytes())
    library, params = f"s3://{bucket}/lib", str(project / "params.yaml")
    command = ["score", library, "--catalog", str(tmp_path / "catalog"), "--no-prefect", "--params", params]
    for step in ("sha256", "read"):  # down while the driver hashes, then (hashes known) while the workers read
        real = getattr(PhotoStore, step)
        monkeypatch.setattr(PhotoStore, step, unreachable(real))
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (step, result.output)
        assert "the store cannot be read" in result.output and "Traceback" not in result.output
        assert not Catalog(tmp_path / "catalog").exists() or len(read_catalog(tmp_path / "catalog")) == 0
        monkeypatch.setattr(PhotoStore, step, real)
    done = runner.invoke(app, [*command, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[done.output.index("{") :])["scored"] == 3


def test_a_refused_object_is_a_row_but_a_refusing_store_stops_the_run():
    from botocore.exceptions import ClientError, EndpointConnectionError

    def refusal(code, status):
        return ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Get"
        )

    assert object_library.store_down(EndpointConnectionError(endpoint_url="http://x"))
    for code, status in (("SlowDown", 503), ("InternalError", 500), ("InvalidAccessKeyId", 403), ("NoSuchBucket", 404)):
        assert object_library.store_down(refusal(code, status)), code
    for code, status in (("AccessDenied", 403), ("NoSuchKey", 404), ("InvalidObjectState", 403)):
        assert not object_library.store_down(refusal(code, status)), code


def test_a_missing_bucket_is_refused_before_prefect_or_a_model_starts(project, tmp_path, s3_server, bucket):
    params = str(project / "params.yaml")
    result = runner.invoke(app, ["score", "s3://no-such-bucket-here/x", "--prefect", "--params", params])
    assert result.exit_code == 2 and "NoSuchBucket" in result.output and "Traceback" not in result.output
    assert "Encountered exception" not in result.output

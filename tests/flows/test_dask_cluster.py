"""Scoring on a real Dask cluster: a scheduler and two workers as separate processes over TCP on 127.0.0.1, the
command run from another folder, into a catalog on disk and into one on an S3 server (the workers write media
straight to the store; the driver commits once per chunk), and from a library on that server (the workers read the
photos from it), the same rows as a local run."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import assert_same_catalogs, photo, score_local
from tests.s3 import free_port

BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.parametrize("store", ["disk", "s3", "s3-library"])
def test_a_two_worker_tcp_cluster_gives_the_rows_of_a_local_run(project, tmp_path, store, request):
    library, elsewhere = tmp_path / "library", tmp_path / "elsewhere"
    for index in range(7):
        photo(library / f"p{index}.jpg", size=(60 + index, 48))
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    elsewhere.mkdir()
    catalog = str(tmp_path / "dask") if store == "disk" else request.getfixturevalue("s3")  # sets the AWS environment
    if store == "s3-library":  # the photos too live in the store: driver lists and hashes, workers read them
        import boto3

        bucket = catalog.removeprefix("s3://").split("/")[0]
        s3_client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
        for path in sorted(library.iterdir()):
            s3_client.put_object(Bucket=bucket, Key=f"photos/{path.name}", Body=path.read_bytes())
        library = f"s3://{bucket}/photos"
    address = f"tcp://127.0.0.1:{free_port()}"
    environment = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": environment, "cwd": tmp_path}
    scheduler = subprocess.Popen(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":")[-1], "--no-dashboard"], **quiet
    )
    workers = [
        subprocess.Popen([BIN / "dask", "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
        for _ in range(2)
    ]
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        started = time.monotonic()
        command = [
            BIN / "emoscore",
            "score",
            library,
            "--dask",
            address,
            "--catalog",
            catalog,
            "--params",
            project / "params.yaml",
            "--json",
        ]
        result = subprocess.run(command, cwd=elsewhere, capture_output=True, text=True, env=environment, timeout=600)
        assert result.returncode == 1, result.stderr[-2000:]  # the broken file fails; the rest scored
        summary = json.loads(result.stdout)
        assert (summary["scored"], summary["failed"]) == (7, 1), summary
        assert time.monotonic() - started < 600
    finally:
        for process in (*workers, scheduler):
            process.terminate()
        for process in (*workers, scheduler):
            process.wait(timeout=60)
    local = score_local(str(library), str(tmp_path / "local"), str(project / "params.yaml"), progress=False)
    assert (local["scored"], local["failed"]) == (7, 1)
    assert_same_catalogs(tmp_path / "local", catalog)
    if store != "disk":  # one commit per chunk from the driver, not one per worker
        from emoscore.catalog.store import Catalog

        merges = [entry for entry in Catalog(catalog).history() if entry["operation"] == "MERGE"]
        assert len(merges) == 3 and sum(entry["rows_added"] for entry in merges) == 8  # chunks of 3, 3 and 2

"""The scoring flow under Prefect: scores, skips what is done, and skips a run rather than overlap another."""

import json
import os
import subprocess
import sys

from tests.helpers import assert_same_catalogs, photo, read_catalog

HOLD = """
import sys, time
from pathlib import Path
from emoscore.catalog.table import catalog_lock
with catalog_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_score_flow_then_rerun_then_busy(prefect_harness, project, tmp_path):
    from emoscore_flows.score_images import score_images

    library, catalog = tmp_path / "library", tmp_path / "catalog"
    for name in ("a.jpg", "b.png", "c.webp"):
        photo(library / name)
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    params = str(project / "params.yaml")
    first = score_images(
        library=str(library), catalog=str(catalog), params_path=params, report=str(tmp_path / "r.json")
    )
    assert (first["scored"], first["failed"]) == (3, 1)
    rows = read_catalog(catalog).to_pylist()
    assert len({row["flow_run_id"] for row in rows}) == 1 and rows[0]["flow_run_id"]
    second = score_images(library=str(library), catalog=str(catalog), params_path=params)
    assert (second["scored"], second["already_done"]) == (0, 4)
    environment = {**os.environ, "PYTHONPATH": "."}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(catalog)], stdout=subprocess.PIPE, text=True, env=environment
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        busy = score_images(library=str(library), catalog=str(catalog), params_path=params, wait_for_lock=False)
    finally:
        holder.kill()
        holder.wait()
    assert "another scoring run" in busy["skipped_run"]


def test_dask_run_gives_the_same_rows_as_a_local_run(prefect_harness, project, tmp_path):
    from emoscore_flows.score_images import dask_task_runner, score_images

    library = tmp_path / "library"
    for index in range(4):
        photo(library / f"p{index}.jpg")
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    params = str(project / "params.yaml")
    local = score_images(library=str(library), catalog=str(tmp_path / "local"), params_path=params)
    on_dask = score_images.with_options(task_runner=dask_task_runner("local:2"))(
        library=str(library), catalog=str(tmp_path / "dask"), params_path=params
    )
    assert (local["scored"], local["failed"]) == (on_dask["scored"], on_dask["failed"]) == (4, 1)
    assert_same_catalogs(tmp_path / "local", tmp_path / "dask")


def test_score_command_exit_codes_and_json_summary(prefect_harness, project, tmp_path):
    from typer.testing import CliRunner

    from emoscore_flows.cli import app

    library, catalog = tmp_path / "library", tmp_path / "catalog"
    photo(library / "a.jpg")
    arguments = ["score", str(library), "--catalog", str(catalog), "--params", str(project / "params.yaml"), "--json"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scored"] == 1
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1  # some images failed
    summary = json.loads(result.stdout)
    assert (summary["scored"], summary["failed"], summary["already_done"]) == (0, 1, 1)
    result = CliRunner().invoke(app, [*arguments[:-1], "--retry-errors", "--bogus"])
    assert result.exit_code == 2  # usage
    result = CliRunner().invoke(app, ["score", str(library), "--params", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2 and "not found" in result.output  # setup

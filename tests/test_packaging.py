"""What `pip install` puts into site-packages: the core and the Prefect layer under names of their own, every
subpackage of the core, and a console script that starts from the installed copy."""

import shutil
import subprocess
import sys
import zipfile

from tests.helpers import PROJECT


def test_the_wheel_installs_no_generic_top_level_names(tmp_path):
    source = tmp_path / "source"  # a copy: setuptools builds in the source tree (build/, *.egg-info)
    for name in ("emoscore", "flows", "tasks"):
        shutil.copytree(PROJECT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("emoscore-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"emoscore", "emoscore_flows", "emoscore_tasks"}
    packages = {str(p.parent.relative_to(PROJECT)) for p in (PROJECT / "emoscore").rglob("__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= set(names)  # no subpackage left behind
    assert {"emoscore_flows/cli.py", "emoscore_flows/score_images.py", "emoscore_tasks/score.py"} <= set(names)
    assert "emoscore = emoscore_flows.cli:main" in zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))
    ).decode().replace("\r", "")
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    started = subprocess.run(
        [sys.executable, "-c", "import emoscore_flows.cli, emoscore_tasks; print(emoscore_flows.cli.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert started.stdout.strip() == str(target / "emoscore_flows" / "cli.py")

"""dvc.yaml tells the truth: every stage depends on exactly the project code it imports and on the data it reads,
and the core library never reaches up into flows or tasks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
FOLDERS = {"emoscore": "emoscore", "emoscore_flows": "flows", "emoscore_tasks": "tasks"}  # pyproject's package-dir
IMPORT_NAMES = {folder: name for name, folder in FOLDERS.items()}
PACKAGES = tuple(FOLDERS.values())


def module_file(name: str) -> Path | None:
    """The project file of a dotted module name (a package's __init__.py), or None when it is not ours."""
    top, *rest = name.split(".")
    if top not in FOLDERS:
        return None
    base = PROJECT.joinpath(FOLDERS[top], *rest)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included), as dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    folder, *inner = path.relative_to(PROJECT).with_suffix("").parts[:-1]
    package = ".".join([IMPORT_NAMES[folder], *inner])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def import_closure(module: str) -> set[Path]:
    """Project files that importing `module` may load: itself, its packages' __init__ files, and all they import."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            path = module_file(".".join(parts[:depth]))
            if path is not None and path not in seen:
                seen.add(path)
                pending.extend(imported_modules(path))
    return seen


def stages() -> dict[str, dict]:
    return yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]


def code_deps(stage: dict) -> list[Path]:
    return [PROJECT / dep for dep in stage.get("deps", []) if dep.split("/")[0] in PACKAGES]


def covers(dep: Path, path: Path) -> bool:
    return path == dep or (dep.is_dir() and path.is_relative_to(dep))


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_depends_on_exactly_the_code_it_imports(name):
    stage = stages()[name]
    module = re.fullmatch(r"python -m ([\w.]+)", stage["cmd"].strip())
    assert module, f"{name}: cmd should be `python -m emoscore_flows.<stage>`, is {stage['cmd']!r}"
    closure = import_closure(module.group(1))
    deps = code_deps(stage)
    missing = sorted(str(p.relative_to(PROJECT)) for p in closure if not any(covers(d, p) for d in deps))
    assert not missing, f"{name} imports code its deps do not list: {missing}"
    for dep in deps:
        assert dep.exists(), f"{name}: dep {dep.relative_to(PROJECT)} does not exist"
        files = [dep] if dep.is_file() else sorted(dep.rglob("*.py"))
        extra = [str(f.relative_to(PROJECT)) for f in files if f not in closure]
        assert not extra, f"{name}: dep {dep.relative_to(PROJECT)} covers code the stage never imports: {extra}"


def test_core_library_never_imports_flows_or_tasks():
    for path in sorted((PROJECT / "emoscore").rglob("*.py")):
        names = {"emoscore_flows", "emoscore_tasks", "flows", "tasks"}
        reaching_up = sorted(m for m in imported_modules(path) if m.split(".")[0] in names)
        assert not reaching_up, f"{path.relative_to(PROJECT)} imports {reaching_up}"


def test_closure_follows_function_level_and_package_imports(tmp_path):
    closure = {str(p.relative_to(PROJECT)) for p in import_closure("emoscore_flows.score_images")}
    assert {"flows/__init__.py", "tasks/__init__.py", "tasks/score.py", "emoscore/__init__.py"} <= closure
    assert "emoscore/music/compose.py" in closure  # imported inside Scorer._music only
    assert "emoscore/music/train.py" not in closure

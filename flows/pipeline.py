"""dvc.yaml, written from pipeline.yaml: each stage's code deps are the project files its module imports, and each
params entry (a section or a key) becomes the keys emoscore/config.py marks as changing results.

`python -m emoscore_flows.pipeline` writes it; `--check` exits 1 naming each stage whose written form differs.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from emoscore.config import Params, result_keys, role

PROJECT = Path(__file__).resolve().parents[1]
SOURCE = PROJECT / "pipeline.yaml"
TARGET = PROJECT / "dvc.yaml"
FOLDERS = {"emoscore": "emoscore", "emoscore_flows": "flows", "emoscore_tasks": "tasks"}  # pyproject's package-dir
IMPORT_NAMES = {folder: name for name, folder in FOLDERS.items()}
HEADER = """\
# Written by `python -m emoscore_flows.pipeline` from pipeline.yaml: edit that file, then run it (a test fails
# when the two disagree). Each stage is `python -m emoscore_flows.<stage>` (one Prefect flow); deps = the code it
# imports, then the data it reads; params = the keys config.py marks as changing its outputs.
"""


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


def param_keys(entry: str, stage: str) -> list[str]:
    """A params entry as DVC keys: a section → its result-changing fields; a key → itself, if it changes results."""
    section, _, field = entry.partition(".")
    model = Params.model_fields.get(section)
    if model is None or (field and field not in model.annotation.model_fields):
        raise ValueError(f"stage {stage}: params entry {entry!r} is not a key of params.yaml")
    if not field:
        return [f"{section}.{name}" for name in result_keys(model.annotation)]
    if (mark := role(model.annotation, field)) != "result":
        raise ValueError(f"stage {stage}: {entry} is marked {mark} in config.py, so it is not a param of a stage")
    return [entry]


def render(source: str) -> str:
    """dvc.yaml's text for pipeline.yaml's text (comments and blank lines between stages kept)."""
    out = [HEADER]
    stage, block = "", ""
    lines = source.splitlines()
    for line in lines[lines.index("stages:") :]:
        if re.fullmatch(r"  \w+:", line):
            stage = line.strip(" :")
        if re.fullmatch(r"    \w+:.*", line):
            block = line.split(":")[0].strip()
        if line == "    deps:":
            continue  # written with the code deps, right after cmd
        if block == "params" and line.startswith("      - "):
            out.extend(f"      - {key}" for key in param_keys(line.removeprefix("      - ").strip(), stage))
            continue
        out.append(line)
        if line.startswith("    cmd: "):
            module = re.fullmatch(r"python -m ([\w.]+)", line.removeprefix("    cmd: ").strip())
            if not module:
                raise ValueError(f"stage {stage}: cmd should be `python -m emoscore_flows.<stage>`")
            files = sorted(str(path.relative_to(PROJECT)) for path in import_closure(module.group(1)))
            out.extend(["    deps:", *(f"      - {file}" for file in files)])
    return "\n".join(out) + "\n"


def stage_texts(text: str) -> dict[str, str]:
    """Each stage's block of a dvc.yaml text, by name (to say which stage differs)."""
    parts = re.split(r"^  (\w+):\n", text.split("\nstages:\n", 1)[-1].split("\nplots:\n")[0], flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def main(argv: list[str]) -> int:
    """Write dvc.yaml, or with --check say which stages differ from what pipeline.yaml writes."""
    written = render(SOURCE.read_text(encoding="utf-8"))
    if "--check" not in argv:
        TARGET.write_text(written, encoding="utf-8")
        return 0
    current = TARGET.read_text(encoding="utf-8")
    if current == written:
        return 0
    want, have = stage_texts(written), stage_texts(current)
    stale = sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name)) or ["(header)"]
    print(f"dvc.yaml is stale in {', '.join(stale)}: run python -m emoscore_flows.pipeline", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

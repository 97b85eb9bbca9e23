"""A models home: one folder holding a trained set (VAD weights, thresholds, music model, classifier, vocabulary),
the params.yaml it was trained with and a manifest of digests, usable from any folder on any machine.

`emoscore models export DIR` makes one from what `dvc repro` trained; `--models DIR` or `EMOSCORE_MODELS` point
the commands and the Python API at it. Paths inside are resolved against the folder, so a home works wherever it
is copied (and a Dask worker on another machine sees absolute paths).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from emoscore import __version__
from emoscore.config import Params, load_params
from emoscore.digests import model_digest
from emoscore.errors import ConfigError

ENVIRONMENT = "EMOSCORE_MODELS"
MANIFEST = "manifest.json"
FORMAT = "emoscore.models/1"
# member → (file name in the home, the params field that names it, needed to score with music)
MEMBERS = {
    "vad": ("vad.pt", ("vad", "out"), True),
    "thresholds": ("thresholds.json", ("eval_vad", "thresholds"), True),
    "music": ("music.pt", ("music", "out"), True),
    "classifier": ("music_classifier.pt", ("music_classifier", "out"), False),
    "vocabulary": ("cp_vocab.json", ("emopia", "vocabulary"), False),
}


def _with_paths(params: Params, paths: dict[tuple[str, str], Path]) -> Params:
    """A copy of params with the given (section, field) paths replaced."""
    sections = {}
    for (section, name), path in paths.items():
        current = sections.get(section, getattr(params, section))
        sections[section] = current.model_copy(update={name: path})
    return params.model_copy(update=sections)


def export_models(params: Params, params_file: Path, out: Path) -> Path:
    """Copy the trained set that `params` names into `out` (made whole or not at all), with `params_file` and a
    manifest of digests; a ConfigError naming any required file that is missing."""
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: exists and is not empty; export into a new folder")
    sources = {}
    for member, (_, (section, name), required) in MEMBERS.items():
        source = Path(getattr(getattr(params, section), name))
        if source.is_file():
            sources[member] = source
        elif required:
            raise ConfigError(f"{source}: not found ({member}); train it with `dvc repro` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # a folder as mkdir makes it (mkdtemp's is private, 0700)
    try:
        files = {}
        for member, source in sources.items():
            target = staging / MEMBERS[member][0]
            shutil.copy2(source, target)
            files[member] = {"file": target.name, "sha256_16": model_digest(target)}
        shutil.copy2(params_file, staging / "params.yaml")
        manifest = {"format": FORMAT, "emoscore": __version__, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if out.exists():  # empty (checked above): its own permissions stay as they were
            staging.chmod(out.stat().st_mode & 0o7777)
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def load_home(home: Path, verify: bool = True) -> Params:
    """The params of a models home, every model path pointing into it, each file's digest checked against the
    manifest (unless not `verify`); a ConfigError saying what is wrong with the folder and naming the file."""
    home = Path(home).expanduser().resolve()
    if home.exists() and not home.is_dir():
        raise ConfigError(f"{home}: a file, not a models folder (make one with `emoscore models export`)")
    try:
        manifest = json.loads((home / MANIFEST).read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{home}: not a models folder (no {MANIFEST}; make one with `emoscore models export`)"
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{home / MANIFEST}: not valid JSON: {error}") from None
    if manifest.get("format") != FORMAT:
        raise ConfigError(f"{home / MANIFEST}: format {manifest.get('format')!r}, this emoscore reads {FORMAT}")
    params = load_params(home / "params.yaml") if (home / "params.yaml").exists() else Params()
    paths = {}
    for member, (file_name, field, required) in MEMBERS.items():
        entry = manifest.get("files", {}).get(member)
        if entry is None and required:
            raise ConfigError(f"{home}: the manifest lists no {member} model")
        path = home / (entry["file"] if entry else file_name)
        if entry is not None and verify and (found := model_digest(path)) != entry["sha256_16"]:
            raise ConfigError(
                f"{path}: does not match the digest in {MANIFEST} ({member}: sha256 {found}…, the manifest says "
                f"{entry['sha256_16']}…): changed, replaced or corrupt; export the set again"
            )
        paths[field] = path
    return _with_paths(params, paths)


def resolve_params(params_file: Path, models: Path | None = None, required: bool = True) -> Params:
    """What a command runs with: the models home given (or in EMOSCORE_MODELS), else the project's params.yaml,
    else (unless `required`) the package's defaults."""
    home = models or (Path(os.environ[ENVIRONMENT]) if os.environ.get(ENVIRONMENT) else None)
    if home is not None:
        return load_home(home)
    if Path(params_file).exists():
        return load_params(params_file)
    if not required:
        return Params()
    raise ConfigError(
        f"{params_file}: not found; pass --models DIR (a folder made by `emoscore models export`), "
        f"set {ENVIRONMENT}, or run inside the project"
    )

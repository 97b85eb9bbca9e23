"""Safe checkpoint reading: never unpickle code, and say which file is wrong and why."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import torch

from emoscore.errors import CheckpointError


def load_weights_only(path: Path | str) -> object:
    """torch.load with weights_only=True; a pickle payload or damaged file becomes CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unpickling refused"
        raise CheckpointError(
            path, f"refused: holds objects other than tensors and plain data ({first_line})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError) as error:
        raise CheckpointError(path, f"not a readable torch checkpoint: {error}") from None


def extract_state_dict(payload: object, path: Path | str) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: bare, under 'state_dict'/'model', with DataParallel `module.` removed."""
    state = payload
    if isinstance(payload, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(payload.get(key), dict):
                state = payload[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "holds no state dict of tensors")
    return {key.removeprefix("module."): value for key, value in state.items()}


def save_checkpoint(
    path: Path | str, checkpoint_format: str, config: object, state_dict: dict, **sections: object
) -> None:
    """Our checkpoint layout: format tag, the config dataclass as plain data, the state dict, and JSON-able extra
    sections (vocabulary, training history). Written atomically; readable with weights_only=True."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": checkpoint_format, "config": json.loads(json.dumps(asdict(config))), "state_dict": state_dict}
    payload.update({name: json.loads(json.dumps(value)) for name, value in sections.items()})
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(payload, temporary)
    temporary.replace(path)

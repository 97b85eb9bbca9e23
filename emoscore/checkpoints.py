"""Safe checkpoint reading: never unpickle code, and say which file is wrong and why."""

from __future__ import annotations

import json
import pickle
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch

try:
    from numpy._core.multiarray import scalar as numpy_scalar  # NumPy 2
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import scalar as numpy_scalar

from emoscore.errors import CheckpointError
from emoscore.text import first_line


def _legacy_safe_globals() -> list:
    """What checkpoints written by Python 2 + PyTorch 0.x hold besides tensors: NumPy scalars in their metadata
    (Places365's `best_prec1`), pickled as `numpy.core.multiarray.scalar(dtype, raw bytes)`. Building a scalar
    from a dtype and bytes runs no code of the file's choosing."""
    return [
        (numpy_scalar, "numpy.core.multiarray.scalar"),
        (numpy_scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        *{type(np.dtype(code)) for code in ("?", "i1", "i2", "i4", "i8", "u1", "f2", "f4", "f8")},
    ]


def load_weights_only(path: Path | str) -> object:
    """torch.load with weights_only=True (tensors and plain data only); a pickle payload or damaged file becomes
    CheckpointError. Legacy files are read too: Python 2 byte strings decode as latin1 (the released Places365
    files hold metadata bytes that only decode so), and NumPy scalars in their metadata are accepted."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        with torch.serialization.safe_globals(_legacy_safe_globals()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pickle_load_args only works")  # encoding is still used
            return torch.load(path, map_location="cpu", weights_only=True, encoding="latin1")
    except pickle.UnpicklingError:
        # torch's own message advises loading with weights_only=False, i.e. running the file's code: never ours
        raise CheckpointError(
            path, "refused: it holds objects other than tensors and plain data, and emoscore never runs a file's code"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError) as error:
        reason = first_line(error)
        if "weights_only" in str(error):
            reason = "its contents are not a checkpoint torch can read safely"
        raise CheckpointError(path, f"not a readable torch checkpoint: {reason}") from None


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
    payload = {"format": checkpoint_format, "config": json.loads(json.dumps(asdict(config))), "state_dict": state_dict}
    payload.update({name: json.loads(json.dumps(value)) for name, value in sections.items()})
    atomic_save(payload, path)


def atomic_save(payload: object, path: Path) -> None:
    """torch.save to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


class Checkpointed:
    """Mixin of our three models (an `nn.Module` with a frozen config dataclass): one `save` and one `load`.

    A subclass names its `checkpoint_format` and `config_type`; the checkpoint holds both plus the state dict and
    JSON-able sections, and loading rebuilds the architecture from the saved config before reading the weights.
    """

    checkpoint_format: ClassVar[str]
    config_type: ClassVar[type]
    config: Any

    def save(self, path: Path | str, **sections: object) -> None:
        """State dict + config (+ JSON-able sections such as vocabulary or history), readable with weights_only."""
        save_checkpoint(path, self.checkpoint_format, self.config, self.state_dict(), **sections)  # type: ignore[attr-defined]

    @classmethod
    def _payload_and_config(cls, path: Path | str) -> tuple[dict, Any]:
        payload = load_weights_only(path)
        if not isinstance(payload, dict) or payload.get("format") != cls.checkpoint_format:
            raise CheckpointError(path, f"not an emoscore checkpoint of format {cls.checkpoint_format!r}")
        try:
            config = cls.config_type(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in payload["config"].items()}
            )
        except (TypeError, AttributeError) as error:
            raise CheckpointError(path, f"config does not fit {cls.config_type.__name__}: {error}") from None
        return payload, config

    @classmethod
    def read_config(cls, path: Path | str) -> Any:
        """The config a checkpoint of this kind was saved with, without building the model (nor importing what its
        architecture needs); a file of another kind is refused as by `load`."""
        return cls._payload_and_config(path)[1]

    @classmethod
    def load(cls, path: Path | str) -> tuple[Self, dict]:
        """(model in eval mode, the checkpoint's other sections); a file of another kind or shape is refused."""
        payload, config = cls._payload_and_config(path)
        model = cls(config)  # the architecture only: its weights come next
        try:
            model.load_state_dict(payload["state_dict"])  # type: ignore[attr-defined]
        except RuntimeError as error:
            raise CheckpointError(path, f"weights do not fit the architecture in its config: {error}") from None
        sections = {key: value for key, value in payload.items() if key not in {"format", "config", "state_dict"}}
        return model.eval(), sections  # type: ignore[attr-defined]

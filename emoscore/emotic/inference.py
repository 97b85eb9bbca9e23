"""The VAD model for scoring, behind one interface: torch (channels-last, on any device) or ONNX Runtime (CPU) on an
export of the same weights. Both take normalised NCHW batches and return (category scores, VAD on 1–10) as NumPy."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from emoscore.cache import default_cache
from emoscore.config import Engine, ScorePrecision
from emoscore.device import pick_device
from emoscore.digests import model_digest
from emoscore.emotic.model import EmoticNet, EmoticNetConfig

log = logging.getLogger(__name__)


class VadEngine(Protocol):
    """What scoring needs of a VAD model."""

    config: EmoticNetConfig

    def predict(self, contexts: torch.Tensor, bodies: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Category probabilities [N, 26] and VAD [N, 3] for N (context, body) pairs."""
        ...


class TorchVad:
    """EmoticNet on `device` with weights and inputs in channels-last layout (oneDNN's fast path on the CPU, ~1.4×
    here); inputs go to the model's device and results come back to the CPU."""

    def __init__(self, model: EmoticNet, device: torch.device | None = None, bf16: bool = False) -> None:
        self.device = device or torch.device("cpu")
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.config = model.config
        self.bf16 = bf16  # autocast: convolutions and matmuls in bfloat16 (a GPU's tensor cores), the rest in fp32

    @torch.inference_mode()
    def predict(self, contexts: torch.Tensor, bodies: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Category scores and VAD, as NumPy."""
        layout = torch.channels_last
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            probabilities, vad = self.model.predict(
                contexts.to(self.device, non_blocking=True).contiguous(memory_format=layout),
                bodies.to(self.device, non_blocking=True).contiguous(memory_format=layout),
            )
        return probabilities.float().cpu().numpy(), vad.float().cpu().numpy()


class _Predict(nn.Module):
    """What gets exported: the model's `predict` (sigmoid and VAD scaling included) as `forward`."""

    def __init__(self, model: EmoticNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, contexts: torch.Tensor, bodies: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Category probabilities and VAD."""
        return self.model.predict(contexts, bodies)


_EXPORT_LOCK = threading.Lock()  # torch.onnx.export keeps global state: one export at a time per process


def export_onnx(model: EmoticNet) -> bytes:
    """The model as an ONNX graph with a dynamic batch size (kept in memory: ONNX Runtime loads it from bytes)."""
    context, body = model.config.context_size, model.config.body_size
    example = (torch.zeros(1, 3, context, context), torch.zeros(1, 3, body, body))
    buffer = io.BytesIO()
    with _EXPORT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice; its output is what we test
        torch.onnx.export(
            _Predict(model.eval()),
            example,
            buffer,
            input_names=["contexts", "bodies"],
            output_names=["probabilities", "vad"],
            dynamic_axes={"contexts": {0: "n"}, "bodies": {0: "n"}},
            dynamo=False,
        )
    return buffer.getvalue()


EXPORT_FORMAT = 1  # raised whenever `export_onnx` changes what it writes, so no older export is read back


def cached_export(checkpoint: Path, cache: Path | None = None, *, fresh: bool = False) -> tuple[bytes, bool]:
    """The ONNX export of a VAD checkpoint and whether it came from the cache folder, where it is kept by the
    checkpoint's digest, EXPORT_FORMAT and torch's version (exported again when `fresh`): exporting means building
    the model (and importing torchvision) and tracing it, ~1–2 s that every scoring worker paid at start. A cache
    that cannot be read or written costs only the export."""
    folder = Path(cache) if cache is not None else default_cache()
    version = torch.__version__.split("+")[0]
    path = folder / "onnx" / f"vad-{model_digest(checkpoint)}-export{EXPORT_FORMAT}-torch{version}.onnx"
    if not fresh:
        with contextlib.suppress(OSError):
            graph = path.read_bytes()
            if graph:
                return graph, True
    graph = export_onnx(EmoticNet.from_checkpoint(checkpoint))
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # one per writer
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(graph)
        temporary.replace(path)
    except OSError as error:
        log.debug("could not keep the ONNX export of %s in %s: %s", checkpoint, path.parent, error)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return graph, False


class OnnxVad:
    """The same weights exported to ONNX and run by ONNX Runtime's CPU provider (faster than torch on one thread
    here: docs/performance.md)."""

    def __init__(self, graph: bytes, config: EmoticNetConfig, threads: int) -> None:
        """`graph`: `export_onnx`'s bytes of a model whose config is `config`."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not burn a core
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.config = config

    def predict(self, contexts: torch.Tensor, bodies: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Category probabilities and VAD, as NumPy."""
        feeds = {"contexts": contexts.contiguous().numpy(), "bodies": bodies.contiguous().numpy()}
        probabilities, vad = self.session.run(None, feeds)
        return probabilities, vad


def vad_engine(
    model: EmoticNet, engine: Engine, threads: int, *, device: str = "cpu", precision: ScorePrecision = "auto"
) -> VadEngine:
    """A loaded VAD model ready for scoring on `device` (`threads` CPU threads); on a GPU torch runs it (the
    ONNX Runtime installed here is the CPU build), in fp32 unless `precision` says bf16 (see ScorePrecision)."""
    if _runs_torch(engine, device, precision):
        return TorchVad(model, pick_device(device), precision == "bf16")
    return OnnxVad(export_onnx(model), model.config, threads)


def _runs_torch(engine: Engine, device: str, precision: ScorePrecision) -> bool:
    resolved = pick_device(device)
    if resolved.type == "cuda" or precision == "bf16":
        if engine == "onnxruntime":
            log.info("scoring on %s with torch: the installed ONNX Runtime runs on the CPU only, in fp32", resolved)
        return True
    return engine != "onnxruntime"


def load_vad_engine(
    checkpoint: Path,
    engine: Engine,
    threads: int,
    *,
    device: str = "cpu",
    precision: ScorePrecision = "auto",
    cache: Path | None = None,
) -> VadEngine:
    """The VAD model of an emoscore checkpoint ready for scoring on `device`; ONNX Runtime's from the export kept in
    `cache` (see `cached_export`), with no torch model built."""
    if _runs_torch(engine, device, precision):
        return TorchVad(EmoticNet.from_checkpoint(checkpoint), pick_device(device), precision == "bf16")
    config = EmoticNet.read_config(checkpoint)
    graph, cached = cached_export(Path(checkpoint), cache)
    try:
        return OnnxVad(graph, config, threads)
    except Exception as error:  # ONNX Runtime's own exception types: a cached export that is no graph
        if not cached:
            raise
        log.warning("the cached ONNX export of %s is unreadable (%s); exporting it again", checkpoint, error)
        return OnnxVad(cached_export(Path(checkpoint), cache, fresh=True)[0], config, threads)

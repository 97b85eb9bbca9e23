"""Device and precision choice in one place: `auto | cpu | cuda | cuda:N`, and bf16 autocast where asked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from emoscore.errors import ConfigError


def pick_device(preference: str = "auto") -> torch.device:
    """Resolve 'auto' | 'cpu' | 'cuda' | 'cuda:N'; CUDA asked for but absent (or an index past the last GPU) is a
    ConfigError naming what is there, never a silent fall back to the CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cpu":
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:
        device = None
    if device is None or device.type != "cuda":
        raise ConfigError(f"unknown device {preference!r}; choose auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {preference!r} requested but no CUDA device is available")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ConfigError(f"device {preference!r} requested but only {count} CUDA device(s) exist (cuda:0…)")
    return device


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast on `device` for 'bf16' (matmuls and convolutions in bfloat16, reductions in float32);
    nothing for 'fp32'."""
    if precision == "fp32":
        yield
        return
    if precision != "bf16":
        raise ConfigError(f"unknown precision {precision!r}; choose fp32 or bf16")
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield

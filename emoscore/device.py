"""Device choice in one place: CUDA when asked for or available, CPU otherwise."""

from __future__ import annotations

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """Resolve 'auto' | 'cpu' | 'cuda' to a torch.device, falling back to CPU when CUDA is absent."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA device is available")
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)

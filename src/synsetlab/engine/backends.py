"""Runtimes that turn a batch of preprocessed pictures into logits."""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Protocol

import numpy as np

from synsetlab.errors import ConfigError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

_NVIDIA_DRIVER = "/proc/driver/nvidia/version"


class Backend(Protocol):
    """Anything that maps a float32 NCHW batch to float32 logits of shape (N, classes).

    A backend may also have an integer ``lanes``: how many ``run`` calls it serves at once
    from different threads (1 when absent).
    """

    name: str

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class TorchBackend:
    """Eager PyTorch, on CPU or CUDA; the reference every other backend is checked against."""

    name = "torch"
    #: One call at a time: PyTorch already spreads each call over all its threads.
    lanes = 1

    def __init__(self, module: torch.nn.Module, device: str = "cpu") -> None:
        import torch

        self.module = module.to(device).eval()
        self.device = torch.device(device)

    def run(self, batch: np.ndarray) -> np.ndarray:
        import torch

        # Prediction is only meaningful in eval mode (BatchNorm running statistics, no
        # dropout); a caller may have switched the shared module back to training.
        if self.module.training:
            self.module.eval()
        with torch.inference_mode():
            inputs = torch.from_numpy(batch).to(self.device)
            return self.module(inputs).float().cpu().numpy()


def resolve_device(device: str) -> str:
    """``auto`` means CUDA when a GPU is visible, else the CPU; ``cuda`` needs a GPU."""
    if device == "cpu":
        return device
    if device != "auto" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigError(f"unknown device {device!r}: expected auto, cpu, cuda or cuda:N")
    if device == "auto" and not os.path.exists(_NVIDIA_DRIVER):
        return "cpu"  # no driver: no GPU, and no need to pay for importing torch to learn it
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise ConfigError(f"--device {device}: no CUDA GPU is visible to PyTorch; use --device cpu")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)

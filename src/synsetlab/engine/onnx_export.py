"""Exporting a classifier to ONNX, shared by the inference engine and ``synsetlab export``."""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from synsetlab.fileio import publish

logger = logging.getLogger(__name__)

#: Opset understood by every onnxruntime release synsetlab supports.
OPSET = 17


def export_onnx(module: torch.nn.Module, path: Path, crop_size: int) -> Path:
    """Write ``module`` (eval mode, CPU, float32) to ``path`` with a dynamic batch axis.

    The graph takes ``input`` (N, 3, crop, crop) normalised pixels and returns ``logits``.
    The file appears atomically: an interrupted export leaves no partial file behind.
    """
    import torch

    module = module.eval().cpu().float()
    example = torch.zeros(1, 3, crop_size, crop_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated but needs no extra package (onnxscript)
            # and handles every timm/torchvision classifier we ship.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module, (example,), tmp, input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=OPSET, **_torchscript_exporter(torch),
            )  # fmt: skip
        publish(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    logger.info(
        "exported ONNX graph to %s (opset %d, input %dx%d)", path, OPSET, crop_size, crop_size
    )
    return path


def _torchscript_exporter(torch: Any) -> dict[str, Any]:
    # Recent torch defaults to the torch.export-based exporter (which needs onnxscript);
    # torch 2.4 has only the TorchScript one and no ``dynamo`` argument.
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}

"""The ``.synsetlab`` model file: one self-contained file per fine-tuned model.

It is a safetensors file: the network's tensors, plus JSON in the header's metadata under the
key ``synsetlab`` -- the base architecture and where its weights came from, the class list
(names, and WordNet ids where the names are ids), the preprocessing, the training settings,
the final metrics and the synsetlab version. Nothing in it is pickled, so opening a model file
from someone else cannot run code. :func:`load_model_file` rebuilds the architecture with
the right number of outputs and returns a :class:`LoadedModel`, so ``classify``, ``evaluate``
and ``export`` take a model file wherever they take a model name.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Any

import timm
import torch
import torchvision
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_tensors

from synsetlab.errors import ModelNotFoundError, WeightsMismatchError
from synsetlab.fileio import atomic_write_bytes
from synsetlab.models.base import LoadedModel
from synsetlab.models.classes import ClassList
from synsetlab.models.preprocessing import Preprocessing

logger = logging.getLogger(__name__)

SUFFIX = ".synsetlab"
FORMAT = "synsetlab.model"
FORMAT_VERSION = 1
_META_KEY = "synsetlab"

#: Largest difference allowed between onnxruntime's and PyTorch's logits for an exported
#: graph, relative to the largest logit (float32 kernels summing in another order give
#: about 1e-6 of it; a faulty export gives far more).
ONNX_TOLERANCE = 1e-4


def builder_of(architecture: str) -> dict[str, str]:
    """How to rebuild a :class:`LoadedModel`'s architecture: library and builder name."""
    library, _, name = architecture.partition(".")
    if library in ("timm", "torchvision") and name:
        return {"library": library, "name": name}
    # The bundled models are timm architectures under their timm names.
    return {"library": "timm", "name": architecture}


def build_module(builder: dict[str, str], num_classes: int) -> torch.nn.Module:
    """A freshly initialised network of the given architecture and number of outputs."""
    if builder.get("library") == "torchvision":
        return torchvision.models.get_model(builder["name"], weights=None, num_classes=num_classes)
    if builder.get("library") == "timm":
        return timm.create_model(builder["name"], pretrained=False, num_classes=num_classes)
    raise ModelNotFoundError(f"unknown model builder {builder!r}: expected timm or torchvision")


def save_model_file(
    path: Path,
    module: torch.nn.Module,
    *,
    base: LoadedModel,
    classes: ClassList,
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """Write ``module`` and everything needed to use it to ``path``, atomically."""
    from synsetlab import __version__

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "synsetlab_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "base": {
            "name": base.name,
            "architecture": base.architecture,
            "builder": builder_of(base.architecture),
            "source_weights": base.source,
        },
        "classes": classes.to_dict(),
        "preprocessing": base.preprocessing.to_dict(),
        "training": training,
        "metrics": metrics,
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    data = save_tensors(tensors, metadata={_META_KEY: json.dumps(meta)})
    atomic_write_bytes(path, data)
    logger.info("model file written to %s (%.1f MB)", path, len(data) / 1e6)
    return path


def is_model_file(name: str) -> bool:
    """Whether ``name`` designates a model file (by suffix, or an existing file of ours)."""
    path = Path(name)
    if path.suffix.lower() == SUFFIX:
        return True
    return path.is_file() and read_metadata_or_none(path) is not None


def read_metadata(path: Path) -> dict[str, Any]:
    """The JSON metadata of a model file; raises :class:`ModelNotFoundError` if not one."""
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist; check the path")
    meta = read_metadata_or_none(path)
    if meta is None:
        raise ModelNotFoundError(
            f"{path}: not a synsetlab model file (expected a safetensors file with "
            f"'{_META_KEY}' metadata, as written by `synsetlab finetune`)"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ModelNotFoundError(
            f"{path}: written by a newer synsetlab (format {meta.get('format_version')}); "
            f"this one reads format {FORMAT_VERSION}. Upgrade synsetlab"
        )
    return meta


def read_metadata_or_none(path: Path) -> dict[str, Any] | None:
    try:
        with safe_open(str(path), framework="pt") as handle:
            text = (handle.metadata() or {}).get(_META_KEY)
        meta = json.loads(text) if text else None
    except (SafetensorError, OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def load_model_file(path: Path) -> LoadedModel:
    """Rebuild the network stored in ``path``, in eval mode, with its classes and preprocessing."""
    meta = read_metadata(path)
    classes = ClassList.from_dict(meta["classes"])
    module = build_module(meta["base"]["builder"], len(classes))
    with safe_open(str(path), framework="pt") as handle:
        state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    _load_checked(module, state, path)
    logger.info(
        "model file %s: %s fine-tuned on %d classes", path, meta["base"]["name"], len(classes)
    )
    return LoadedModel(
        name=str(path),
        architecture=meta["base"]["architecture"],
        module=module,
        preprocessing=Preprocessing.from_dict(meta["preprocessing"]),
        classes=classes,
        source=str(path),
        metadata=meta,
    )


def _load_checked(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or extra or wrong:
        raise WeightsMismatchError(
            f"{path}: the stored tensors do not fit the architecture (missing {missing[:3]}, "
            f"unexpected {extra[:3]}, wrong shape {wrong[:3]}); the file is damaged or was "
            "written by an incompatible synsetlab"
        )
    module.load_state_dict(state)


def export_description(model: LoadedModel) -> dict[str, Any]:
    """What an exported graph needs beside it: classes, preprocessing, input and output."""
    crop = model.preprocessing.crop_size
    return {
        "model": model.name,
        "architecture": model.architecture,
        "input": {"name": "input", "shape": ["batch", 3, crop, crop], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", len(model.classes)]},
        "preprocessing": model.preprocessing.to_dict(),
        "classes": model.classes.to_dict(),
    }


def check_onnx(model: LoadedModel, path: Path, images: int = 4) -> float:
    """Run ``path`` in onnxruntime and PyTorch on the same random inputs; return the largest
    logit difference, raising :class:`WeightsMismatchError` beyond :data:`ONNX_TOLERANCE`."""
    import numpy as np
    import onnxruntime as ort

    crop = model.preprocessing.crop_size
    probe = np.random.default_rng(0).standard_normal((images, 3, crop, crop), dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": probe})
    with torch.inference_mode():
        expected = model.module.eval().cpu()(torch.from_numpy(probe)).float().numpy()
    gap = float(np.abs(got - expected).max())
    scale = max(1.0, float(np.abs(expected).max()))
    if gap > ONNX_TOLERANCE * scale:
        raise WeightsMismatchError(
            f"{path}: onnxruntime's logits differ from PyTorch's by {gap:.2e} (tolerance "
            f"{ONNX_TOLERANCE:.0e} x {scale:.1f}); the export is not faithful, do not use it"
        )
    logger.info("ONNX graph %s matches PyTorch: max logit difference %.1e", path, gap)
    return gap

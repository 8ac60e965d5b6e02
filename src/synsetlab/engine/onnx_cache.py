"""The on-disk cache of exported ONNX graphs, keyed by what determines their content.

A graph is exported once per (weights, architecture, input size, exporter) and kept under
:func:`cache_dir` as ``<key>.onnx`` with a ``<key>.json`` record beside it. The key hashes the
state dict's tensor bytes, so changed weights (a fine-tuned model saved under the same name)
get a fresh export. The record holds the graph's SHA-256: a damaged file is noticed, logged at
WARNING and rebuilt, never fed to the runtime.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synsetlab.engine.onnx_export import OPSET, export_onnx
from synsetlab.fileio import atomic_write_text
from synsetlab.models.base import LoadedModel

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: Bumped when the way graphs are exported changes, so that old cache entries are not reused.
CACHE_FORMAT = 1


def cache_root() -> Path:
    """synsetlab's cache: ``$SYNSETLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/synsetlab``,
    else ``~/.cache/synsetlab``."""
    override = os.environ.get("SYNSETLAB_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "synsetlab"


def cache_dir() -> Path:
    """Where exported ONNX graphs live."""
    return cache_root() / "onnx"


def graph_key(model: LoadedModel) -> str:
    """A hex digest of everything the exported graph depends on.

    A model whose network is not built yet but whose weights are one known file (the bundled
    models) is keyed by that file's bytes, so that a cached graph is found without building
    the network or importing torch (#4: process start). Once built, the network may have been
    changed, so its tensors are hashed instead; the two keys differ, which only costs one
    more export.
    """
    if model.weights_file is not None and not model.module_built:
        return _file_key(model, model.weights_file)
    digest = hashlib.sha256()
    module = model.module
    header = {
        "format": CACHE_FORMAT,
        "architecture": model.architecture,
        "class": f"{type(module).__module__}.{type(module).__qualname__}",
        "crop_size": model.preprocessing.crop_size,
        "opset": OPSET,
        "torch": torch_version(),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"\n{name} {tensor.dtype} {tuple(tensor.shape)}\n".encode())
        digest.update(_tensor_bytes(tensor))
    return digest.hexdigest()[:32]


def _file_key(model: LoadedModel, weights: Path) -> str:
    header = {
        "format": CACHE_FORMAT,
        "architecture": model.architecture,
        "weights_file_sha256": _file_sha256(weights),
        "crop_size": model.preprocessing.crop_size,
        "opset": OPSET,
        "torch": torch_version(),
    }
    return hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:32]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def torch_version() -> str:
    """The installed torch's version, read from its metadata (importing torch takes seconds)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    import torch

    # Viewed as raw bytes so that every dtype (bfloat16 too) hashes without conversion.
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


@dataclass(frozen=True)
class CachedGraph:
    """An exported graph's bytes and where they came from."""

    path: Path
    data: bytes
    built: bool


def load_or_export(model: LoadedModel, directory: Path | None = None) -> CachedGraph:
    """The model's ONNX graph from the cache, exporting it first when missing or damaged."""
    directory = directory or cache_dir()
    key = graph_key(model)
    path = directory / f"{key}.onnx"
    data = read_verified(path)
    if data is not None:
        logger.info("ONNX graph for %s from cache %s", model.name, path)
        return CachedGraph(path, data, built=False)
    return CachedGraph(path, export_to_cache(model, path), built=True)


def export_to_cache(model: LoadedModel, path: Path) -> bytes:
    """Export ``model`` to ``path`` and write its record; returns the graph's bytes."""
    # #4: entries are never pruned; each set of fine-tuned weights adds 10-30 MB.
    logger.info("exporting %s to ONNX (once; cached as %s)", model.name, path)
    export_onnx(model.module, path, model.preprocessing.crop_size)
    data = path.read_bytes()
    record = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "model": model.name,
        "architecture": model.architecture,
        "weights": model.source,
        "crop_size": model.preprocessing.crop_size,
        "opset": OPSET,
        "torch": torch_version(),
    }
    atomic_write_text(record_path(path), json.dumps(record, indent=2) + "\n")
    return data


def record_path(graph: Path) -> Path:
    return graph.with_suffix(".json")


def discard(graph: Path) -> None:
    """Remove a cache entry (record first, so a half-removed entry reads as unbuilt)."""
    record_path(graph).unlink(missing_ok=True)
    graph.unlink(missing_ok=True)


def read_verified(path: Path) -> bytes | None:
    """The graph's bytes if it and its record exist and agree; None (and a WARNING when a
    file is damaged) otherwise."""
    if not path.is_file():
        return None
    record = _read_record(record_path(path))
    if record is None:
        logger.warning("ONNX cache %s has no readable record; rebuilding it", path)
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        logger.warning(
            "ONNX cache file %s is damaged (%d bytes, checksum differs from its record); "
            "rebuilding it",
            path,
            len(data),
        )
        return None
    return data


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None

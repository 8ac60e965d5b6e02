"""Choosing the engine that runs a model, and how many threads it and the decoders get.

``auto`` means: ONNX Runtime on the CPU when it is installed and the model exports cleanly
(3-5x eager PyTorch on the CPU, see the README's Speed section), PyTorch on a GPU, and eager
PyTorch whenever ONNX Runtime cannot be used, with a WARNING that says why.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from synsetlab.engine.backends import Backend, TorchBackend, resolve_device
from synsetlab.errors import ConfigError
from synsetlab.models.base import LoadedModel

logger = logging.getLogger(__name__)

ENGINES = ("auto", "onnxruntime", "torch")


@dataclass(frozen=True)
class ThreadPlan:
    """How the cores are shared: ``lanes`` inference calls of ``intra_threads`` threads each
    run at once, next to ``decode_workers`` JPEG decoders (which mostly wait on inference)."""

    cores: int
    lanes: int
    intra_threads: int
    decode_workers: int


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def thread_plan(cores: int | None = None) -> ThreadPlan:
    """Two single-or-more-threaded inference lanes, and one decoder per core.

    Two lanes keep every core busy while a lane waits for its batch to be decoded; more
    lanes only add memory. Decoding costs about a third of lite0's inference per image, so
    decoders and lanes together oversubscribe the cores on purpose: the OS evens it out.
    """
    cores = cores or available_cores()
    lanes = min(2, cores)
    return ThreadPlan(cores, lanes, max(1, cores // lanes), cores)


class EngineUnavailable(Exception):
    """Internal: the ONNX Runtime engine cannot serve this model here (the message says why)."""


def create_backend(model: LoadedModel, engine: str = "auto", device: str = "cpu") -> Backend:
    """The backend that runs ``model`` on ``device`` with ``engine`` (one of :data:`ENGINES`)."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    device = resolve_device(device)
    if engine == "torch":
        return _torch(model, device, "asked for with engine=torch")
    if engine == "onnxruntime":
        return _forced_onnx(model, device)
    if device != "cpu":
        return _torch(model, device, f"auto: the device is {device}")
    try:
        return _onnx(model, "auto: the fastest engine on the CPU")
    except EngineUnavailable as exc:
        logger.warning(
            "engine: falling back to eager PyTorch on the CPU for %s: %s", model.name, exc
        )
        return TorchBackend(model.module, "cpu")


def _torch(model: LoadedModel, device: str, why: str) -> Backend:
    logger.info("engine: PyTorch eager on %s (%s)", device, why)
    return TorchBackend(model.module, device)


def _forced_onnx(model: LoadedModel, device: str) -> Backend:
    if device != "cpu":
        raise ConfigError(
            f"engine onnxruntime runs on the CPU, but the device is {device!r}: "
            "use --device cpu, or --engine torch for the GPU"
        )
    try:
        return _onnx(model, "asked for with engine=onnxruntime")
    except EngineUnavailable as exc:
        raise ConfigError(
            f"engine onnxruntime cannot run {model.name}: {exc}; use --engine torch"
        ) from exc


def _onnx(model: LoadedModel, why: str) -> Backend:
    try:
        import onnxruntime
    except ImportError as exc:
        raise EngineUnavailable(
            f"onnxruntime cannot be imported ({exc}); pip install onnxruntime"
        ) from exc
    plan = thread_plan()
    try:
        backend = _build_onnx(model, plan)
    except Exception as exc:  # export and runtime failures come in many unrelated types
        raise EngineUnavailable(
            f"exporting or loading its ONNX graph failed ({type(exc).__name__}: {exc})"
        ) from exc
    logger.info(
        "engine: onnxruntime %s on the CPU, %d lanes x %d threads (%s)",
        onnxruntime.__version__,
        plan.lanes,
        plan.intra_threads,
        why,
    )
    return backend


def _build_onnx(model: LoadedModel, plan: ThreadPlan) -> Backend:
    from synsetlab.engine.onnx_backend import onnx_backend

    try:
        return onnx_backend(model, intra_threads=plan.intra_threads, lanes=plan.lanes)
    except OSError as exc:
        # A read-only or full cache must not cost the fast engine: export for this run only.
        logger.warning("ONNX cache unusable (%s); exporting to a temporary folder", exc)
        with tempfile.TemporaryDirectory(prefix="synsetlab-onnx-") as tmp:
            return onnx_backend(
                model, intra_threads=plan.intra_threads, lanes=plan.lanes, directory=Path(tmp)
            )

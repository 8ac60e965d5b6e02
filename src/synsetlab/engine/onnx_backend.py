"""ONNX Runtime on the CPU: the fast engine for machines without a GPU.

Measured on 2 cores with efficientnet_lite0 (benchmarks/bench_inference.py), one
single-threaded session call per core beats one call spread over both cores, and ONNX Runtime's
default of spinning idle worker threads steals the cores the JPEG decoders need; so sessions
here run with ``intra_threads`` per call (1 on small machines), no spinning, and the classifier
issues ``lanes`` calls at once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from synsetlab.engine.backends import Backend, TorchBackend, softmax
from synsetlab.engine.onnx_cache import (
    CachedGraph,
    discard,
    export_to_cache,
    load_or_export,
)
from synsetlab.errors import ConfigError
from synsetlab.models.base import LoadedModel

logger = logging.getLogger(__name__)

#: Images per runtime call. A few at a time keep a call's activations in the core's cache:
#: lite0 costs 8.1 CPU-ms per image at 1-4 per call, 9.4-10 at 32 (2-core Xeon, AVX-512); lite2
#: 15.6 at 4, 19-20 at 32. ONNX Runtime's results do not depend on the split (checked bitwise).
MICRO_BATCH = 4

#: How far ONNX Runtime's probabilities may stray from eager PyTorch's on the export probe
#: before the graph is refused (float32 kernels differ in summation order: about 1e-6 in
#: practice; a wrong export is off by far more).
PROBE_TOLERANCE = 1e-4


class OnnxBackend:
    """Runs an exported graph with ONNX Runtime's CPU kernels.

    The graph takes one picture size (the model's crop); batches of another size, which only
    model-ready tensors passed by a caller can have, go to ``fallback`` (eager PyTorch).
    """

    name = "onnxruntime"

    def __init__(
        self,
        graph: bytes,
        *,
        intra_threads: int = 1,
        lanes: int = 1,
        micro_batch: int = MICRO_BATCH,
        fallback: Backend | None = None,
    ) -> None:
        import onnxruntime as ort

        self.lanes = lanes
        self.micro_batch = micro_batch
        self.intra_threads = intra_threads
        self.fallback = fallback
        self.session = ort.InferenceSession(
            graph, session_options(intra_threads), providers=["CPUExecutionProvider"]
        )
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        self.picture_shape = tuple(graph_input.shape[1:])

    def run(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[1:] != self.picture_shape:
            return self._other_shape(batch)
        step = self.micro_batch
        if len(batch) <= step:
            return self._run(batch)
        return np.concatenate([self._run(batch[i : i + step]) for i in range(0, len(batch), step)])

    def _other_shape(self, batch: np.ndarray) -> np.ndarray:
        if self.fallback is None:
            raise ConfigError(
                f"the onnxruntime engine takes pictures of shape {self.picture_shape}, got "
                f"{tuple(batch.shape[1:])}; use engine='torch' for other sizes"
            )
        logger.debug("batch of shape %s runs in %s", batch.shape, self.fallback.name)
        return self.fallback.run(batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        # InferenceSession.run is thread-safe and releases the GIL: ``lanes`` threads may
        # call it at once.
        (logits,) = self.session.run(None, {self.input_name: batch})
        return np.asarray(logits, dtype=np.float32)


def session_options(intra_threads: int) -> Any:
    """Session settings for throughput next to decoder threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers busy-wait between kernels: fine alone, but here they would take the
    # cores from the decoders (measured: 68 instead of 184 images/s under load).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def onnx_backend(
    model: LoadedModel,
    *,
    intra_threads: int = 1,
    lanes: int = 1,
    directory: Path | None = None,
) -> OnnxBackend:
    """An ONNX Runtime backend for ``model``, exporting (and checking) its graph once.

    A cached graph that the runtime cannot load is rebuilt once; a fresh export must agree
    with eager PyTorch on a probe batch, or :class:`ValueError` says by how much it did not.
    """
    cached = load_or_export(model, directory)
    settings = {"intra_threads": intra_threads, "lanes": lanes}
    fallback = TorchOnDemand(model)
    try:
        backend = OnnxBackend(cached.data, fallback=fallback, **settings)
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        if cached.built:
            raise
        logger.warning("ONNX cache %s cannot be loaded (%s); rebuilding it", cached.path, exc)
        cached = CachedGraph(cached.path, export_to_cache(model, cached.path), built=True)
        backend = OnnxBackend(cached.data, fallback=fallback, **settings)
    if cached.built:
        try:
            check_against_torch(model, backend)
        except ValueError:
            # Never leave a graph that failed its check where the next run would trust it.
            discard(cached.path)
            raise
    return backend


class TorchOnDemand:
    """Eager PyTorch on the CPU, built on the first batch that needs it: the ONNX engine's
    fallback for odd input sizes, which most runs never see (and so never import torch)."""

    name = "torch"

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self._backend: TorchBackend | None = None

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self._backend is None:
            self._backend = TorchBackend(self.model.module, "cpu")
        return self._backend.run(batch)


def check_against_torch(model: LoadedModel, backend: Backend) -> float:
    """Compare the graph with eager PyTorch on two random pictures; returns the largest
    probability difference, raising :class:`ValueError` above :data:`PROBE_TOLERANCE`."""
    import torch

    crop = model.preprocessing.crop_size
    probe = np.random.default_rng(0).standard_normal((2, 3, crop, crop), dtype=np.float32)
    module = model.module.eval()
    with torch.inference_mode():
        expected = module(torch.from_numpy(probe)).float().cpu().numpy()
    diff = float(np.abs(softmax(backend.run(probe)) - softmax(expected)).max())
    if not diff <= PROBE_TOLERANCE:
        raise ValueError(
            f"the ONNX export of {model.name} disagrees with PyTorch: probabilities differ by "
            f"{diff:.2e} (tolerance {PROBE_TOLERANCE:.0e})"
        )
    logger.info("ONNX graph matches PyTorch on a probe batch (max prob. diff %.1e)", diff)
    return diff

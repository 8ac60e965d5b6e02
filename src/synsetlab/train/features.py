"""The frozen-feature cache: run the frozen trunk once per view, not once per epoch.

The frozen layers compute the same function in every epoch, so their output is computed
once: ``views`` fixed views of every training image (view 0 is the plain evaluation view,
the others augmented, see :mod:`synsetlab.train.augment`), and the evaluation view of every
validation image. Training then cycles through the views, one per epoch, feeding only the
trainable tail. Each image is decoded once for all its views.

The trunk runs on the fastest engine at hand: on the CPU an onnxruntime session of the
trunk (measured 2-3x as fast as eager PyTorch with channels-last on 2 cores), checked
against PyTorch on a probe batch when exported; on CUDA, PyTorch with float16 autocast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_tensors

from synsetlab.data.images import load_image
from synsetlab.engine.classifier import chunks, prefetch
from synsetlab.engine.onnx_export import export_onnx
from synsetlab.engine.selection import available_cores
from synsetlab.errors import DatasetError, ImageLoadError
from synsetlab.fileio import atomic_write_bytes
from synsetlab.models.base import LoadedModel
from synsetlab.models.preprocessing import Preprocessing
from synsetlab.train.augment import Augmentation, train_view, view_rng
from synsetlab.train.data import Sample, TrainingData
from synsetlab.train.distributed import DistContext, gather_objects, shard

logger = logging.getLogger(__name__)

#: Largest difference between onnxruntime's and PyTorch's trunk output we accept (activations
#: are of order 1; float32 reorderings give about 1e-5).
ORT_TOLERANCE = 1e-3

Progress = Callable[[int], None]


class TrunkRunner(Protocol):
    """Frozen layers as a function of a float32 NCHW batch; ``lanes`` calls may run at once."""

    name: str
    lanes: int

    def run(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass
class FeatureCache:
    """Trunk outputs: ``train`` is (views, N, ...), ``val`` (M, ...), labels per image."""

    train: torch.Tensor
    train_labels: torch.Tensor
    val: torch.Tensor
    val_labels: torch.Tensor
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def views(self) -> int:
        return int(self.train.shape[0])

    def train_view(self, epoch: int) -> torch.Tensor:
        """The cached inputs of ``epoch`` (0-based): the views are used in turn."""
        return self.train[epoch % self.views]


class TorchTrunk:
    """Eager PyTorch in inference mode, channels-last; float16 autocast on CUDA."""

    name = "torch"
    #: PyTorch spreads one call over every core already.
    lanes = 1

    def __init__(self, trunk: torch.nn.Module, device: torch.device) -> None:
        self.device = device
        self.trunk = trunk.eval().to(device).to(memory_format=torch.channels_last)

    def run(self, batch: np.ndarray) -> np.ndarray:
        inputs = torch.from_numpy(batch).to(self.device)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device):
            out = self.trunk(inputs)
        return out.float().contiguous().cpu().numpy()


class OnnxTrunk:
    """The trunk as an ONNX graph, run by the engine's ONNX Runtime backend.

    Like the inference engine, it runs ``lanes`` single-threaded calls of a few images at
    once rather than one call over every core (measured faster on 2 cores). The graph goes
    into the engine's ONNX cache, keyed by the trunk's weights, so a later run on the same
    base model and policy skips the export.
    """

    name = "onnxruntime"

    def __init__(self, graph: bytes) -> None:
        from synsetlab.engine.onnx_backend import OnnxBackend
        from synsetlab.engine.selection import thread_plan

        plan = thread_plan()
        self.backend = OnnxBackend(graph, intra_threads=plan.intra_threads, lanes=plan.lanes)
        self.lanes = plan.lanes

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.backend.run(batch)


def autocast(device: torch.device) -> torch.autocast:
    """Mixed precision on CUDA, plain float32 elsewhere."""
    return torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda")


def make_runner(trunk: LoadedModel, device: torch.device, engine: str = "auto") -> TrunkRunner:
    """The fastest engine for the frozen ``trunk`` on ``device``: onnxruntime on the CPU
    (checked against PyTorch when exported), PyTorch on CUDA or when asked for."""
    if engine == "torch" or device.type != "cpu":
        return TorchTrunk(trunk.module, device)
    try:
        graph, built = _trunk_graph(trunk)
        runner = OnnxTrunk(graph.read_bytes())
    except Exception as exc:  # exporter and runtime failures come in many types
        logger.warning("onnxruntime cannot run the frozen trunk (%s); using PyTorch", exc)
        return TorchTrunk(trunk.module, device)
    if built and not _agrees(runner, trunk):
        graph.unlink(missing_ok=True)
        return TorchTrunk(trunk.module, device)
    logger.info("frozen trunk engine: onnxruntime, %d lanes, graph %s", runner.lanes, graph)
    return runner


def _trunk_graph(trunk: LoadedModel) -> tuple[Path, bool]:
    from synsetlab.engine.onnx_cache import load_or_export

    try:
        cached = load_or_export(trunk)
        return cached.path, cached.built
    except OSError as exc:
        logger.warning("ONNX cache unusable (%s); exporting the trunk for this run only", exc)
    folder = Path(tempfile.mkdtemp(prefix="synsetlab-trunk-"))
    return export_onnx(trunk.module, folder / "trunk.onnx", trunk.preprocessing.crop_size), True


def _agrees(runner: OnnxTrunk, trunk: LoadedModel) -> bool:
    crop = trunk.preprocessing.crop_size
    probe = np.random.default_rng(0).standard_normal((2, 3, crop, crop)).astype(np.float32)
    with torch.inference_mode():
        expected = trunk.module.eval()(torch.from_numpy(probe)).numpy()
    gap = float(np.abs(runner.run(probe) - expected).max())
    if gap > ORT_TOLERANCE:
        logger.warning("onnxruntime trunk differs from PyTorch by %.2g; using PyTorch", gap)
        return False
    logger.debug("onnxruntime trunk agrees with PyTorch within %.1g", gap)
    return True


def trunk_model(base: LoadedModel, trunk: torch.nn.Module, policy: str) -> LoadedModel:
    """The frozen trunk dressed as a model, so the engine's ONNX cache can key and log it."""
    return LoadedModel(
        name=f"{base.name} (frozen trunk, {policy})",
        architecture=f"{base.architecture}[trunk:{policy}]",
        module=trunk,
        preprocessing=base.preprocessing,
        classes=base.classes,
        source=base.source,
    )


MakerResult = tuple[int, "list[np.ndarray] | ImageLoadError"]
Maker = Callable[[tuple[int, Sample]], MakerResult]


@dataclass(frozen=True)
class ViewMaker:
    """Decodes one training image once and makes its views: view 0 plain, the rest augmented."""

    pre: Preprocessing
    seed: int
    views: int
    augmentation: Augmentation
    max_pixels: int | None = None

    def __call__(self, job: tuple[int, Sample]) -> MakerResult:
        index, sample = job
        try:
            image = decode(sample.path, self.pre, self.max_pixels)
        except ImageLoadError as exc:
            logger.error("skipping %s", exc)
            return index, exc
        arrays = [self.pre.to_array(image)]
        for view in range(1, self.views):
            rng = view_rng(self.seed, index, view)
            arrays.append(train_view(image, self.pre, rng, self.augmentation))
        return index, arrays


@dataclass(frozen=True)
class PlainMaker:
    """The one evaluation view of a validation image, made exactly as ``classify`` makes it."""

    load: Callable[[Path], np.ndarray]

    def __call__(self, job: tuple[int, Sample]) -> MakerResult:
        index, sample = job
        try:
            return index, [self.load(sample.path)]
        except ImageLoadError as exc:
            logger.error("skipping %s", exc)
            return index, exc


def decode(path: Path, pre: Preprocessing, max_pixels: int | None = None) -> Image.Image:
    """Load one image as RGB, letting JPEGs decode at the smallest scale the model needs."""
    draft: tuple[int, int] | None
    try:
        with Image.open(path) as probe:
            draft = pre.draft_size(probe.size)
    except Exception:  # load_image names the problem precisely
        draft = None
    return load_image(path, max_pixels=max_pixels, draft_size=draft)


def run_trunk(
    runner: TrunkRunner,
    jobs: Sequence[tuple[int, Sample]],
    maker: Maker,
    batch_size: int = 16,
    on_image: Progress | None = None,
) -> tuple[dict[int, np.ndarray], list[tuple[str, str]]]:
    """Trunk outputs per image index, shape (views, ...), and the images that failed.

    Decoding runs ahead in a thread pool while ``runner.lanes`` batches are in the trunk.
    """
    workers = available_cores()
    outputs: dict[int, list[np.ndarray | None]] = {}
    failures: list[tuple[str, str]] = []

    def views() -> Iterator[tuple[int, int, np.ndarray]]:
        for index, arrays in prefetch(maker, jobs, workers, depth=2 * workers + 2):
            if on_image is not None:
                on_image(1)
            if isinstance(arrays, ImageLoadError):
                failures.append((str(arrays.path), arrays.reason))
                continue
            outputs[index] = [None] * len(arrays)
            yield from ((index, view, array) for view, array in enumerate(arrays))

    def run(batch: list[tuple[int, int, np.ndarray]]) -> tuple[list[tuple[int, int]], np.ndarray]:
        return [(i, v) for i, v, _ in batch], runner.run(np.stack([a for _, _, a in batch]))

    lanes = max(1, runner.lanes)
    for keys, result in prefetch(run, chunks(views(), batch_size), lanes, depth=lanes):
        for (index, view), row in zip(keys, result, strict=True):
            outputs[index][view] = row
    stacked = {i: np.stack([v for v in views_ if v is not None]) for i, views_ in outputs.items()}
    return stacked, failures


def compute_cache(
    runner: TrunkRunner,
    data: TrainingData,
    makers: tuple[Maker, Maker],
    context: DistContext,
    on_image: Progress | None = None,
) -> FeatureCache:
    """Run the trunk over this rank's share of the images; every rank gets the whole cache.

    ``makers`` make the training views and the validation view of an image.
    """
    train_jobs = shard(list(enumerate(data.train)), context)
    val_jobs = shard(list(enumerate(data.val)), context)
    train, train_failed = run_trunk(runner, train_jobs, makers[0], on_image=on_image)
    val, val_failed = run_trunk(runner, val_jobs, makers[1], on_image=on_image)
    train = _merge(gather_objects(train, context))
    val = _merge(gather_objects(val, context))
    failures = [f for part in gather_objects(train_failed + val_failed, context) for f in part]
    return _assemble(data, train, val, failures)


def _merge(parts: list[dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    return {index: array for part in parts for index, array in part.items()}


def _assemble(
    data: TrainingData,
    train: dict[int, np.ndarray],
    val: dict[int, np.ndarray],
    failures: list[tuple[str, str]],
) -> FeatureCache:
    if not train or not val:
        which = "training" if not train else "validation"
        raise DatasetError(f"none of the {which} images could be read ({len(failures)} failed)")
    kept_train, kept_val = sorted(train), sorted(val)
    return FeatureCache(
        train=torch.from_numpy(np.stack([train[i] for i in kept_train], axis=1)),
        train_labels=torch.tensor([data.train[i].label for i in kept_train], dtype=torch.long),
        val=torch.from_numpy(np.stack([val[i][0] for i in kept_val])),
        val_labels=torch.tensor([data.val[i].label for i in kept_val], dtype=torch.long),
        failures=sorted(failures),
    )


def fingerprint(settings: dict[str, object], samples: Sequence[Sample]) -> str:
    """A digest of what the cache depends on: settings and every file's path, size, time."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for sample in samples:
        try:
            stat = sample.path.stat()
            digest.update(
                f"{sample.path}|{sample.label}|{stat.st_size}|{stat.st_mtime_ns}".encode()
            )
        except OSError:
            digest.update(f"{sample.path}|{sample.label}|missing".encode())
    return digest.hexdigest()


def save_cache(path: Path, cache: FeatureCache, key: str) -> None:
    """Write the cache atomically, tagged with its fingerprint."""
    tensors = {
        "train": cache.train.contiguous(),
        "train_labels": cache.train_labels.contiguous(),
        "val": cache.val.contiguous(),
        "val_labels": cache.val_labels.contiguous(),
    }
    meta = {"fingerprint": key, "failures": json.dumps(cache.failures)}
    atomic_write_bytes(path, save_tensors(tensors, metadata=meta))
    logger.info("feature cache written to %s", path)


def load_cache(path: Path, key: str) -> FeatureCache | None:
    """The cache stored at ``path`` if it was made from the same settings and files."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            if meta.get("fingerprint") != key:
                logger.info("feature cache %s was made from other settings; recomputing", path)
                return None
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        logger.warning("cannot read the feature cache %s (%s); recomputing", path, exc)
        return None
    failures = [(str(p), str(r)) for p, r in json.loads(meta.get("failures", "[]"))]
    logger.info("reusing the feature cache %s", path)
    return FeatureCache(
        tensors["train"], tensors["train_labels"], tensors["val"], tensors["val_labels"], failures
    )

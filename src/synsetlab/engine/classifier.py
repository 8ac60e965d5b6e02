"""The classifier: pictures in, ranked WordNet classes out, for the CLI and for Python."""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar, Union

import numpy as np
from PIL import Image

from synsetlab.data.images import load_image, to_rgb
from synsetlab.engine.backends import Backend, softmax
from synsetlab.engine.results import ImageResult, Prediction
from synsetlab.engine.selection import create_backend, thread_plan
from synsetlab.errors import ConfigError, ImageLoadError
from synsetlab.models import LoadedModel, create_model

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: What :meth:`Classifier.predict` takes: a path, a Pillow image, or a tensor. Float tensors
#: are model-ready (normalised CHW); uint8 tensors are raw CHW pictures and get preprocessed.
ImageInput = Union[str, os.PathLike, Image.Image, "torch.Tensor"]

T = TypeVar("T")
R = TypeVar("R")

#: JPEGs are decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, much cheaper than a
#: full decode) only while the short side stays at least this many times the model's resize
#: size. Measured on the 1000-photo sample (benchmarks/bench_inference.py --draft-study):
#: with 2, 4-6 photos (short side >= 4x the resize size) decode in draft mode, every top-1
#: stayed (lite0, lite1, lite2) and no top-5 probability moved by more than 0.04 (0.011 for
#: lite0); with 1, 36-52 photos are drafted, one top-1 changed and probabilities moved by up
#: to 0.17. For scale: torchvision's resize instead of ours changes 3 top-1 of 1000. A
#: 12-megapixel phone photo decodes 5x faster (220 -> 43 ms) with 2.
DRAFT_MARGIN = 2


class Classifier:
    """A loaded model plus the batching, decoding and top-k logic around it.

    ``engine`` picks the runtime (``auto``, ``onnxruntime`` or ``torch``; see
    :mod:`synsetlab.engine.selection`) unless a ``backend`` is given. ``workers`` threads
    decode files ahead of inference (default: one per core). ``draft`` lets big JPEG files
    decode at reduced scale (see :data:`DRAFT_MARGIN`); a path may then give slightly
    different probabilities than the same picture passed already decoded.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        workers: int | None = None,
        max_pixels: int | None = None,
        backend: Backend | None = None,
        engine: str = "auto",
        draft: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.workers = workers or thread_plan().decode_workers
        self.max_pixels = max_pixels
        self.backend = backend or create_backend(model, engine, device)
        self.lanes = max(1, int(getattr(self.backend, "lanes", 1)))
        self.draft_size = draft_size(model.preprocessing.resize_size) if draft else None
        logger.info(
            "pipeline: %s, batch size %d, %d decode workers, %d inference lanes, %s",
            self.backend.name,
            batch_size,
            self.workers,
            self.lanes,
            _draft_text(self.draft_size),
        )

    @classmethod
    def from_name(cls, name: str, *, allow_download: bool = False, **kwargs: object) -> Classifier:
        """Load a model by name (see :func:`synsetlab.create_model`) and wrap it."""
        return cls(create_model(name, allow_download=allow_download), **kwargs)  # type: ignore[arg-type]

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes.labels)

    def preprocess(self, item: ImageInput) -> np.ndarray:
        """The normalised CHW float32 array for one input."""
        if isinstance(item, Image.Image):
            return self.model.preprocessing.to_array(to_rgb(item))
        if isinstance(item, (str, os.PathLike)):
            return self.load_array(Path(item))
        if is_tensor(item):
            return self._tensor_array(item)
        if isinstance(item, np.ndarray) and item.ndim == 3 and item.dtype.kind == "f":
            return np.asarray(item, dtype=np.float32)  # what preprocess() returned earlier
        raise ConfigError(
            "expected a file path, a Pillow image, a torch tensor or a preprocessed CHW float "
            f"array, got {type(item).__name__}"
        )

    def load_array(self, path: Path) -> np.ndarray:
        """Decode and preprocess one file; raises :class:`ImageLoadError`."""
        image = load_image(path, max_pixels=self.max_pixels, draft_size=self.draft_size)
        return self.model.preprocessing.to_array(image)

    def logits(self, batch: np.ndarray | torch.Tensor) -> np.ndarray:
        """Raw scores (N, classes) for a model-ready NCHW batch."""
        array = batch.numpy() if is_tensor(batch) else batch
        return self.backend.run(np.ascontiguousarray(array, dtype=np.float32))

    def predict(self, item: ImageInput, top_k: int = 5) -> list[Prediction]:
        """The top-k predictions for one picture."""
        return self.predict_batch([item], top_k)[0]

    def predict_batch(
        self, items: Sequence[ImageInput] | torch.Tensor, top_k: int = 5
    ) -> list[list[Prediction]]:
        """The top-k predictions for each picture; a 4-D tensor is a batch of them."""
        arrays = [self.preprocess(item) for item in items]
        rows: list[list[Prediction]] = []
        for start in range(0, len(arrays), self.batch_size):
            batch = np.stack(arrays[start : start + self.batch_size])
            rows.extend(self.top_k(self.logits(batch), top_k))
        return rows

    def classify_files(
        self,
        paths: Iterable[Path],
        top_k: int = 5,
        on_result: Callable[[ImageResult], None] | None = None,
    ) -> Iterator[ImageResult]:
        """Classify files in order, decoding in parallel; bad files yield an error result."""
        for path, probs in self.score_files(paths):
            if isinstance(probs, ImageLoadError):
                result = ImageResult(str(path), error=probs.reason)
            else:
                result = ImageResult(str(path), tuple(self._ranked(probs, top_k)))
            if on_result is not None:
                on_result(result)
            yield result

    def score_files(
        self, paths: Iterable[Path]
    ) -> Iterator[tuple[Path, np.ndarray | ImageLoadError]]:
        """Class probabilities for each file, in order, or the error that stopped it.

        Decoders run ahead of inference and ``lanes`` batches are scored at once, so that
        decoding overlaps with inference and no core waits while there is work.
        """
        ahead = (self.lanes + 1) * self.batch_size
        loaded = prefetch(self._try_load, paths, self.workers, depth=ahead)
        batches = chunks(loaded, self.batch_size)
        for rows in prefetch(self._score_chunk, batches, self.lanes, depth=self.lanes):
            yield from rows

    def _score_chunk(
        self, chunk: list[tuple[Path, np.ndarray | ImageLoadError]]
    ) -> list[tuple[Path, np.ndarray | ImageLoadError]]:
        good = [arr for _, arr in chunk if isinstance(arr, np.ndarray)]
        probs = iter(softmax(self.logits(np.stack(good))) if good else [])
        return [(path, next(probs) if isinstance(arr, np.ndarray) else arr) for path, arr in chunk]

    def top_k(self, logits: np.ndarray, k: int) -> list[list[Prediction]]:
        """Softmax then the k most probable classes per row, best first."""
        return [self._ranked(row, k) for row in softmax(logits)]

    def _ranked(self, probs: np.ndarray, k: int) -> list[Prediction]:
        order = np.argsort(-probs, kind="stable")[: min(k, probs.shape[0])]
        return [self._prediction(r + 1, int(i), float(probs[i])) for r, i in enumerate(order)]

    def _prediction(self, rank: int, index: int, probability: float) -> Prediction:
        classes = self.model.classes
        return Prediction(rank, index, classes.wnids[index], classes.labels[index], probability)

    def _try_load(self, path: Path) -> tuple[Path, np.ndarray | ImageLoadError]:
        try:
            return path, self.load_array(path)
        except ImageLoadError as exc:
            logger.error("skipping %s", exc)
            return path, exc

    def _tensor_array(self, tensor: torch.Tensor) -> np.ndarray:
        if tensor.ndim != 3 or tensor.shape[0] != 3:
            raise ConfigError(
                f"expected a CHW tensor with 3 channels, got shape {tuple(tensor.shape)}"
            )
        import torch  # already imported: a tensor exists

        if tensor.dtype == torch.uint8:
            image = Image.fromarray(tensor.permute(1, 2, 0).cpu().numpy(), mode="RGB")
            return self.model.preprocessing.to_array(image)
        return tensor.detach().cpu().float().numpy()


def is_tensor(item: Any) -> TypeGuard[torch.Tensor]:
    """Whether ``item`` is a torch tensor, without importing torch: if nothing imported it,
    no tensor can exist."""
    module = sys.modules.get("torch")
    return module is not None and isinstance(item, module.Tensor)


def draft_size(resize_size: int, margin: int = DRAFT_MARGIN) -> tuple[int, int]:
    """The size to ask Pillow's JPEG draft mode for: it picks the largest reduction that keeps
    both sides at least this large, so the short side stays >= ``margin * resize_size``."""
    side = margin * resize_size
    return (side, side)


def _draft_text(size: tuple[int, int] | None) -> str:
    if size is None:
        return "full-size JPEG decoding"
    return f"JPEG draft decoding down to a short side of {size[0]} px at the least"


def prefetch(fn: Callable[[T], R], items: Iterable[T], workers: int, depth: int) -> Iterator[R]:
    """``map(fn, items)`` in a thread pool, in order, with at most ``depth`` results waiting."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synsetlab-decode") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

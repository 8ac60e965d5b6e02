"""Evaluating a classifier on labelled images: ILSVRC top-1 and top-5."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synsetlab.data.labelled import LabelledImage, read_labelled
from synsetlab.engine.classifier import Classifier
from synsetlab.errors import DatasetError, ImageLoadError
from synsetlab.evaluate.metrics import topk_accuracy
from synsetlab.models.classes import ClassList

logger = logging.getLogger(__name__)

#: How many ranked guesses are kept per image (ILSVRC scores five).
KEEP = 5


@dataclass
class Evaluation:
    """Everything measured on one dataset; ``ranked``/``scores`` hold the top guesses."""

    model: str
    data: str
    paths: list[str]
    truth: np.ndarray
    ranked: np.ndarray
    scores: np.ndarray
    true_scores: np.ndarray
    failures: list[tuple[str, str]] = field(default_factory=list)
    unknown_labels: dict[str, int] = field(default_factory=dict)
    #: The model's classes, for diagnostics that name them (None when built without a model).
    classes: ClassList | None = None

    @property
    def num_images(self) -> int:
        return len(self.paths)

    def accuracy(self, k: int) -> float:
        return topk_accuracy(self.truth, self.ranked, k)

    def summary(self) -> dict[str, Any]:
        """The headline figures, as written to JSON."""
        top1, top5 = self.accuracy(1), self.accuracy(min(KEEP, self.ranked.shape[1]))
        return {
            "model": self.model,
            "data": self.data,
            "top1_accuracy": _finite(top1),
            "top5_accuracy": _finite(top5),
            "top1_error": _finite(1.0 - top1),
            "top5_error": _finite(1.0 - top5),
            "num_images": self.num_images,
            "num_failed": len(self.failures),
            "failed": [{"path": p, "error": e} for p, e in self.failures],
            "unknown_labels": self.unknown_labels,
        }


def _finite(value: float) -> float | None:
    # No usable image leaves accuracy undefined (NaN), which is not valid JSON: write null.
    return None if np.isnan(value) else value


def evaluate(
    classifier: Classifier,
    data: Path,
    labels: Path | None = None,
    on_image: Callable[[], None] | None = None,
    devkit: Path | None = None,
) -> Evaluation:
    """Classify every labelled image under ``data`` and score the guesses."""
    items = read_labelled(data, labels, devkit)
    known, unknown = map_labels(items, classifier.model.classes)
    if not known:
        raise DatasetError(
            f"{data}: none of the labels {sorted(unknown)[:5]} is a class of the model"
        )
    truth_of = {item.path: index for item, index in known}
    paths, truth, rows, failures = [], [], [], []
    for path, probs in classifier.score_files([item.path for item, _ in known]):
        if on_image is not None:
            on_image()
        if isinstance(probs, ImageLoadError):
            failures.append((str(path), probs.reason))
            continue
        paths.append(str(path))
        truth.append(truth_of[path])
        rows.append(probs)
    evaluation = _collect(
        classifier.model.name, data, paths, np.asarray(truth), rows, failures, unknown
    )
    evaluation.classes = classifier.model.classes
    return evaluation


def map_labels(
    items: list[LabelledImage], classes: ClassList
) -> tuple[list[tuple[LabelledImage, int]], dict[str, int]]:
    """Pair each image with its class index; count the labels the model does not know."""
    _refuse_one_based_ids(items, classes)
    known: list[tuple[LabelledImage, int]] = []
    unknown: dict[str, int] = {}
    for item in items:
        index = class_index(item.label, classes, allow_index=item.from_file)
        if index is None:
            unknown[item.label] = unknown.get(item.label, 0) + 1
        else:
            known.append((item, index))
    for label, count in sorted(unknown.items()):
        logger.warning("label %r (%d images) is not a class of the model; left out", label, count)
    return known, unknown


def _refuse_one_based_ids(items: list[LabelledImage], classes: ClassList) -> None:
    """Integer labels 1..N with N present and 0 absent are not our 0-based indices.

    The ILSVRC devkit's ground truth holds ILSVRC2012_IDs (1-based, in the devkit's own class
    order, not the sorted WordNet-id order): read as indices, nearly every image would be
    scored against the wrong class, silently. ``--devkit meta.mat`` translates them.
    """
    labels = {item.label for item in items}
    if not labels or not all(label.isdigit() for label in labels):
        return
    if any(_is_class_name(label, classes) for label in labels):
        return  # a model whose classes are named "1", "2"...: the names decide
    numbers = {int(label) for label in labels}
    if 0 not in numbers and len(classes) in numbers:
        raise DatasetError(
            f"the labels are integers from 1 to {len(classes)}: devkit ILSVRC2012_IDs, not "
            f"0-based class indices in the model's order (0 to {len(classes) - 1}); pass the "
            "devkit's meta.mat with --devkit to translate them to WordNet ids"
        )


def _is_class_name(label: str, classes: ClassList) -> bool:
    try:
        classes.index_of(label)
    except KeyError:
        return False
    return True


def class_index(label: str, classes: ClassList, allow_index: bool = True) -> int | None:
    """A label's class index: a WordNet id, a class name, or (``allow_index``) a 0-based
    integer index, as ground-truth files write them."""
    try:
        return classes.index_of(label)
    except KeyError:
        pass
    if allow_index and label.isdigit() and int(label) < len(classes):
        return int(label)
    return None


def _collect(
    model: str,
    data: Path,
    paths: list[str],
    truth: np.ndarray,
    rows: list[np.ndarray],
    failures: list[tuple[str, str]],
    unknown: dict[str, int],
) -> Evaluation:
    probs = np.stack(rows) if rows else np.zeros((0, KEEP), dtype=np.float32)
    keep = min(KEEP, probs.shape[1])
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :keep]
    index = np.arange(len(paths))
    return Evaluation(
        model=model,
        data=str(data),
        paths=paths,
        truth=truth.astype(np.int64),
        ranked=ranked,
        scores=np.take_along_axis(probs, ranked, axis=1),
        true_scores=probs[index, truth] if len(paths) else np.zeros(0, dtype=np.float32),
        failures=failures,
        unknown_labels=unknown,
    )

"""Where and how a classifier is wrong: per-class figures, confusions, losses, calibration and
the ILSVRC-2010 hierarchical cost.

Everything here is computed from an :class:`~synsetlab.evaluate.runner.Evaluation` (truth, the
five best guesses with their probabilities, and the probability of the true class):

* **per class** (by the model's class index, which never shifts): support (images of the
  class), predicted (images guessed as it), top-1 accuracy (= recall: the share of the class's
  images whose first guess is right), top-5 accuracy, precision and F1. A class of the model
  without images in the data is *missing*: its accuracy and recall are undefined (``None``),
  not 0%. A class never guessed has an undefined precision.
* **confusion matrix** of first guesses, rows = true class, columns = guessed class, and the
  most-confused pairs (the largest off-diagonal cells).
* **loss** of an image: the cross-entropy ``-ln p(true class)`` (probabilities below
  :data:`MIN_PROBABILITY` are clipped); the worst mistakes are the top-1 mistakes of highest loss.
* **calibration**: the expected calibration error (Guo et al., 2017) of the first guess's
  probability over :data:`CALIBRATION_BINS` equal-width bins, a bin holding the confidences in
  ``(lower, upper]`` (the first bin also holds 0).
* **hierarchical cost** (ILSVRC-2010): per image the lowest height, in the WordNet tree, of the
  lowest common ancestor of the true synset and any of the five guesses (0 when a guess is
  right, leaves have height 0); reported as its mean, with the share of top-1 mistakes whose
  guess shares a direct parent synset with the truth. It applies only when every class of the
  model is a synset of the ImageNet-1k WordNet hierarchy; otherwise it is reported as not
  applicable, with the reason.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from synsetlab.errors import ConfigError
from synsetlab.evaluate.runner import Evaluation
from synsetlab.models.classes import ClassList
from synsetlab.wordnet.hierarchy import WordNetHierarchy, load_hierarchy

logger = logging.getLogger(__name__)

#: Probabilities are clipped to this before taking the log, so a loss stays finite (~27.6).
MIN_PROBABILITY = 1e-12
#: Equal-width confidence bins for the expected calibration error.
CALIBRATION_BINS = 15
#: How many most-confused pairs and worst mistakes are kept by default.
TOP_PAIRS = 20
TOP_MISTAKES = 24


@dataclass(frozen=True)
class ClassStats:
    """The figures of one class of the model; ``None`` where a figure is undefined."""

    index: int
    wnid: str | None
    label: str
    support: int
    predicted: int
    top1_hits: int
    top5_hits: int

    @property
    def missing(self) -> bool:
        """True when the data hold no image of this class."""
        return self.support == 0

    @property
    def recall(self) -> float | None:
        return None if self.missing else self.top1_hits / self.support

    @property
    def top5_accuracy(self) -> float | None:
        return None if self.missing else self.top5_hits / self.support

    @property
    def precision(self) -> float | None:
        return None if self.predicted == 0 else self.top1_hits / self.predicted

    @property
    def f1(self) -> float | None:
        if self.recall is None or self.precision is None:
            return None
        total = self.recall + self.precision
        return 0.0 if total == 0 else 2 * self.recall * self.precision / total

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "wnid": self.wnid,
            "label": self.label,
            "status": "missing" if self.missing else "present",
            "support": self.support,
            "predicted": self.predicted,
            "top1_accuracy": self.recall,
            "top5_accuracy": self.top5_accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class Confusion:
    """``count`` images of class ``true_index`` whose first guess was ``predicted_index``."""

    true_index: int
    predicted_index: int
    count: int


@dataclass(frozen=True)
class Mistake:
    """One image whose first guess is wrong, with its loss and the top guesses."""

    path: str
    true_index: int
    predicted_index: int
    true_probability: float
    predicted_probability: float
    loss: float
    guesses: tuple[int, ...]


@dataclass(frozen=True)
class ReliabilityBin:
    """Images whose first-guess probability lies in ``(lower, upper]``."""

    lower: float
    upper: float
    count: int
    confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    ece: float | None
    bins: tuple[ReliabilityBin, ...]
    mean_confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ece": self.ece,
            "num_bins": len(self.bins),
            "mean_confidence": self.mean_confidence,
            "bins": [bin_.__dict__ for bin_ in self.bins],
        }


@dataclass(frozen=True)
class HierarchicalCost:
    """The ILSVRC-2010 hierarchical cost; only ``reason`` is set when it is not applicable."""

    applicable: bool
    reason: str = ""
    mean_cost: float | None = None
    mean_cost_top1: float | None = None
    mean_mistake_cost: float | None = None
    num_mistakes: int = 0
    same_parent_mistakes: int = 0
    cost_counts: tuple[tuple[int, int], ...] = ()
    costs: tuple[int, ...] = ()

    @property
    def same_parent_share(self) -> float | None:
        if not self.applicable or self.num_mistakes == 0:
            return None
        return self.same_parent_mistakes / self.num_mistakes

    def to_dict(self) -> dict[str, Any]:
        if not self.applicable:
            return {"applicable": False, "reason": self.reason}
        return {
            "applicable": True,
            "definition": "height of the lowest common WordNet ancestor of the true and the "
            "guessed synset (leaves 0), per image the minimum over the top-5 guesses",
            "mean_cost": self.mean_cost,
            "mean_cost_top1": self.mean_cost_top1,
            "mean_mistake_cost_top1": self.mean_mistake_cost,
            "num_top1_mistakes": self.num_mistakes,
            "same_parent_mistakes": self.same_parent_mistakes,
            "same_parent_share": self.same_parent_share,
            "cost_counts": {str(cost): count for cost, count in self.cost_counts},
        }


@dataclass
class Diagnostics:
    """Every diagnostic of one evaluation; :meth:`to_dict` is what ``metrics.json`` holds."""

    evaluation: Evaluation
    classes: ClassList
    per_class: list[ClassStats]
    confusion: np.ndarray
    most_confused: list[Confusion]
    worst_mistakes: list[Mistake]
    calibration: Calibration
    hierarchy: HierarchicalCost

    @property
    def missing_classes(self) -> list[ClassStats]:
        return [stats for stats in self.per_class if stats.missing]

    def headline(self) -> dict[str, Any]:
        """The evaluation summary plus the diagnostics' one-number figures."""
        present = [s.recall for s in self.per_class if s.recall is not None]
        precisions = [s.precision for s in self.per_class if s.precision is not None]
        return {
            **self.evaluation.summary(),
            "num_classes": len(self.classes),
            "num_classes_present": len(present),
            "num_classes_missing": len(self.missing_classes),
            "mean_class_accuracy": _mean(present),
            "mean_precision": _mean(precisions),
            "mean_loss": _mean(image_losses(self.evaluation).tolist()),
            "ece": self.calibration.ece,
            "hierarchical_cost": self.hierarchy.mean_cost,
            "same_parent_share": self.hierarchy.same_parent_share,
        }

    def to_dict(self) -> dict[str, Any]:
        return _finite(
            {
                "format": "synsetlab.evaluation-diagnostics",
                "format_version": 1,
                **self.headline(),
                "hierarchical": self.hierarchy.to_dict(),
                "calibration": self.calibration.to_dict(),
                "missing_classes": [s.index for s in self.missing_classes],
                "most_confused": [self._pair_dict(pair) for pair in self.most_confused],
                "worst_mistakes": [self._mistake_dict(m) for m in self.worst_mistakes],
                "per_class": [stats.to_dict() for stats in self.per_class],
            }
        )

    def describe(self, index: int) -> dict[str, Any]:
        """A class as ``{"index", "wnid", "label"}``."""
        return {"index": index, "wnid": self.classes.wnids[index], "label": self.label(index)}

    def label(self, index: int) -> str:
        return self.classes.labels[index]

    def _pair_dict(self, pair: Confusion) -> dict[str, Any]:
        support = self.per_class[pair.true_index].support
        return {
            "true": self.describe(pair.true_index),
            "predicted": self.describe(pair.predicted_index),
            "count": pair.count,
            "share_of_true_class": pair.count / support,
        }

    def _mistake_dict(self, mistake: Mistake) -> dict[str, Any]:
        return {
            "path": mistake.path,
            "true": self.describe(mistake.true_index),
            "predicted": self.describe(mistake.predicted_index),
            "true_probability": mistake.true_probability,
            "predicted_probability": mistake.predicted_probability,
            "loss": mistake.loss,
            "top5": [self.describe(index) for index in mistake.guesses],
        }


def diagnose(
    evaluation: Evaluation,
    *,
    top_pairs: int = TOP_PAIRS,
    top_mistakes: int = TOP_MISTAKES,
    bins: int = CALIBRATION_BINS,
    hierarchy: WordNetHierarchy | None = None,
) -> Diagnostics:
    """All diagnostics of ``evaluation``; ``hierarchy`` defaults to the packaged WordNet one."""
    classes = _classes_of(evaluation)
    matrix = confusion_matrix(evaluation.truth, first_guesses(evaluation), len(classes))
    hierarchical = hierarchical_cost(evaluation, classes, hierarchy)
    logger.info(
        "diagnostics: %d classes, %d images; hierarchical cost %s",
        len(classes),
        evaluation.num_images,
        "applies" if hierarchical.applicable else f"not applicable ({hierarchical.reason})",
    )
    return Diagnostics(
        evaluation=evaluation,
        classes=classes,
        per_class=class_stats(evaluation, classes, matrix),
        confusion=matrix,
        most_confused=most_confused(matrix, top_pairs, confidence_matrix(evaluation, len(classes))),
        worst_mistakes=worst_mistakes(evaluation, top_mistakes),
        calibration=calibration(*_confidence_and_hits(evaluation), bins=bins),
        hierarchy=hierarchical,
    )


def first_guesses(evaluation: Evaluation) -> np.ndarray:
    """The top-1 class index of every image."""
    if evaluation.ranked.shape[1] == 0:
        raise ConfigError("expected at least one ranked guess per image, got none")
    return evaluation.ranked[:, 0].astype(np.int64)


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = first guess."""
    cells = truth.astype(np.int64) * num_classes + predicted.astype(np.int64)
    counts = np.bincount(cells, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def class_stats(evaluation: Evaluation, classes: ClassList, matrix: np.ndarray) -> list[ClassStats]:
    """Per-class figures for every class of the model, in index order."""
    n = len(classes)
    top5 = (evaluation.ranked == evaluation.truth[:, None]).any(axis=1)
    top5_hits = np.bincount(evaluation.truth[top5], minlength=n)
    support, predicted, diagonal = matrix.sum(axis=1), matrix.sum(axis=0), np.diag(matrix)
    return [
        ClassStats(
            index=i,
            wnid=classes.wnids[i],
            label=classes.labels[i],
            support=int(support[i]),
            predicted=int(predicted[i]),
            top1_hits=int(diagonal[i]),
            top5_hits=int(top5_hits[i]),
        )
        for i in range(n)
    ]


def most_confused(
    matrix: np.ndarray, limit: int = TOP_PAIRS, confidence: np.ndarray | None = None
) -> list[Confusion]:
    """The largest off-diagonal cells, most images first. Ties (common when a class has few
    images) go to the higher summed ``confidence`` of the wrong guesses, if given, then to the
    lower true and guessed index."""
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    weight = np.zeros(matrix.shape) if confidence is None else confidence
    cells = zip(*np.nonzero(off), strict=True)
    order = sorted(cells, key=lambda rc: (-off[rc], -weight[rc]))
    return [Confusion(int(r), int(c), int(off[r, c])) for r, c in order[:limit]]


def confidence_matrix(evaluation: Evaluation, num_classes: int) -> np.ndarray:
    """Summed first-guess probability per (true class, first guess) cell."""
    guesses = first_guesses(evaluation)
    cells = evaluation.truth * num_classes + guesses
    weights = evaluation.scores[:, 0].astype(np.float64)
    summed = np.bincount(cells, weights=weights, minlength=num_classes * num_classes)
    return summed.reshape(num_classes, num_classes)


def image_losses(evaluation: Evaluation) -> np.ndarray:
    """Cross-entropy of each image: ``-ln p(true class)``, the probability clipped below."""
    probabilities = np.asarray(evaluation.true_scores, dtype=np.float64)
    return -np.log(np.clip(probabilities, MIN_PROBABILITY, 1.0))


def worst_mistakes(evaluation: Evaluation, limit: int = TOP_MISTAKES) -> list[Mistake]:
    """The top-1 mistakes of highest loss, worst first (ties in image order)."""
    losses = image_losses(evaluation)
    wrong = np.flatnonzero(first_guesses(evaluation) != evaluation.truth)
    order = wrong[np.argsort(-losses[wrong], kind="stable")][:limit]
    return [_mistake(evaluation, int(i), float(losses[i])) for i in order]


def _mistake(evaluation: Evaluation, i: int, loss: float) -> Mistake:
    return Mistake(
        path=evaluation.paths[i],
        true_index=int(evaluation.truth[i]),
        predicted_index=int(evaluation.ranked[i, 0]),
        true_probability=float(evaluation.true_scores[i]),
        predicted_probability=float(evaluation.scores[i, 0]),
        loss=loss,
        guesses=tuple(int(g) for g in evaluation.ranked[i]),
    )


def calibration(
    confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS
) -> Calibration:
    """Expected calibration error and reliability bins of top-1 ``confidence`` vs ``correct``."""
    if bins < 1:
        raise ConfigError(f"expected at least one calibration bin, got {bins}")
    confidence = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    slots = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    table = tuple(_bin(b, bins, confidence[slots == b], hits[slots == b]) for b in range(bins))
    if confidence.size == 0:
        return Calibration(ece=None, bins=table, mean_confidence=None)
    gaps = [b.count * abs(b.accuracy - b.confidence) for b in table if b.count]  # type: ignore[operator]
    return Calibration(
        ece=float(sum(gaps) / confidence.size),
        bins=table,
        mean_confidence=float(confidence.mean()),
    )


def _bin(b: int, bins: int, confidence: np.ndarray, hits: np.ndarray) -> ReliabilityBin:
    if confidence.size == 0:
        return ReliabilityBin(b / bins, (b + 1) / bins, 0, None, None)
    mean_confidence, accuracy = float(confidence.mean()), float(hits.mean())
    return ReliabilityBin(b / bins, (b + 1) / bins, int(confidence.size), mean_confidence, accuracy)


def _confidence_and_hits(evaluation: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    return evaluation.scores[:, 0], first_guesses(evaluation) == evaluation.truth


def hierarchy_problem(classes: ClassList, hierarchy: WordNetHierarchy) -> str | None:
    """Why the hierarchical cost does not apply to ``classes``, or None when it does."""
    no_wnid = [label for label, wnid in zip(classes.labels, classes.wnids, strict=True) if not wnid]
    if no_wnid:
        return (
            f"{len(no_wnid)} of the model's {len(classes)} classes have no WordNet id "
            f"(e.g. {no_wnid[0]!r})"
        )
    unknown = [wnid for wnid in classes.wnids if wnid is not None and wnid not in hierarchy]
    if unknown:
        return (
            f"{len(unknown)} of the model's class ids are not in the ImageNet-1k WordNet "
            f"hierarchy (e.g. {unknown[0]!r})"
        )
    return None


def hierarchical_cost(
    evaluation: Evaluation, classes: ClassList, hierarchy: WordNetHierarchy | None = None
) -> HierarchicalCost:
    """The ILSVRC-2010 hierarchical cost of every image, summarised; see the module docstring."""
    hierarchy = hierarchy or load_hierarchy()
    problem = hierarchy_problem(classes, hierarchy)
    if problem is not None:
        return HierarchicalCost(applicable=False, reason=problem)
    wnids = [str(wnid) for wnid in classes.wnids]
    truths = [wnids[t] for t in evaluation.truth.tolist()]
    guesses = [[wnids[g] for g in row] for row in evaluation.ranked.tolist()]
    costs = [hierarchy.hierarchical_cost(t, g) for t, g in zip(truths, guesses, strict=True)]
    top1 = [hierarchy.hierarchical_cost(t, g[:1]) for t, g in zip(truths, guesses, strict=True)]
    return _cost_summary(hierarchy, truths, [g[0] for g in guesses], costs, top1)


def _cost_summary(
    hierarchy: WordNetHierarchy,
    truths: list[str],
    firsts: list[str],
    costs: list[int],
    top1: list[int],
) -> HierarchicalCost:
    wrong = [i for i, (t, g) in enumerate(zip(truths, firsts, strict=True)) if t != g]
    same = sum(hierarchy.same_parent(truths[i], firsts[i]) for i in wrong)
    return HierarchicalCost(
        applicable=True,
        mean_cost=_mean(costs),
        mean_cost_top1=_mean(top1),
        mean_mistake_cost=_mean([top1[i] for i in wrong]),
        num_mistakes=len(wrong),
        same_parent_mistakes=int(same),
        cost_counts=tuple(sorted(Counter(costs).items())),
        costs=tuple(costs),
    )


def _classes_of(evaluation: Evaluation) -> ClassList:
    if evaluation.classes is None:
        raise ConfigError(
            f"the evaluation of {evaluation.model} carries no class list; diagnostics need the "
            "model's classes (evaluate through synsetlab.evaluate.runner.evaluate)"
        )
    top = max(evaluation.truth.max(initial=-1), evaluation.ranked.max(initial=-1))
    if top >= len(evaluation.classes):
        raise ConfigError(
            f"class index {top} is out of range for the model's {len(evaluation.classes)} classes"
        )
    return evaluation.classes


def _mean(values: list[float] | list[int]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, so the JSON stays standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value

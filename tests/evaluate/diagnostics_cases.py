"""Small hand-built evaluations shared by the diagnostics, report, compare and browser tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from synsetlab.evaluate.runner import Evaluation
from synsetlab.models.classes import ClassList

REPO = Path(__file__).resolve().parents[2]

# Three classes; five images of apple (0) and banana (1); cherry (2) has no image but is
# guessed once. First guesses: apple, apple, banana | banana, cherry.
ABC = ClassList.from_names(["apple", "banana", "cherry"])
PROBS = [
    [0.7, 0.2, 0.1],
    [0.5, 0.3, 0.2],
    [0.3, 0.6, 0.1],
    [0.1, 0.8, 0.1],
    [0.1, 0.3, 0.6],
]
TRUTH = [0, 0, 0, 1, 1]

# Four guesses at a tabby photo, each with a different first guess: tabby (cost 0), tiger cat
# (1), lynx (2), leopard (3). Hand-checked in WordNet 3.0: tabby and tiger cat are both children
# of domestic cat, whose children are all leaves (height 1); lynx is a wildcat, and
# cat = {domestic cat, wildcat} has height 2; leopard is a big cat, and feline = {cat, big cat}
# has height 3.
TABBY, TIGER_CAT, LYNX, LEOPARD = 281, 282, 287, 288
CAT_GUESSES = [
    [TABBY, TIGER_CAT, LYNX, LEOPARD, 0],
    [TIGER_CAT, LEOPARD, LYNX, 0, 1],
    [LYNX, LEOPARD, 0, 1, 2],
    [LEOPARD, 0, 1, 2, 3],
]


def from_probs(
    probs: Sequence[Sequence[float]],
    truth: Sequence[int],
    classes: ClassList,
    paths: Sequence[str] | None = None,
    model: str = "toy",
) -> Evaluation:
    """An Evaluation as the runner would build it from these class probabilities."""
    array = np.asarray(probs, dtype=np.float32)
    ranked = np.argsort(-array, axis=1, kind="stable")[:, : min(5, array.shape[1])]
    rows = np.arange(len(truth))
    return Evaluation(
        model=model,
        data="toy-data",
        paths=list(paths) if paths is not None else [f"img{i}.jpg" for i in rows],
        truth=np.asarray(truth, dtype=np.int64),
        ranked=ranked,
        scores=np.take_along_axis(array, ranked, axis=1),
        true_scores=array[rows, np.asarray(truth)],
        classes=classes,
    )


def from_ranked(
    ranked: Sequence[Sequence[int]], truth: Sequence[int], classes: ClassList
) -> Evaluation:
    """An Evaluation with the given guesses, each image sure of its first guess (p = 0.9)."""
    guesses = np.asarray(ranked, dtype=np.int64)
    truth_array = np.asarray(truth, dtype=np.int64)
    scores = np.tile(np.linspace(0.9, 0.01, guesses.shape[1]), (len(truth), 1))
    hit = guesses == truth_array[:, None]
    true_scores = np.where(hit.any(axis=1), (scores * hit).sum(axis=1), 0.001)
    return Evaluation(
        model="toy",
        data="toy-data",
        paths=[f"img{i}.jpg" for i in range(len(truth))],
        truth=truth_array,
        ranked=guesses,
        scores=scores.astype(np.float32),
        true_scores=true_scores.astype(np.float32),
        classes=classes,
    )


def write_jpeg(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> str:
    """A plain JPEG of one colour; returns its path as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="JPEG", quality=95)
    return str(path)

"""topk_accuracy on arrays worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synsetlab.errors import ConfigError
from synsetlab.evaluate.metrics import topk_accuracy

TRUTH = np.array([0, 1, 2, 3])
RANKED = np.array(
    [
        [0, 5, 6, 7, 8],  # right first time
        [9, 1, 6, 7, 8],  # second guess
        [9, 8, 7, 6, 2],  # fifth guess
        [9, 8, 7, 6, 5],  # never
    ]
)


@pytest.mark.parametrize(("k", "expected"), [(1, 0.25), (2, 0.5), (4, 0.5), (5, 0.75)])
def test_topk_by_hand(k: int, expected: float) -> None:
    assert topk_accuracy(TRUTH, RANKED, k) == expected


def test_a_class_repeated_among_the_guesses_counts_once() -> None:
    assert topk_accuracy(np.array([1]), np.array([[1, 1, 1]]), 3) == 1.0


def test_no_images_gives_nan() -> None:
    assert math.isnan(topk_accuracy(np.zeros(0, dtype=int), np.zeros((0, 5), dtype=int), 5))


def test_too_few_guesses() -> None:
    with pytest.raises(ConfigError, match="top-5 accuracy needs 5 guesses"):
        topk_accuracy(TRUTH, RANKED[:, :3], 5)


def test_shapes_must_agree() -> None:
    with pytest.raises(ConfigError, match="shape"):
        topk_accuracy(TRUTH, RANKED[:3], 1)
    with pytest.raises(ConfigError, match="shape"):
        topk_accuracy(TRUTH, RANKED[:, 0], 1)


def test_k_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="k >= 1"):
        topk_accuracy(TRUTH, RANKED, 0)

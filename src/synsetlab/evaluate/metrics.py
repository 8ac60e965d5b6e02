"""ILSVRC classification metrics.

An image counts as correct at k when its true class is among the model's k highest-scoring
guesses; top-k error is one minus that (ILSVRC's headline figure was the top-5 error).
"""

from __future__ import annotations

import numpy as np

from synsetlab.errors import ConfigError


def topk_accuracy(truth: np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Share of rows of ``ranked`` (N, >=k class indices, best first) whose first k hold
    the matching entry of ``truth`` (N,). An empty set of images has accuracy NaN."""
    if k < 1:
        raise ConfigError(f"top-k accuracy needs k >= 1, got {k}")
    if ranked.ndim != 2 or ranked.shape[0] != truth.shape[0]:
        raise ConfigError(
            f"expected ranked guesses of shape ({truth.shape[0]}, k), got {ranked.shape}"
        )
    if ranked.shape[1] < k:
        raise ConfigError(f"top-{k} accuracy needs {k} guesses per image, got {ranked.shape[1]}")
    if truth.shape[0] == 0:
        return float("nan")
    hits = (ranked[:, :k] == truth[:, None]).any(axis=1)
    return float(hits.mean())

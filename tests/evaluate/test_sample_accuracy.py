"""efficientnet_lite0 on a fixed subset of the real ImageNet sample must reach a floor.

The subset: every 10th class folder of ``../shared/data/imagenet-sample`` in sorted order
(classes 0, 10, ..., 990), one photo each, 100 images.

How the floor was set: on the full sample (1000 photos) lite0 scores 81.2% top-1 and 95.5%
top-5 (README). On this subset it scored 81/100 top-1 and 95/100 top-5 (measured with this
test's set-up; over the ten disjoint subsets 0..9 of the same kind, top-1 ranged 74-86 and
totalled 81.3%, top-5 93-99, totalling 95.5%). The floor sits a few points below the
subset's own figures: 76 and 91. A known regression lands well under it: ImageNet mean/std
instead of mean = std = 0.5 gives 67 / 89 on this subset.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from synsetlab.engine.classifier import Classifier
from synsetlab.evaluate.runner import evaluate

STEP = 10
TOP1_FLOOR = 0.76
TOP5_FLOOR = 0.91

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def subset(shared_data: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class-folder tree of links to every 10th class of the sample (data is not copied)."""
    sample = shared_data("imagenet-sample")
    folders = sorted(p for p in sample.iterdir() if p.is_dir())
    assert len(folders) == 1000, f"{sample} should hold 1000 class folders"
    root = tmp_path_factory.mktemp("imagenet-subset")
    for folder in folders[::STEP]:
        os.symlink(folder.resolve(), root / folder.name)
    return root


def test_lite0_reaches_the_floor_on_the_subset(lite0_classifier: Classifier, subset: Path):
    result = evaluate(lite0_classifier, subset)
    assert result.num_images == 100 and not result.failures and not result.unknown_labels
    top1, top5 = result.accuracy(1), result.accuracy(5)
    assert top1 >= TOP1_FLOOR, f"top-1 {top1:.2f} is under the floor {TOP1_FLOOR}"
    assert top5 >= TOP5_FLOOR, f"top-5 {top5:.2f} is under the floor {TOP5_FLOOR}"

"""Diagnostics on evaluations built by hand, every expected value worked out on paper."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from diagnostics_cases import ABC, CAT_GUESSES, PROBS, TABBY, TRUTH, from_probs, from_ranked

from synsetlab.errors import ConfigError
from synsetlab.evaluate.diagnostics import (
    calibration,
    diagnose,
    hierarchical_cost,
    most_confused,
)
from synsetlab.models.classes import ClassList, imagenet_classes
from synsetlab.wordnet.hierarchy import Synset, WordNetHierarchy


def test_per_class_figures_and_missing_class_keep_their_index() -> None:
    diagnostics = diagnose(from_probs(PROBS, TRUTH, ABC))
    apple, banana, cherry = diagnostics.per_class
    assert [s.index for s in diagnostics.per_class] == [0, 1, 2]
    assert [s.label for s in diagnostics.per_class] == ["apple", "banana", "cherry"]
    assert (apple.support, apple.predicted, apple.top1_hits) == (3, 2, 2)
    assert apple.recall == pytest.approx(2 / 3)
    assert apple.precision == 1.0
    assert apple.f1 == pytest.approx(0.8)
    assert (banana.support, banana.predicted, banana.recall, banana.precision) == (2, 2, 0.5, 0.5)
    # Missing from the data: undefined, not 0%; guessed once, wrongly: precision 0.
    assert cherry.missing and cherry.recall is None and cherry.top5_accuracy is None
    assert cherry.precision == 0.0
    assert cherry.to_dict()["status"] == "missing"
    assert cherry.to_dict()["top1_accuracy"] is None
    assert diagnostics.headline()["num_classes_missing"] == 1
    assert diagnostics.headline()["mean_class_accuracy"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_top5_accuracy_per_class_counts_any_of_the_guesses() -> None:
    diagnostics = diagnose(from_probs(PROBS, TRUTH, ABC))
    # Three classes only, so every image has its class among its (three) guesses.
    assert [s.top5_accuracy for s in diagnostics.per_class[:2]] == [1.0, 1.0]


def test_confusion_matrix_and_most_confused_pairs() -> None:
    diagnostics = diagnose(from_probs(PROBS, TRUTH, ABC))
    np.testing.assert_array_equal(diagnostics.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 0]])
    pairs = [(p.true_index, p.predicted_index, p.count) for p in diagnostics.most_confused]
    assert pairs == [(0, 1, 1), (1, 2, 1)]


def test_most_confused_orders_by_count_then_index() -> None:
    matrix = np.array([[5, 1, 3], [4, 2, 0], [1, 4, 9]])
    pairs = [(p.true_index, p.predicted_index, p.count) for p in most_confused(matrix, 3)]
    assert pairs == [(1, 0, 4), (2, 1, 4), (0, 2, 3)]


def test_most_confused_ties_go_to_the_more_confident_confusion() -> None:
    matrix = np.array([[5, 1, 3], [4, 2, 0], [1, 4, 9]])
    confidence = np.zeros((3, 3))
    confidence[1, 0], confidence[2, 1] = 2.0, 3.5
    found = most_confused(matrix, 2, confidence)
    assert [(p.true_index, p.predicted_index) for p in found] == [(2, 1), (1, 0)]


def test_worst_mistakes_are_the_wrong_images_of_highest_loss() -> None:
    diagnostics = diagnose(from_probs(PROBS, TRUTH, ABC, paths=list("abcde")))
    worst = diagnostics.worst_mistakes
    # Image c: p(apple) = 0.3, loss ln(1/0.3) = 1.204; image e: p(banana) = 0.3 as well,
    # a tie kept in image order.
    assert [m.path for m in worst] == ["c", "e"]
    assert worst[0].loss == pytest.approx(-math.log(0.3), rel=1e-6)
    assert (worst[1].true_index, worst[1].predicted_index) == (1, 2)
    assert worst[1].predicted_probability == pytest.approx(0.6)
    mean_loss = -np.log([0.7, 0.5, 0.3, 0.8, 0.3]).mean()
    assert diagnostics.headline()["mean_loss"] == pytest.approx(mean_loss, rel=1e-6)


def test_expected_calibration_error_on_hand_computed_bins() -> None:
    # Bin (0.8, 0.9]: confidence 0.85, accuracy 1/2 -> gap 0.35 on 2 images.
    # Bin (0.5, 0.6]: confidence 0.55, accuracy 1 -> gap 0.45 on 2 images.
    result = calibration(np.array([0.85, 0.85, 0.55, 0.55]), np.array([1, 0, 1, 1]), bins=10)
    assert result.ece == pytest.approx((2 * 0.35 + 2 * 0.45) / 4)
    counts = [b.count for b in result.bins]
    assert counts == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]
    assert result.bins[8].accuracy == 0.5 and result.bins[8].confidence == pytest.approx(0.85)
    assert result.bins[0].accuracy is None
    assert result.mean_confidence == pytest.approx(0.7)


def test_calibration_puts_the_edges_in_the_first_and_last_bins() -> None:
    result = calibration(np.array([0.0, 1.0, 0.5]), np.array([0, 1, 1]), bins=4)
    assert [b.count for b in result.bins] == [1, 1, 0, 1]
    assert result.ece == pytest.approx(0.5 / 3)


def test_calibration_of_no_images_is_undefined() -> None:
    result = calibration(np.zeros(0), np.zeros(0), bins=5)
    assert result.ece is None and all(b.count == 0 for b in result.bins)


def _toy_hierarchy() -> tuple[WordNetHierarchy, ClassList]:
    """entity -> animal -> {cat -> {tabby, tiger}, dog -> {husky}}; entity -> truck.

    Heights: leaves 0, cat 1, dog 1, animal 2, entity 3 (via animal).
    """
    names = ["entity", "animal", "cat", "dog", "tabby", "tiger", "husky", "truck"]
    wnid = {name: f"n{number:08d}" for number, name in enumerate(names, start=1)}
    parents = {"animal": ["entity"], "cat": ["animal"], "dog": ["animal"], "tabby": ["cat"]}
    parents |= {"tiger": ["cat"], "husky": ["dog"], "truck": ["entity"], "entity": []}
    synsets = {
        wnid[name]: Synset(wnid[name], name, (name,), tuple(wnid[p] for p in ups))
        for name, ups in parents.items()
    }
    leaves = ["tabby", "tiger", "husky", "truck"]
    classes = ClassList(labels=tuple(leaves), wnids=tuple(wnid[n] for n in leaves))
    return WordNetHierarchy(synsets, classes.wnids, root=wnid["entity"]), classes


def test_hierarchical_cost_on_a_hand_drawn_tree() -> None:
    hierarchy, classes = _toy_hierarchy()
    # Classes: 0 tabby, 1 tiger, 2 husky, 3 truck. Per image: (cost, why)
    ranked = [
        [1, 0],  # truth tabby: second guess right -> 0; top-1 tiger: lca cat -> 1
        [2, 3],  # truth tabby: husky -> animal (2), truck -> entity (3) -> 2; top-1 2
        [3, 1],  # truth husky: truck -> 3, tiger -> animal (2) -> 2; top-1 3
        [3, 3],  # truth tiger: truck only -> entity (3); top-1 3
        [2, 0],  # truth husky: right first -> 0
    ]
    truth = [0, 0, 2, 1, 2]
    cost = hierarchical_cost(from_ranked(ranked, truth, classes), classes, hierarchy)
    assert cost.applicable
    assert cost.costs == (0, 2, 2, 3, 0)
    assert cost.mean_cost == pytest.approx(7 / 5)
    assert cost.mean_cost_top1 == pytest.approx((1 + 2 + 3 + 3 + 0) / 5)
    # Top-1 mistakes: images 0-3; only image 0 (tiger for tabby) stays within the parent.
    assert (cost.num_mistakes, cost.same_parent_mistakes) == (4, 1)
    assert cost.same_parent_share == 0.25
    assert cost.mean_mistake_cost == pytest.approx(9 / 4)
    assert cost.cost_counts == ((0, 2), (2, 2), (3, 1))


def test_hierarchical_cost_on_imagenet_cats() -> None:
    evaluation = from_ranked(CAT_GUESSES, [TABBY] * 4, imagenet_classes())
    diagnostics = diagnose(evaluation)
    assert diagnostics.hierarchy.costs == (0, 1, 2, 3)
    assert diagnostics.headline()["hierarchical_cost"] == pytest.approx(1.5)
    assert diagnostics.headline()["same_parent_share"] == pytest.approx(1 / 3)


def test_hierarchical_cost_does_not_apply_to_classes_without_wordnet_ids() -> None:
    classes = ClassList.from_names(["ants", "bees"])
    diagnostics = diagnose(from_probs([[0.8, 0.2], [0.6, 0.4]], [0, 1], classes))
    assert not diagnostics.hierarchy.applicable
    assert (
        "no WordNet id" in diagnostics.hierarchy.reason and "'ants'" in diagnostics.hierarchy.reason
    )
    assert diagnostics.headline()["hierarchical_cost"] is None
    assert diagnostics.to_dict()["hierarchical"] == {
        "applicable": False,
        "reason": diagnostics.hierarchy.reason,
    }


def test_hierarchical_cost_does_not_apply_to_unknown_wordnet_ids() -> None:
    classes = ClassList(labels=("tabby", "mystery"), wnids=("n02123045", "n99999999"))
    diagnostics = diagnose(from_probs([[0.8, 0.2]], [0], classes))
    assert not diagnostics.hierarchy.applicable
    assert "n99999999" in diagnostics.hierarchy.reason


def test_metrics_dict_is_strict_json() -> None:
    diagnostics = diagnose(from_probs(PROBS, TRUTH, ABC))
    payload = json.loads(json.dumps(diagnostics.to_dict(), allow_nan=False))
    assert payload["top1_accuracy"] == pytest.approx(3 / 5)
    assert payload["missing_classes"] == [2]
    assert payload["per_class"][2]["status"] == "missing"
    assert payload["most_confused"][0]["true"]["label"] == "apple"
    assert payload["most_confused"][0]["share_of_true_class"] == pytest.approx(1 / 3)
    assert payload["calibration"]["num_bins"] == 15


def test_diagnostics_need_the_class_list() -> None:
    evaluation = from_probs(PROBS, TRUTH, ABC)
    evaluation.classes = None
    with pytest.raises(ConfigError, match="class list"):
        diagnose(evaluation)


def test_out_of_range_class_index_is_refused() -> None:
    evaluation = from_probs(PROBS, TRUTH, ABC)
    evaluation.classes = ClassList.from_names(["apple", "banana"])
    with pytest.raises(ConfigError, match="out of range"):
        diagnose(evaluation)

"""evaluate() on tiny datasets built from real photos, with a bad file and a foreign class."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synsetlab.data.labelled import read_labelled
from synsetlab.engine.classifier import Classifier
from synsetlab.errors import DatasetError
from synsetlab.evaluate import runner
from synsetlab.evaluate.runner import evaluate
from synsetlab.models import ClassList, imagenet_classes

TABBY, ESPRESSO, MISSILE, TENCH = "n02123045", "n07920052", "n03773504", "n01440764"


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory: pytest.TempPathFactory, example_photo_paths) -> Path:
    """chelsea (a tabby that lite0 calls a tiger cat first, tabby second), coffee (espresso,
    first), rocket (missile, first); an empty file; a class the model does not know."""
    root = tmp_path_factory.mktemp("classes")
    for wnid, stem in ((TABBY, "chelsea"), (ESPRESSO, "coffee"), (MISSILE, "rocket")):
        (root / wnid).mkdir()
        shutil.copy(example_photo_paths[stem], root / wnid)
    (root / TENCH).mkdir()
    (root / TENCH / "empty.jpg").write_bytes(b"")
    (root / "not_a_class").mkdir()
    shutil.copy(example_photo_paths["coffee"], root / "not_a_class")
    return root


@pytest.fixture(scope="module")
def result(lite0_classifier: Classifier, class_folders: Path) -> runner.Evaluation:
    return evaluate(lite0_classifier, class_folders)


def test_accuracy_on_a_class_folder_dataset(result: runner.Evaluation) -> None:
    classes = imagenet_classes()
    assert result.num_images == 3
    assert [Path(p).parent.name for p in result.paths] == [TABBY, MISSILE, ESPRESSO]
    assert result.truth.tolist() == [classes.index_of(w) for w in (TABBY, MISSILE, ESPRESSO)]
    assert result.accuracy(1) == pytest.approx(2 / 3)
    assert result.accuracy(5) == 1.0


def test_ranked_guesses_and_scores(result: runner.Evaluation) -> None:
    assert result.ranked.shape == result.scores.shape == (3, 5)
    assert np.all(np.diff(result.scores, axis=1) <= 0)
    tabby_row = 0
    assert result.ranked[tabby_row, 0] != result.truth[tabby_row]
    rank = list(result.ranked[tabby_row]).index(result.truth[tabby_row])
    assert result.true_scores[tabby_row] == pytest.approx(result.scores[tabby_row, rank])
    assert np.all(result.true_scores > 0)


def test_failures_and_unknown_labels_are_counted(result: runner.Evaluation, class_folders):
    assert result.failures == [
        (str(class_folders / TENCH / "empty.jpg"), "the file is empty (0 bytes)")
    ]
    assert result.unknown_labels == {"not_a_class": 1}


def test_summary(result: runner.Evaluation) -> None:
    summary = result.summary()
    assert summary["model"] == "efficientnet_lite0"
    assert summary["top1_accuracy"] == pytest.approx(2 / 3)
    assert summary["top5_accuracy"] == 1.0
    assert summary["top1_error"] == pytest.approx(1 / 3)
    assert summary["top5_error"] == 0.0
    assert summary["num_images"] == 3 and summary["num_failed"] == 1
    assert summary["failed"][0]["path"].endswith("empty.jpg")
    json.dumps(summary, allow_nan=False)


def test_flat_folder_with_one_label_per_line(
    lite0_classifier: Classifier, tmp_path: Path, example_photo_paths
) -> None:
    for stem in ("chelsea", "coffee", "rocket"):
        shutil.copy(example_photo_paths[stem], tmp_path)
    classes = imagenet_classes()
    missile = classes.index_of(MISSILE)
    # Sorted file names: chelsea.png, coffee.png, rocket.jpg. A WordNet id, a class name and a
    # 0-based class index: the three kinds of label the text form may hold.
    labels = tmp_path.parent / f"{tmp_path.name}-truth.txt"
    labels.write_text(f"{TABBY}\nespresso\n{missile}\n")
    flat = evaluate(lite0_classifier, tmp_path, labels)
    assert flat.truth.tolist() == [classes.index_of(TABBY), classes.index_of(ESPRESSO), missile]
    assert flat.accuracy(1) == pytest.approx(2 / 3) and flat.accuracy(5) == 1.0


def test_every_image_failing_gives_null_accuracy(lite0_classifier: Classifier, tmp_path: Path):
    (tmp_path / TENCH).mkdir()
    (tmp_path / TENCH / "a.jpg").write_bytes(b"")
    (tmp_path / TENCH / "b.jpg").write_text("<html></html>")
    summary = evaluate(lite0_classifier, tmp_path).summary()
    assert summary["num_images"] == 0 and summary["num_failed"] == 2
    assert summary["top1_accuracy"] is None and summary["top5_error"] is None
    json.dumps(summary, allow_nan=False)  # valid JSON: no NaN


def test_no_label_is_a_class_of_the_model(lite0_classifier: Classifier, tmp_path: Path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="cats"):
        evaluate(lite0_classifier, tmp_path)


def test_one_based_devkit_ids_are_refused(lite0_classifier: Classifier, tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    labels = tmp_path.parent / f"{tmp_path.name}-devkit.txt"
    labels.write_text("1000\n17\n1\n")  # ILSVRC2012_IDs: 1 to 1000, never 0
    with pytest.raises(DatasetError, match="ILSVRC2012_ID"):
        evaluate(lite0_classifier, tmp_path, labels)
    labels.write_text("999\n17\n0\n")  # 0-based indices: fine
    items = read_labelled(tmp_path, labels)
    known, unknown = runner.map_labels(items, imagenet_classes())
    assert [index for _, index in known] == [999, 17, 0] and not unknown
    # Classes that are named by numbers are matched by name, whatever the numbers.
    numbered = ClassList.from_names(["1", "2", "3"])
    (tmp_path / "numbered.txt").write_text("3\n1\n2\n")
    items = read_labelled(tmp_path, tmp_path / "numbered.txt")
    assert [index for _, index in runner.map_labels(items, numbered)[0]] == [2, 0, 1]


def test_class_index_accepts_wnids_names_and_indices() -> None:
    classes = imagenet_classes()
    assert runner.class_index(TABBY, classes) == 281
    assert runner.class_index("tabby, tabby cat", classes) == 281
    assert runner.class_index("281", classes) == 281
    assert runner.class_index("1000", classes) is None
    assert runner.class_index("tabby", classes) is None


def test_numeric_class_folders_are_names_not_indices() -> None:
    # Classes "1", "10", "2" (text order); a data folder "0" is not class index 0 ("1").
    classes = ClassList.from_names(["1", "10", "2"])
    assert runner.class_index("0", classes, allow_index=False) is None
    assert runner.class_index("2", classes, allow_index=False) == 2
    assert runner.class_index("0", classes, allow_index=True) == 0

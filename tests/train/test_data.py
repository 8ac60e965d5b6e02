"""Finding training data: layouts, class order, the validation split, and clear errors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from train_cases import MakeData, write_class_folders

from synsetlab.errors import ConfigError, DatasetError
from synsetlab.train.data import load_training_data


def labels_of(samples) -> Counter:
    return Counter(s.label for s in samples)


def test_train_val_layout_keeps_string_order_of_numeric_names(make_data: MakeData) -> None:
    data = load_training_data(make_data(train=4, val=2))
    assert data.classes.labels == ("1", "10", "2")
    assert data.classes.wnids == (None, None, None)
    assert len(data.train) == 12 and len(data.val) == 6
    # Each sample's label index names the folder it came from.
    for sample in (*data.train, *data.val):
        assert sample.path.parent.name == data.classes.labels[sample.label]


def test_hidden_folders_and_files_are_not_classes(make_data: MakeData) -> None:
    root = make_data()
    hidden = root / "train" / ".ipynb_checkpoints"
    hidden.mkdir()
    (hidden / "x.jpg").write_bytes((root / "train" / "1" / "1_0.jpg").read_bytes())
    (root / "train" / "1" / ".DS_Store").write_bytes(b"\0\0")
    data = load_training_data(root)
    assert data.classes.labels == ("1", "10", "2")
    assert len(data.train) == 12


def test_class_folders_are_split_stratified_and_seeded(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "photos", per_class=10)
    first = load_training_data(root, val_split=0.3, seed=7)
    again = load_training_data(root, val_split=0.3, seed=7)
    other = load_training_data(root, val_split=0.3, seed=8)
    assert labels_of(first.val) == {0: 3, 1: 3, 2: 3}
    assert labels_of(first.train) == {0: 7, 1: 7, 2: 7}
    assert [s.path for s in first.val] == [s.path for s in again.val]
    assert [s.path for s in first.val] != [s.path for s in other.val]
    assert not {s.path for s in first.val} & {s.path for s in first.train}


def test_default_split_keeps_a_fifth_and_one_to_train(tmp_path: Path) -> None:
    data = load_training_data(write_class_folders(tmp_path / "p", per_class=10))
    assert labels_of(data.val) == {0: 2, 1: 2, 2: 2}
    # A class of two images gives one to each side, never both to validation.
    two = load_training_data(write_class_folders(tmp_path / "q", per_class=2), val_split=0.9)
    assert labels_of(two.val) == {0: 1, 1: 1, 2: 1} == labels_of(two.train)


def test_train_folder_without_val_is_split(make_data: MakeData) -> None:
    data = load_training_data(make_data(train=5, val=0), val_split=0.4)
    assert labels_of(data.val) == {0: 2, 1: 2, 2: 2}
    assert "split" in data.layout


def test_manifest_with_and_without_split_column(make_data: MakeData) -> None:
    root = make_data(train=3, val=0)
    rows = [f"train/{c}/{c}_{i}.jpg,{c}" for c in ("2", "1") for i in range(3)]
    (root / "plain.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    plain = load_training_data(root / "plain.csv", val_split=0.34, seed=0)
    assert plain.classes.labels == ("1", "2")
    assert labels_of(plain.val) == {0: 1, 1: 1}
    assert all(s.path.is_file() for s in (*plain.train, *plain.val))

    split_rows = [f"{r},{'val' if r.endswith('_0.jpg,1') else 'train'}" for r in rows]
    (root / "split.csv").write_text("\n".join(split_rows) + "\n")  # no header this time
    split = load_training_data(root / "split.csv")
    assert len(split.val) == 1 and split.val[0].path.name == "1_0.jpg"
    assert len(split.train) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("path,label\na.jpg\n", "row 2: expected path,label"),
        ("path,label\na.jpg,x,test\n", "split must be train or val"),
        ("path,label\n", "lists no image"),
        ("a.jpg,x,train\nb.jpg,y\n", "filled on some rows only"),
        ("a.jpg,x,train\nb.jpg,y,val\n", "validation label(s) ['y'] have no training image"),
    ],
)
def test_bad_manifests_are_named(tmp_path: Path, text: str, message: str) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    with pytest.raises(DatasetError, match=re.escape(message)):
        load_training_data(manifest)


def test_empty_class_folder_is_an_error_naming_it(make_data: MakeData) -> None:
    root = make_data()
    (root / "train" / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"\['empty'\] hold no image files"):
        load_training_data(root)


def test_single_class_is_an_error(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "one", 4, {"cats": ((1, 2, 3), "vertical")})
    with pytest.raises(DatasetError, match=r"found 1 class \(cats\).*at least two classes"):
        load_training_data(root)


def test_fewer_than_two_training_images_is_an_error(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "one", 1, {"cats": ((1, 2, 3), "vertical")})
    with pytest.raises(DatasetError, match="found 1 training image\\(s\\); at least 2"):
        load_training_data(root)
    manifest = tmp_path / "m.csv"
    manifest.write_text("x.jpg,a,train\ny.jpg,a,val\n")
    with pytest.raises(DatasetError, match="found 1 training image"):
        load_training_data(manifest)


def test_no_validation_image_is_an_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("x.jpg,a\ny.jpg,b\n")  # one image per class: none to set aside
    with pytest.raises(DatasetError, match="no validation images"):
        load_training_data(manifest)


def test_unknown_validation_class_and_bad_split_value(make_data: MakeData) -> None:
    root = make_data()
    write_class_folders(root / "val", 1, {"zebra": ((0, 0, 0), "vertical")})
    with pytest.raises(DatasetError, match=r"\['zebra'\] have no counterpart"):
        load_training_data(root)
    with pytest.raises(ConfigError, match="--val-split"):
        load_training_data(root, val_split=1.5)


def test_missing_data_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such folder"):
        load_training_data(tmp_path / "nothing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="CSV manifest"):
        load_training_data(tmp_path / "notes.txt")

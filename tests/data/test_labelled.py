"""read_labelled: class folders, or a flat folder plus a ground-truth file."""

from __future__ import annotations

from pathlib import Path

import pytest

from synsetlab.data.labelled import KAGGLE_SOLUTION, LabelledImage, read_labelled
from synsetlab.errors import DatasetError

TENCH, GOLDFISH, TABBY = "n01440764", "n01443537", "n02123045"


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def pairs(items: list[LabelledImage], root: Path) -> list[tuple[str, str]]:
    return [(item.path.relative_to(root).as_posix(), item.label) for item in items]


def test_class_folder_layout(tmp_path: Path) -> None:
    touch(tmp_path, f"{TABBY}/b.JPEG", f"{TENCH}/a.jpg", f"{TENCH}/sub/c.png", f"{GOLDFISH}/d.jpg")
    touch(tmp_path, ".ipynb_checkpoints/x.jpg", f"{TENCH}/.DS_Store", "README.txt")
    assert pairs(read_labelled(tmp_path), tmp_path) == [
        (f"{TENCH}/a.jpg", TENCH),
        (f"{TENCH}/sub/c.png", TENCH),
        (f"{GOLDFISH}/d.jpg", GOLDFISH),
        (f"{TABBY}/b.JPEG", TABBY),
    ]


def test_class_folders_with_any_names(tmp_path: Path) -> None:
    touch(tmp_path, "bees/1.jpg", "ants/2.jpg")
    assert pairs(read_labelled(tmp_path), tmp_path) == [
        ("ants/2.jpg", "ants"),
        ("bees/1.jpg", "bees"),
    ]


def kaggle_csv(path: Path, rows: dict[str, str]) -> Path:
    lines = ["ImageId,PredictionString"]
    lines += [f"{image},{wnid} 10 20 200 300 {wnid} 5 5 50 50 " for image, wnid in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


VAL = ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002", "ILSVRC2012_val_00000003"]


def test_flat_folder_with_kaggle_solution_beside_the_images(tmp_path: Path) -> None:
    touch(tmp_path, *(f"val/{stem}.JPEG" for stem in VAL))
    kaggle_csv(
        tmp_path / "val" / KAGGLE_SOLUTION, dict(zip(VAL, [TABBY, TENCH, GOLDFISH], strict=True))
    )
    assert pairs(read_labelled(tmp_path / "val"), tmp_path / "val") == [
        (f"{VAL[0]}.JPEG", TABBY),
        (f"{VAL[1]}.JPEG", TENCH),
        (f"{VAL[2]}.JPEG", GOLDFISH),
    ]


def test_kaggle_solution_in_the_parent_folder_or_given(tmp_path: Path) -> None:
    touch(tmp_path, *(f"val/{stem}.JPEG" for stem in VAL))
    solution = kaggle_csv(
        tmp_path / KAGGLE_SOLUTION, dict(zip(VAL, [TENCH, TENCH, TABBY], strict=True))
    )
    found = read_labelled(tmp_path / "val")
    given = read_labelled(tmp_path / "val", labels=solution)
    assert [i.label for i in found] == [i.label for i in given] == [TENCH, TENCH, TABBY]


def test_kaggle_solution_with_images_missing_from_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    touch(tmp_path, *(f"{stem}.JPEG" for stem in VAL))
    kaggle_csv(tmp_path / KAGGLE_SOLUTION, {VAL[0]: TENCH, VAL[2]: TABBY})
    assert [i.label for i in read_labelled(tmp_path)] == [TENCH, TABBY]
    assert "1 images in the folder have no label" in caplog.text


def test_class_folders_win_over_a_solution_file_in_the_parent(tmp_path: Path) -> None:
    # Kaggle's tree keeps LOC_val_solution.csv at its top; train/ beside it has class folders.
    kaggle_csv(tmp_path / KAGGLE_SOLUTION, {VAL[0]: TENCH})
    touch(tmp_path, f"train/{TABBY}/x.JPEG")
    assert pairs(read_labelled(tmp_path / "train"), tmp_path / "train") == [
        (f"{TABBY}/x.JPEG", TABBY)
    ]


def test_kaggle_csv_without_its_columns(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    (tmp_path / "truth.csv").write_text("image,label\na,n01440764\n")
    with pytest.raises(DatasetError, match=r"truth\.csv.*ImageId,PredictionString"):
        read_labelled(tmp_path, labels=tmp_path / "truth.csv")


def test_one_label_per_line_in_sorted_file_name_order(tmp_path: Path) -> None:
    touch(tmp_path, "img_3.jpg", "img_1.jpg", "img_2.jpg")  # created out of order
    (tmp_path / "truth.txt").write_text(f"{TENCH}\n{GOLDFISH}\n\n{TABBY}\n")  # a blank line too
    assert pairs(read_labelled(tmp_path, labels=tmp_path / "truth.txt"), tmp_path) == [
        ("img_1.jpg", TENCH),
        ("img_2.jpg", GOLDFISH),
        ("img_3.jpg", TABBY),
    ]


def test_one_label_per_line_with_two_word_class_names(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg", "b.jpg")
    (tmp_path / "truth.txt").write_text("tiger cat\ngreat white shark\n")
    items = read_labelled(tmp_path, labels=tmp_path / "truth.txt")
    assert pairs(items, tmp_path) == [("a.jpg", "tiger cat"), ("b.jpg", "great white shark")]
    (tmp_path / "truth.txt").write_text("tiger cat\nbrown bear\n")  # every line two words
    items = read_labelled(tmp_path, labels=tmp_path / "truth.txt")
    assert pairs(items, tmp_path) == [("a.jpg", "tiger cat"), ("b.jpg", "brown bear")]


def test_file_name_and_label_lines(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg", "b.png", "c.jpg")
    (tmp_path / "truth.txt").write_text(f"c.jpg {TABBY}\na.jpg {TENCH}\nb.png 1\n")
    assert pairs(read_labelled(tmp_path, labels=tmp_path / "truth.txt"), tmp_path) == [
        ("a.jpg", TENCH),
        ("b.png", "1"),
        ("c.jpg", TABBY),
    ]


def test_mismatched_counts_name_the_file(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    (tmp_path / "truth.txt").write_text(f"{TENCH}\n{TABBY}\n")
    with pytest.raises(DatasetError) as caught:
        read_labelled(tmp_path, labels=tmp_path / "truth.txt")
    message = str(caught.value)
    assert str(tmp_path / "truth.txt") in message
    assert "2 labels" in message and "3 images" in message


def test_missing_label_file(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    with pytest.raises(DatasetError, match=r"nope\.txt"):
        read_labelled(tmp_path, labels=tmp_path / "nope.txt")


def test_no_layout_found(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    with pytest.raises(DatasetError, match="--labels"):
        read_labelled(tmp_path)


def test_not_a_folder(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    with pytest.raises(DatasetError, match="not a folder"):
        read_labelled(tmp_path / "a.jpg")
    with pytest.raises(DatasetError, match="missing: no such folder"):
        read_labelled(tmp_path / "missing")

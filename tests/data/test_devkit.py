"""ILSVRC devkit ids (1-based, devkit order) translated to WordNet ids through meta.mat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from synsetlab.data.devkit import read_devkit_ids
from synsetlab.data.labelled import read_labelled
from synsetlab.errors import DatasetError

# A devkit order unlike the sorted one: id 1 is the *last* of these wnids in sorted order.
DEVKIT_ORDER = ["n02119789", "n02100735", "n01440764"]


def write_meta_mat(path: Path) -> Path:
    synsets = np.zeros(len(DEVKIT_ORDER), dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O")])
    for i, wnid in enumerate(DEVKIT_ORDER):
        synsets[i] = (i + 1, wnid)
    savemat(path, {"synsets": synsets})
    return path


@pytest.fixture
def flat(tmp_path: Path) -> Path:
    folder = tmp_path / "val"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8)).save(folder / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
    (tmp_path / "ground_truth.txt").write_text("3\n1\n2\n")
    return folder


def test_meta_mat_maps_ids_to_wnids(tmp_path: Path) -> None:
    ids = read_devkit_ids(write_meta_mat(tmp_path / "meta.mat"))
    assert ids == {"1": "n02119789", "2": "n02100735", "3": "n01440764"}


def test_ground_truth_ids_become_wnids(tmp_path: Path, flat: Path) -> None:
    meta = write_meta_mat(tmp_path / "meta.mat")
    items = read_labelled(flat, tmp_path / "ground_truth.txt", devkit=meta)
    assert [i.label for i in items] == ["n01440764", "n02119789", "n02100735"]
    assert not any(i.from_file for i in items)  # now names, never class indices


def test_text_file_line_n_is_id_n(tmp_path: Path) -> None:
    path = tmp_path / "devkit_order.txt"
    path.write_text("".join(f"{w} some words\n" for w in DEVKIT_ORDER))
    assert read_devkit_ids(path)["3"] == "n01440764"


def test_bad_files_are_named(tmp_path: Path) -> None:
    text = tmp_path / "ids.txt"
    text.write_text("tench\n")
    with pytest.raises(DatasetError, match=r"ids\.txt.*one WordNet id per line.*'tench'"):
        read_devkit_ids(text)
    mat = tmp_path / "other.mat"
    savemat(mat, {"something": np.zeros(3)})
    with pytest.raises(DatasetError, match=r"other\.mat.*meta\.mat"):
        read_devkit_ids(mat)

"""Fixtures of the training tests: small labelled folders (see :mod:`train_cases`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_cases import PATTERNS, MakeData, write_class_folders


@pytest.fixture
def make_data(tmp_path: Path) -> MakeData:
    """``make_data(train=4, val=2)`` -> a folder with train/ and val/ class folders."""

    def make(train: int = 4, val: int = 2, classes=PATTERNS, name: str = "data") -> Path:
        root = tmp_path / name
        write_class_folders(root / "train", train, classes, seed=1)
        if val:
            write_class_folders(root / "val", val, classes, seed=2)
        return root

    return make


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes (1, 10, 2), 6 training and 3 validation pictures each."""
    root = tmp_path_factory.mktemp("tiny")
    write_class_folders(root / "train", 6, seed=1)
    write_class_folders(root / "val", 3, seed=2)
    return root

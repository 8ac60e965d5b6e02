"""Training data: which images, which classes, which go to validation.

Three layouts, decided in this order:

1. ``DATA`` is a ``.csv`` file: a manifest with the columns ``path,label`` and optionally
   ``split`` (``train`` or ``val``). Relative paths are relative to the manifest's folder.
   Without a ``split`` column the validation images are drawn with ``val_split``.
2. ``DATA/train/<class>/...`` and ``DATA/val/<class>/...`` (the common layout, e.g. the
   PyTorch ants/bees tutorial). ``DATA/train`` alone is split with ``val_split``.
3. ``DATA/<class>/...``: one folder per class, split with ``val_split``.

Class names are folder names (or manifest labels), sorted as strings and never re-sorted as
numbers: folders ``1, 2, 10`` become classes 0 = ``1``, 1 = ``10``, 2 = ``2``, and the list is
stored in the model file, so prediction maps indices back to the same names. Hidden folders
are not classes. The validation split is stratified (the same fraction of every class) and
seeded. An empty class folder, a single class, or fewer than two training images is a
:class:`~synsetlab.errors.DatasetError` naming the problem.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synsetlab.data.discovery import walk_folder
from synsetlab.data.labelled import class_folders
from synsetlab.errors import ConfigError, DatasetError
from synsetlab.models.classes import ClassList

logger = logging.getLogger(__name__)

#: Fraction of each class kept for validation when the data does not say.
DEFAULT_VAL_SPLIT = 0.2

_VAL_FOLDERS = ("val", "valid", "validation")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass(frozen=True)
class TrainingData:
    """The classes and the train/val images; ``layout`` says how they were found."""

    classes: ClassList
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    layout: str

    def describe(self) -> str:
        return (
            f"{len(self.classes)} classes, {len(self.train)} training and {len(self.val)} "
            f"validation images ({self.layout})"
        )


def load_training_data(
    data: Path, *, val_split: float | None = None, seed: int = 0
) -> TrainingData:
    """Find the training and validation images under ``data`` (see the module docstring)."""
    if val_split is not None and not 0.0 < val_split < 1.0:
        raise ConfigError(f"--val-split must be between 0 and 1 (exclusive), got {val_split}")
    if data.is_file():
        result = _from_manifest(data, val_split, seed)
    elif not data.is_dir():
        raise DatasetError(f"{data}: no such folder or manifest file")
    elif (data / "train").is_dir():
        result = _from_train_folder(data, val_split, seed)
    else:
        result = _split(_scan_classes(data), val_split, seed, f"class folders in {data}")
    check_trainable(result, data)
    logger.info("training data: %s", result.describe())
    return result


def check_trainable(data: TrainingData, where: Path | str) -> None:
    """Raise :class:`DatasetError` unless there are two classes and two training images."""
    if len(data.train) < 2:
        raise DatasetError(
            f"{where}: found {len(data.train)} training image(s); at least 2 are needed"
        )
    if len(data.classes) < 2:
        raise DatasetError(
            f"{where}: found {len(data.classes)} class ({', '.join(data.classes.labels)}); "
            "fine-tuning needs at least two classes, one folder (or label) each"
        )
    if not data.val:
        raise DatasetError(
            f"{where}: no validation images; add a val/ folder, or more images per class so "
            "that --val-split can set some aside"
        )


def _from_train_folder(data: Path, val_split: float | None, seed: int) -> TrainingData:
    train = _scan_classes(data / "train")
    val_dir = next((data / n for n in _VAL_FOLDERS if (data / n).is_dir()), None)
    if val_dir is None:
        return _split(train, val_split, seed, f"{data / 'train'} split by --val-split")
    if val_split is not None:
        logger.warning("%s has its own validation folder; --val-split is ignored", data)
    val = _scan_classes(val_dir)
    unknown = sorted(set(val) - set(train))
    if unknown:
        raise DatasetError(
            f"{val_dir}: class folder(s) {unknown} have no counterpart in {data / 'train'}; "
            "every validation class must also be a training class"
        )
    classes = sorted(train)
    return TrainingData(
        classes=ClassList.from_names(classes),
        train=_samples(train, classes),
        val=_samples(val, classes),
        layout=f"{data / 'train'} and {val_dir}",
    )


def _scan_classes(folder: Path) -> dict[str, list[Path]]:
    """Images per class folder, in string order of the names; empty folders are an error."""
    found = {d.name: walk_folder(d) for d in class_folders(folder)}
    empty = [name for name, paths in found.items() if not paths]
    if empty:
        raise DatasetError(
            f"{folder}: class folder(s) {empty} hold no image files; remove them or add images"
        )
    if not found:
        raise DatasetError(
            f"{folder}: expected one sub-folder of images per class (or train/ and val/ "
            "folders, or a CSV manifest path,label), found no sub-folder"
        )
    return found


def _samples(by_class: dict[str, list[Path]], classes: list[str]) -> tuple[Sample, ...]:
    index = {name: i for i, name in enumerate(classes)}
    return tuple(Sample(p, index[name]) for name in classes for p in by_class.get(name, []))


def _split(
    by_class: dict[str, list[Path]], val_split: float | None, seed: int, layout: str
) -> TrainingData:
    """Set aside the same fraction of every class for validation, drawn with ``seed``."""
    fraction = DEFAULT_VAL_SPLIT if val_split is None else val_split
    classes = sorted(by_class)
    train: dict[str, list[Path]] = {}
    val: dict[str, list[Path]] = {}
    rng = np.random.default_rng(seed)
    for name in classes:
        paths = by_class[name]
        count = _val_count(len(paths), fraction)
        chosen = set(rng.permutation(len(paths))[:count].tolist())
        val[name] = [p for i, p in enumerate(paths) if i in chosen]
        train[name] = [p for i, p in enumerate(paths) if i not in chosen]
    return TrainingData(
        classes=ClassList.from_names(classes),
        train=_samples(train, classes),
        val=_samples(val, classes),
        layout=f"{layout}, {fraction:.0%} of each class for validation (seed {seed})",
    )


def _val_count(size: int, fraction: float) -> int:
    # At least one validation image per class that has two, and always one left to train on.
    if size < 2:
        return 0
    return min(size - 1, max(1, round(size * fraction)))


def _from_manifest(path: Path, val_split: float | None, seed: int) -> TrainingData:
    rows = _read_manifest(path)
    base = path.parent
    with_split = [r for r in rows if r[2]]
    if with_split and len(with_split) != len(rows):
        raise DatasetError(f"{path}: the split column is filled on some rows only")
    if not with_split:
        by_class: dict[str, list[Path]] = defaultdict(list)
        for file, label, _ in rows:
            by_class[label].append(base / file)
        return _split(dict(by_class), val_split, seed, f"manifest {path}")
    classes = sorted({label for _, label, split in rows if split == "train"})
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted({label for _, label, split in rows if label not in index})
    if unknown:
        raise DatasetError(f"{path}: validation label(s) {unknown} have no training image")
    train = [Sample(base / f, index[lb]) for f, lb, s in rows if s == "train"]
    val = [Sample(base / f, index[lb]) for f, lb, s in rows if s == "val"]
    return TrainingData(ClassList.from_names(classes), tuple(train), tuple(val), f"manifest {path}")


def _read_manifest(path: Path) -> list[tuple[str, str, str]]:
    """Rows ``(path, label, split)`` of a CSV manifest; the header row is optional."""
    if path.suffix.lower() != ".csv":
        raise DatasetError(f"{path}: expected a folder or a CSV manifest (path,label)")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(enumerate(csv.reader(handle), start=1))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the manifest ({exc})") from exc
    rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
    if rows and [c.strip().lower() for c in rows[0][1][:2]] == ["path", "label"]:
        rows = rows[1:]
    parsed = [_manifest_row(path, number, row) for number, row in rows]
    if not parsed:
        raise DatasetError(f"{path}: the manifest lists no image")
    return parsed


def _manifest_row(path: Path, number: int, row: list[str]) -> tuple[str, str, str]:
    cells = [cell.strip() for cell in row]
    if len(cells) < 2 or not cells[0] or not cells[1]:
        raise DatasetError(f"{path}, row {number}: expected path,label[,split], got {row}")
    split = cells[2].lower() if len(cells) > 2 else ""
    if split not in ("", "train", "val"):
        raise DatasetError(f"{path}, row {number}: split must be train or val, got {cells[2]!r}")
    return cells[0], cells[1], split

"""Reading labelled image collections: class folders, or a flat folder plus a label file.

Layouts understood, decided in this order:

1. ``DATA/<class>/.../*.jpg`` -- one sub-folder per class (the ImageNet train layout, with
   WordNet-id folder names, or any ImageFolder layout). The folder name is the label.
2. ``DATA/*.jpg`` plus a ground-truth file given with ``labels=`` or found beside the data
   (``LOC_val_solution.csv`` in DATA or its parent):

   - Kaggle ``LOC_val_solution.csv``: ``ImageId,PredictionString``; the first token of the
     prediction string is the image's WordNet id.
   - The ILSVRC text form: one label per line, for the images in sorted file-name order. A
     label is a WordNet id, a class name, or an integer class index (0-based, in the model's
     class order). Lines of the form ``<file name> <label>`` are matched by file name instead.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from synsetlab.data.devkit import read_devkit_ids
from synsetlab.data.discovery import is_hidden, walk_folder
from synsetlab.errors import DatasetError

logger = logging.getLogger(__name__)

KAGGLE_SOLUTION = "LOC_val_solution.csv"


@dataclass(frozen=True)
class LabelledImage:
    """An image and its label; ``from_file`` when the label came from a ground-truth file,
    where an integer may stand for a class index (a class folder's name never does)."""

    path: Path
    label: str
    from_file: bool = False


def read_labelled(
    data: Path, labels: Path | None = None, devkit: Path | None = None
) -> list[LabelledImage]:
    """The images under ``data`` with their ground-truth labels, in a stable order.

    ``devkit`` (the ILSVRC devkit's ``meta.mat``) turns a label file's ILSVRC2012_IDs into
    WordNet ids.
    """
    items = _read_any(data, labels)
    if devkit is None:
        return items
    ids = read_devkit_ids(devkit)
    return [
        LabelledImage(i.path, ids.get(i.label, i.label), from_file=False) if i.from_file else i
        for i in items
    ]


def _read_any(data: Path, labels: Path | None) -> list[LabelledImage]:
    if not data.exists():
        raise DatasetError(f"{data}: no such folder; expected a folder of labelled images")
    if not data.is_dir():
        raise DatasetError(f"{data}: expected a folder of images, but it is not a folder")
    # A solution file found beside class folders (Kaggle's sits at the top of its tree)
    # is not theirs: only a folder that holds images directly is read as the flat layout.
    labels = labels or (_find_solution_file(data) if _direct_images(data) else None)
    if labels is not None:
        return _read_flat(data, labels)
    class_dirs = class_folders(data)
    if not class_dirs:
        raise DatasetError(
            f"{data}: found no class sub-folders and no ground-truth file; expected one folder "
            f"per class, or pass --labels FILE ({KAGGLE_SOLUTION} or one label per line)"
        )
    return [LabelledImage(p, d.name) for d in class_dirs for p in walk_folder(d)]


def class_folders(data: Path) -> list[Path]:
    """The visible sub-folders of ``data``, sorted by name: one per class."""
    return sorted(p for p in data.iterdir() if p.is_dir() and not is_hidden(p))


def _find_solution_file(data: Path) -> Path | None:
    for candidate in (data / KAGGLE_SOLUTION, data.parent / KAGGLE_SOLUTION):
        if candidate.is_file():
            logger.info("using ground truth from %s", candidate)
            return candidate
    return None


def _direct_images(data: Path) -> list[Path]:
    return [p for p in walk_folder(data) if p.parent == data]


def _read_flat(data: Path, labels: Path) -> list[LabelledImage]:
    images = _direct_images(data)
    if not images:
        raise DatasetError(f"{data}: no image files directly in this folder to match {labels}")
    if labels.suffix.lower() == ".csv":
        table = _read_kaggle_csv(labels)
        return _match_by_name(images, table, labels)
    lines = _read_label_lines(labels)
    if _names_files(lines, images):
        table = dict(line.split() for line in lines)
        return _match_by_name(images, {Path(k).stem: v for k, v in table.items()}, labels)
    if len(lines) != len(images):
        raise DatasetError(
            f"{labels}: has {len(lines)} labels but {data} holds {len(images)} images; expected "
            "one label per image, in sorted file-name order"
        )
    return [
        LabelledImage(p, line.strip(), from_file=True)
        for p, line in zip(images, lines, strict=True)
    ]


def _names_files(lines: list[str], images: list[Path]) -> bool:
    """Whether the lines read ``<file name> <label>`` (rather than two-word class names)."""
    if not all(len(line.split()) == 2 for line in lines):
        return False
    stems = {p.stem for p in images}
    return any(Path(line.split()[0]).stem in stems for line in lines)


def _read_kaggle_csv(path: Path) -> dict[str, str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the CSV file ({exc})") from exc
    if not rows or not {"ImageId", "PredictionString"} <= set(rows[0]):
        raise DatasetError(f"{path}: expected the columns ImageId,PredictionString (Kaggle LOC)")
    return {
        row["ImageId"]: row["PredictionString"].split()[0]
        for row in rows
        if (row.get("PredictionString") or "").strip()
    }


def _read_label_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the label file ({exc})") from exc
    return [line for line in text.splitlines() if line.strip()]


def _match_by_name(images: list[Path], table: dict[str, str], source: Path) -> list[LabelledImage]:
    matched = [LabelledImage(p, table[p.stem], from_file=True) for p in images if p.stem in table]
    missing = len(images) - len(matched)
    if missing:
        logger.warning(
            "%d images in the folder have no label in %s; they are left out", missing, source
        )
    if not matched:
        raise DatasetError(f"{source}: no image of the folder is named in this file")
    return matched

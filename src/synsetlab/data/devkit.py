"""The ILSVRC devkit's class ids (``ILSVRC2012_ID``, 1-based, in the devkit's own order).

The devkit's ground-truth file names each validation image's class by this id, which is not
the sorted-WordNet-id order models use. Its ``meta.mat`` maps ids to WordNet ids; a text file
with one WordNet id per line, line N for id N, does the same.
"""

from __future__ import annotations

import logging
from pathlib import Path

from synsetlab.errors import DatasetError
from synsetlab.models.classes import is_wnid

logger = logging.getLogger(__name__)


def read_devkit_ids(path: Path) -> dict[str, str]:
    """``{"1": "n02119789", ...}`` from the devkit's ``meta.mat`` or a text file."""
    mapping = _from_mat(path) if path.suffix.lower() == ".mat" else _from_text(path)
    if not mapping:
        raise DatasetError(f"{path}: holds no ILSVRC id -> WordNet id pairs")
    logger.info("read %d ILSVRC devkit ids from %s", len(mapping), path)
    return mapping


def _from_mat(path: Path) -> dict[str, str]:
    from scipy.io import loadmat

    try:
        synsets = loadmat(str(path), squeeze_me=True)["synsets"]
        pairs = zip(synsets["ILSVRC2012_ID"], synsets["WNID"], strict=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{path}: expected the ILSVRC devkit's meta.mat with a 'synsets' table of "
            f"ILSVRC2012_ID and WNID ({exc})"
        ) from exc
    return {str(int(number)): str(wnid) for number, wnid in pairs}


def _from_text(path: Path) -> dict[str, str]:
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the devkit id file ({exc})") from exc
    words = [line[0] for line in lines if line]
    bad = [word for word in words if not is_wnid(word)]
    if bad:
        raise DatasetError(
            f"{path}: expected one WordNet id per line (line N for ILSVRC id N), found {bad[0]!r}"
        )
    return {str(number): wnid for number, wnid in enumerate(words, start=1)}

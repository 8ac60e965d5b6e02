"""Finding image files from what a user typed: files, folders (recursively) and globs."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

#: Suffixes (compared in lower case) that mark a file inside a folder as an image.
#: Formats Pillow cannot read (HEIC, say) are listed so that they are reported, not skipped.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff", ".webp"}
    | {".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".tga", ".jp2", ".j2k", ".avif", ".heic", ".heif"}
)

_GLOB_CHARS = frozenset("*?[")


def is_hidden(path: Path) -> bool:
    """Whether a file or folder is hidden (``.DS_Store``, ``.ipynb_checkpoints``...)."""
    return path.name.startswith(".") and path.name not in {".", ".."}


def has_image_suffix(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def find_images(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files, folders and glob patterns into image paths, in a stable order.

    Files named explicitly are always kept (their content decides the format), and so are
    paths that do not exist: loading them then reports the problem with the path. Inside
    folders only files with an image suffix are taken, hidden entries are skipped, and
    symbolic links to folders are followed once each.
    """
    found: list[Path] = []
    for item in inputs:
        for path in _expand(str(item)):
            found.extend(walk_folder(path) if path.is_dir() else [path])
    return list(dict.fromkeys(found))


def walk_folder(folder: Path) -> list[Path]:
    """All image files below ``folder``, sorted, following folder links without looping."""
    return sorted(_walk(folder, seen=set()))


def _expand(item: str) -> list[Path]:
    if not _GLOB_CHARS.intersection(item) or Path(item).exists():
        return [Path(item)]
    matches = sorted(glob.glob(item, recursive=True))
    if not matches:
        logger.warning("the pattern %r matches no file", item)
        return [Path(item)]
    return [Path(match) for match in matches]


def _walk(folder: Path, seen: set[str]) -> Iterator[Path]:
    real = os.path.realpath(folder)
    if real in seen:
        logger.info("skipping %s: this folder was already visited (a symbolic link loop?)", folder)
        return
    seen.add(real)
    for entry in sorted(folder.iterdir()):
        if is_hidden(entry):
            logger.info("ignoring hidden entry %s", entry)
        elif entry.is_dir():
            yield from _walk(entry, seen)
        elif has_image_suffix(entry):
            yield entry
        else:
            logger.debug("ignoring %s: not an image suffix", entry)

"""Finding image files from what a user typed: files, folders (recursively) and globs."""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from synsetlab.errors import DatasetError

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
            images = walk_folder(path) if path.is_dir() else [path]
            if not images:
                logger.warning("the folder %s holds no image files", path)
            found.extend(images)
    return list(dict.fromkeys(found))


def walk_folder(folder: Path) -> list[Path]:
    """All image files below ``folder``, sorted, following folder links without looping."""
    return sorted(_walk(folder, seen=set()))


def _expand(item: str) -> list[Path]:
    if not _GLOB_CHARS.intersection(item) or Path(item).exists():
        return [Path(item)]
    matches = _recursive_glob(item) if "**" in Path(item).parts else sorted(glob.glob(item))
    if not matches:
        logger.warning("the pattern %r matches no file", item)
        return [Path(item)]
    return [Path(match) for match in matches]


def _recursive_glob(pattern: str) -> list[Path]:
    """Files matching a pattern with ``**``, walking folders as :func:`walk_folder` does.

    Python's ``glob`` follows folder links under ``**`` with no loop check, so a link to a
    parent folder makes it descend until the path is too long (and two such links make it
    exponential). Walking ourselves visits each real folder once and skips hidden entries.
    """
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if _GLOB_CHARS.intersection(part))
    root = Path(*parts[:fixed]) if fixed else Path()
    if not root.is_dir():
        return []
    wanted = parts[fixed:]
    return sorted(
        path
        for path in _walk(root, seen=set(), images_only=False)
        if _match_parts(path.relative_to(root).parts, wanted)
    )


def _match_parts(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether path components match pattern components, ``**`` standing for any number."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_parts(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_parts(parts[1:], rest)


def _walk(folder: Path, seen: set[str], images_only: bool = True) -> Iterator[Path]:
    real = os.path.realpath(folder)
    if real in seen:
        logger.info("skipping %s: this folder was already visited (a symbolic link loop?)", folder)
        return
    seen.add(real)
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:  # unreadable: the images in it cannot even be counted
        raise DatasetError(
            f"{folder}: cannot list this folder ({exc.strerror or exc}); fix its permissions "
            "or leave it out"
        ) from exc
    for entry in entries:
        if is_hidden(entry):
            logger.info("ignoring hidden entry %s", entry)
        elif entry.is_dir():
            yield from _walk(entry, seen, images_only)
        elif has_image_suffix(entry) or not images_only:
            yield entry
        else:
            logger.debug("ignoring %s: not an image suffix", entry)

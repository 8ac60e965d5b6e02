"""Turning one image file into an RGB picture, the same way for every command.

The rules, each of which once broke somebody's training or evaluation run:

- The format is decided by the file's content, never by its extension.
- EXIF orientation is applied before anything else, so phone photos stand upright.
- Every mode becomes 8-bit RGB: transparent pixels (LA, RGBA, P with a transparency entry,
  L and RGB with a transparent colour key) are composited on :data:`BACKGROUND` (white, like
  a browser page); CMYK is converted by Pillow so that red stays red; 16-bit and 32-bit
  grayscale are rescaled, not clipped.
- Animated images give their first frame.
- Images with more than ``max_pixels`` pixels are refused before they are decoded
  (decompression bombs), as are empty, truncated and non-image files. Each failure raises
  :class:`~synsetlab.errors.ImageLoadError` naming the file and the reason; nothing is
  ever silently replaced by another picture.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from synsetlab.errors import ConfigError, ImageLoadError

logger = logging.getLogger(__name__)

#: Colour that transparent pixels are composited on.
BACKGROUND = (255, 255, 255)

#: Default limit on width x height; Pillow's own default, overridable per call or with the
#: environment variable ``SYNSETLAB_MAX_PIXELS``.
DEFAULT_MAX_PIXELS = 89_478_485

_TRANSPARENT_MODES = {"LA", "La", "RGBA", "RGBa", "PA"}
_HIGH_DEPTH_GRAY = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
#: Modes where a palette entry or one colour (PNG tRNS, GIF) marks the transparent pixels.
_KEYED_MODES = {"P", "L", "RGB"}

#: Errors Pillow's decoders raise on corrupt data besides OSError (seen in bug reports).
_DECODE_ERRORS = (ValueError, SyntaxError, EOFError, struct.error, IndexError)

# Serialises the moments when Pillow's process-wide pixel limit is raised (see _open).
_PILLOW_LIMIT_LOCK = threading.Lock()


def default_max_pixels() -> int:
    """The pixel limit in force: ``SYNSETLAB_MAX_PIXELS`` if set, else Pillow's default."""
    value = os.environ.get("SYNSETLAB_MAX_PIXELS", "")
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(
            f"SYNSETLAB_MAX_PIXELS: expected a positive integer number of pixels, got {value!r}"
        )
    return int(value)


def load_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = None,
    draft_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Open ``path`` and return a fully decoded 8-bit RGB image.

    ``draft_size`` lets JPEG files decode at a reduced scale (by 1/2, 1/4 or 1/8) as long as
    both sides stay at least that large; other formats ignore it.
    Raises :class:`ImageLoadError` with the reason when the file cannot be used.
    """
    path = Path(path)
    limit = default_max_pixels() if max_pixels is None else max_pixels
    _check_not_empty(path)
    with _open(path, limit) as image:
        _check_pixels(path, image, limit)
        if draft_size is not None and image.format == "JPEG":
            image.draft("RGB", draft_size)
        return _decode_rgb(path, image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert an already opened Pillow image to RGB by the rules in this module's docstring."""
    image = _upright(image)
    if image.mode in _HIGH_DEPTH_GRAY:
        return _rescale_gray(image).convert("RGB")
    if image.mode in _KEYED_MODES and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _TRANSPARENT_MODES:
        return _composite(image.convert("RGBA"))
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def _upright(image: Image.Image) -> Image.Image:
    """The picture turned as its EXIF orientation tag says (the tag read as Pillow does)."""
    # exif_transpose copies the whole picture even when the tag asks for nothing: most
    # photos have no tag, or 1 (upright).
    if image.getexif().get(ExifTags.Base.Orientation, 1) in (None, 1):
        return image
    return ImageOps.exif_transpose(image) or image


def _check_not_empty(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ImageLoadError(
            path,
            "cannot read the file (No such file or directory): no file or folder by this "
            "name, and no file matches it as a pattern",
        ) from exc
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if size == 0:
        raise ImageLoadError(path, "the file is empty (0 bytes)")


def _open(path: Path, limit: int) -> Image.Image:
    try:
        with warnings.catch_warnings(), _pillow_pixel_limit(limit):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, _bomb_reason(_pillow_pixels(exc), limit)) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, _not_an_image_reason(path)) from exc
    except OSError as exc:
        if "truncated" in str(exc).lower():
            raise ImageLoadError(path, f"the file is damaged or truncated ({exc})") from exc
        raise ImageLoadError(path, f"cannot open the file ({exc})") from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(path, f"the image header cannot be decoded ({exc})") from exc


@contextmanager
def _pillow_pixel_limit(limit: int) -> Iterator[None]:
    """Let ``Image.open`` accept up to ``limit`` pixels, so that our limit is the one in force.

    Pillow refuses more than twice ``Image.MAX_IMAGE_PIXELS`` inside ``Image.open``, before
    we see the size. That is process-wide state, so it is raised only while opening, under a
    lock, and only for a limit above Pillow's default; lower limits are checked by us.
    """
    if limit <= 2 * DEFAULT_MAX_PIXELS:
        yield
        return
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None if saved is None else max(saved, limit)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _pillow_pixels(exc: Exception) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{found.group(1)} pixels" if found else str(exc)


def _bomb_reason(size: str, limit: int) -> str:
    return (
        f"refused as a possible decompression bomb: {size} exceeds the limit of {limit}; "
        "raise --max-pixels (or SYNSETLAB_MAX_PIXELS) if the image is genuine"
    )


def _not_an_image_reason(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(64).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<svg")):
        return (
            "not an image Pillow can read: the file holds HTML, XML or SVG text "
            "(a web page or vector drawing saved under an image name?)"
        )
    return "not an image in a format Pillow can read (unsupported or unknown format)"


def _check_pixels(path: Path, image: Image.Image, limit: int) -> None:
    width, height = image.size
    if width * height > limit:
        raise ImageLoadError(
            path, _bomb_reason(f"{width}x{height} = {width * height} pixels", limit)
        )
    if width < 1 or height < 1:
        raise ImageLoadError(path, f"the image has no pixels ({width}x{height})")


def _decode_rgb(path: Path, image: Image.Image) -> Image.Image:
    try:
        image.seek(0)
        image.load()
        return to_rgb(image)
    except OSError as exc:
        raise ImageLoadError(path, f"the image data is damaged or truncated ({exc})") from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(path, f"the image data cannot be decoded ({exc})") from exc


def _rescale_gray(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    top = 1.0 if image.mode == "F" and values.max(initial=0.0) <= 1.0 else 65535.0
    if image.mode == "I" and values.max(initial=0.0) <= 255.0:
        top = 255.0
    scaled = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def _composite(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, BACKGROUND)
    background.paste(image, mask=image.getchannel("A"))
    return background

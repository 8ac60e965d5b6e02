"""Training views of a picture: augmentation suited to a few hundred photos per class.

A view is a random crop covering a good part of the picture (``scale`` of its area, aspect
ratio within ``ratio``), resized to the model's input size with the model's own resampling,
mirrored half of the time, with modest brightness, contrast and saturation changes, then
normalised exactly as at prediction time. Every random draw comes from a generator seeded by
``(seed, image index, view)``, so a view is the same picture in every run and on every rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from synsetlab.models.preprocessing import Preprocessing

#: ITU-R 601 luma weights, as Pillow uses for RGB -> L.
_LUMA = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes; ``jitter`` 0.2 means factors in [0.8, 1.2]."""

    scale: tuple[float, float] = (0.25, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    jitter: float = 0.2


def view_rng(seed: int, index: int, view: int) -> np.random.Generator:
    """The generator of one view of one image: independent of run history and rank."""
    return np.random.default_rng([seed, index, view])


def train_view(
    image: Image.Image,
    pre: Preprocessing,
    rng: np.random.Generator,
    aug: Augmentation = Augmentation(),
) -> np.ndarray:
    """One augmented, normalised CHW float32 view of an RGB picture."""
    box = random_box(image.size, rng, aug)
    side = (pre.crop_size, pre.crop_size)
    resample = Image.Resampling[pre.interpolation.upper()]
    pixels = np.asarray(image.resize(side, resample, box=box), dtype=np.float32)
    if aug.flip and rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    if aug.jitter > 0:
        pixels = colour_jitter(pixels, rng, aug.jitter)
    return normalise(pixels, pre)


def random_box(
    size: tuple[int, int], rng: np.random.Generator, aug: Augmentation
) -> tuple[float, float, float, float]:
    """A crop box of random area and aspect ratio; the whole centre square if none fits."""
    width, height = size
    area = width * height
    log_lo, log_hi = math.log(aug.ratio[0]), math.log(aug.ratio[1])
    for _ in range(10):
        target = area * rng.uniform(*aug.scale)
        ratio = math.exp(rng.uniform(log_lo, log_hi))
        w, h = math.sqrt(target * ratio), math.sqrt(target / ratio)
        if w <= width and h <= height:
            left, top = rng.uniform(0, width - w), rng.uniform(0, height - h)
            return (left, top, left + w, top + h)
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def colour_jitter(pixels: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Brightness, contrast and saturation each scaled by a factor in [1-amount, 1+amount]."""
    brightness, contrast, saturation = rng.uniform(1 - amount, 1 + amount, size=3)
    pixels = pixels * brightness
    gray = pixels @ _LUMA
    pixels = (pixels - gray.mean()) * contrast + gray.mean()
    gray = (pixels @ _LUMA)[..., None]
    pixels = (pixels - gray) * saturation + gray
    return np.clip(pixels, 0.0, 255.0)


def normalise(pixels: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """HWC 0..255 pixels to the model's CHW input, as :meth:`Preprocessing.to_array` does."""
    mean = np.asarray(pre.mean, dtype=np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(pre.std, dtype=np.float32) * 255.0)
    chw = ((pixels.astype(np.float32) - mean) * inv_std).transpose(2, 0, 1)
    return np.ascontiguousarray(chw, dtype=np.float32)

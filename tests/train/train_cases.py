"""Small labelled image folders built by the tests themselves (helpers; fixtures in conftest).

The pictures are synthetic but easy to tell apart for an ImageNet model: each class has its
own colour and stripe direction, with random noise so that no two pictures are equal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

#: Class name -> (RGB colour, stripe direction). Names are numeric on purpose: sorted as
#: strings they give 1, 10, 2 -- the order the model file must keep.
PATTERNS: dict[str, tuple[tuple[int, int, int], str]] = {
    "1": ((220, 40, 40), "horizontal"),
    "2": ((40, 60, 220), "vertical"),
    "10": ((40, 200, 60), "diagonal"),
}


def picture(colour: tuple[int, int, int], stripes: str, seed: int, size=(96, 80)) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    coord = {"horizontal": y, "vertical": x, "diagonal": x + y}[stripes]
    mask = ((coord // 8) % 2).astype(np.float32)[..., None]
    base = np.asarray(colour, dtype=np.float32) * (0.55 + 0.45 * mask)
    noisy = base + rng.normal(0, 18, size=(height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def write_class_folders(
    root: Path,
    per_class: int,
    classes: dict[str, tuple[tuple[int, int, int], str]] = PATTERNS,
    seed: int = 0,
) -> Path:
    for c, (name, (colour, stripes)) in enumerate(sorted(classes.items())):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            picture(colour, stripes, seed * 10_000 + c * 1000 + i).save(folder / f"{name}_{i}.jpg")
    return root


MakeData = Callable[..., Path]

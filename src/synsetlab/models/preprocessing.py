"""How a model wants its pictures: resize the short side, crop the centre, normalise.

Each model carries one :class:`Preprocessing`, so the numbers are written in one place and
travel with the model into logs, model files and exports.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from synsetlab.errors import ConfigError

if TYPE_CHECKING:
    import torch

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class Preprocessing:
    """Resize the short side to ``resize_size``, crop ``crop_size`` from the centre,
    scale to [0, 1] and normalise with ``mean`` and ``std`` (per RGB channel)."""

    resize_size: int
    crop_size: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.interpolation not in _RESAMPLE:
            raise ConfigError(
                f"interpolation {self.interpolation!r} is not one of {sorted(_RESAMPLE)}"
            )
        if not 0 < self.crop_size <= self.resize_size:
            raise ConfigError(
                f"expected 0 < crop_size <= resize_size, got {self.crop_size} / {self.resize_size}"
            )

    def __str__(self) -> str:
        return (
            f"resize {self.resize_size} {self.interpolation}, centre crop {self.crop_size}, "
            f"mean {_fmt(self.mean)}, std {_fmt(self.std)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        try:
            return cls(
                resize_size=int(data["resize_size"]),
                crop_size=int(data["crop_size"]),
                interpolation=str(data["interpolation"]),
                mean=_triple(data["mean"]),
                std=_triple(data["std"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"preprocessing metadata is incomplete or malformed: {exc}") from exc

    def draft_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The smallest size a JPEG may be decoded at without losing resolution we need."""
        scale = self.resize_size / min(size)
        return (math.ceil(size[0] * scale), math.ceil(size[1] * scale))

    def crop_box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The region of the original picture that becomes the model's input.

        Same arithmetic as resize-then-centre-crop in torchvision, expressed in source pixels,
        so that only the kept region is resampled (a 1 x 1000 strip stays cheap).
        """
        width, height = size
        short, long = min(size), max(size)
        new_long = int(self.resize_size * long / short)
        new_w, new_h = (
            (self.resize_size, new_long) if width <= height else (new_long, self.resize_size)
        )
        top = round((new_h - self.crop_size) / 2.0)
        left = round((new_w - self.crop_size) / 2.0)
        sx, sy = width / new_w, height / new_h
        return (left * sx, top * sy, (left + self.crop_size) * sx, (top + self.crop_size) * sy)

    def crop_resize(self, image: Image.Image) -> Image.Image:
        """Resize and centre-crop an RGB picture to ``crop_size`` squared."""
        box = self.crop_box(image.size)
        side = (self.crop_size, self.crop_size)
        return image.resize(side, _RESAMPLE[self.interpolation], box=box)

    def to_array(self, image: Image.Image) -> np.ndarray:
        """The normalised CHW float32 array the model takes, from an RGB picture."""
        pixels = np.asarray(self.crop_resize(image))
        chw = np.empty((3, *pixels.shape[:2]), dtype=np.float32)
        # One float32 copy, transposed on the way, then normalised in place: no temporaries.
        np.copyto(chw, pixels.transpose(2, 0, 1), casting="unsafe")
        chw -= self._scaled_mean
        chw *= self._inv_scaled_std
        return chw

    @functools.cached_property
    def _scaled_mean(self) -> np.ndarray:
        return (np.asarray(self.mean, dtype=np.float32) * 255.0).reshape(3, 1, 1)

    @functools.cached_property
    def _inv_scaled_std(self) -> np.ndarray:
        return (1.0 / (np.asarray(self.std, dtype=np.float32) * 255.0)).reshape(3, 1, 1)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import torch

        return torch.from_numpy(self.to_array(image))


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return (a, b, c)


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"

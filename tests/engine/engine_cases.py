"""A tiny model that exports in a blink, shared by the engine tests."""

from __future__ import annotations

import torch
from torch import nn

from synsetlab.models.base import LoadedModel
from synsetlab.models.classes import ClassList
from synsetlab.models.preprocessing import Preprocessing

TINY_CLASSES = 7


class TinyNet(nn.Module):
    """Convolution, batch norm, pooling and a linear head: the layer kinds real models use."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU6()
        )
        self.head = nn.Linear(8, TINY_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def tiny_model(seed: int = 0, crop: int = 32, architecture: str = "tiny") -> LoadedModel:
    """A fresh, deterministic tiny model (its own weights: tests may change them)."""
    torch.manual_seed(seed)
    module = TinyNet()
    with torch.no_grad():  # non-trivial statistics, so that eval mode matters
        module.features[1].running_mean.uniform_(-0.5, 0.5)
        module.features[1].running_var.uniform_(0.5, 2.0)
    names = [f"class {i}" for i in range(TINY_CLASSES)]
    half = (0.5, 0.5, 0.5)
    return LoadedModel(
        name=architecture,
        architecture=architecture,
        module=module,
        preprocessing=Preprocessing(crop + 8, crop, "bilinear", half, half),
        classes=ClassList.from_names(names),
        source="built in the test",
    )

"""What every model loader returns: the network with everything needed to use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from synsetlab.models.classes import ClassList
from synsetlab.models.preprocessing import Preprocessing


@dataclass
class LoadedModel:
    """A ready network in eval mode, with its preprocessing, class list and provenance.

    ``name`` is what the user asked for, ``architecture`` the timm or torchvision builder,
    ``source`` where the weights came from (a file path) and ``metadata`` anything a model file
    stored besides (training settings, metrics).
    """

    name: str
    architecture: str
    module: torch.nn.Module
    preprocessing: Preprocessing
    classes: ClassList
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.module.eval()

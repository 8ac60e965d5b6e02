"""What a prediction looks like, for people and for machines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Prediction:
    """One of the top-k guesses for an image; ``rank`` starts at 1."""

    rank: int
    index: int
    wnid: str | None
    label: str
    probability: float


@dataclass(frozen=True)
class ImageResult:
    """The outcome for one input: its predictions, or why the file could not be used."""

    path: str
    predictions: tuple[Prediction, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "predictions": [asdict(p) for p in self.predictions],
            "error": self.error,
        }

"""A model's class list: index -> WordNet id -> names and gloss."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synsetlab.errors import ConfigError

_WNID = re.compile(r"^n\d{8}$")


def is_wnid(text: str) -> bool:
    """Whether ``text`` looks like a WordNet 3.0 noun id (``n`` + 8-digit offset)."""
    return bool(_WNID.match(text))


@dataclass(frozen=True)
class ClassList:
    """The classes a model predicts, by output index.

    ``wnids[i]`` is the WordNet id of class ``i`` (``None`` for a class that has none, as in a
    user's own dataset), ``labels[i]`` its human-readable name(s), ``glosses[i]`` a definition.
    """

    labels: tuple[str, ...]
    wnids: tuple[str | None, ...]
    glosses: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.wnids) != len(self.labels):
            raise ConfigError(f"{len(self.labels)} class labels but {len(self.wnids)} WordNet ids")
        if self.glosses and len(self.glosses) != len(self.labels):
            raise ConfigError(f"{len(self.labels)} class labels but {len(self.glosses)} glosses")

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_names(cls, names: Sequence[str]) -> ClassList:
        """Classes named by a user (folder names); names that are WordNet ids keep them."""
        return cls(labels=tuple(names), wnids=tuple(n if is_wnid(n) else None for n in names))

    def index_of(self, key: str) -> int:
        """The index of a class given its WordNet id or its label; raises KeyError if unknown."""
        return self._lookup[key]

    @functools.cached_property
    def _lookup(self) -> dict[str, int]:
        table = {label: i for i, label in enumerate(self.labels)}
        table.update({wnid: i for i, wnid in enumerate(self.wnids) if wnid is not None})
        return table

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "wnids": list(self.wnids),
            "glosses": list(self.glosses),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassList:
        try:
            return cls(
                labels=tuple(str(x) for x in data["labels"]),
                wnids=tuple(None if x is None else str(x) for x in data["wnids"]),
                glosses=tuple(str(x) for x in data.get("glosses", ())),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"class list metadata is incomplete or malformed: {exc}") from exc


@functools.cache
def imagenet_classes() -> ClassList:
    """The 1000 ImageNet-1k classes in the standard (sorted WordNet id) order, from timm."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    wnids = tuple(info.label_names())
    labels = tuple(info.index_to_description(i) for i in range(len(wnids)))
    glosses = tuple(_gloss(info.index_to_description(i, detailed=True)) for i in range(len(wnids)))
    return ClassList(labels=labels, wnids=wnids, glosses=glosses)


def _gloss(detailed: str) -> str:
    # timm writes "names: gloss"; the names are already in the label.
    return detailed.split(": ", 1)[1] if ": " in detailed else ""

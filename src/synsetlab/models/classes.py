"""A model's class list: index -> WordNet id -> names and gloss."""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
    """The 1000 ImageNet-1k classes in the standard (sorted WordNet id) order.

    Read from the text files timm ships (the same ones ``timm.data.ImageNetInfo`` reads), by
    path: importing timm costs a second or more (it imports torch), which a classify run on
    the ONNX engine never needs.
    """
    folder = _timm_info_folder()
    wnids = tuple(_read_lines(folder / "imagenet_synsets.txt"))
    lemmas = _read_table(folder / "imagenet_synset_to_lemma.txt")
    definitions = _read_table(folder / "imagenet_synset_to_definition.txt")
    try:
        labels = tuple(lemmas[w] for w in wnids)
        glosses = tuple(definitions[w] for w in wnids)
    except KeyError as exc:
        raise ConfigError(f"timm's ImageNet metadata in {folder} has no entry for {exc}") from exc
    return ClassList(labels=labels, wnids=wnids, glosses=glosses)


def _timm_info_folder() -> Path:
    # find_spec locates the package without executing it (timm's __init__ imports torch).
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the ImageNet class names come from timm, which is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "_info"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read timm's ImageNet metadata {path}: {exc}") from exc


def _read_table(path: Path) -> dict[str, str]:
    """A two-column tab-separated file as a mapping (timm's lemma and definition files)."""
    rows = csv.reader(_read_lines(path), delimiter="\t")
    return {row[0]: row[1] for row in rows if len(row) >= 2}

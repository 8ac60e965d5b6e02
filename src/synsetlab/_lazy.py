"""PEP 562 lazy attributes, so that importing a package does not import torch for it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, homes: Mapping[str, str], aliases: Mapping[str, str] | None = None
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``homes[name]`` on first use and returns its
    attribute ``aliases.get(name, name)``."""
    renames = aliases or {}

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), renames.get(name, name))

    return __getattr__

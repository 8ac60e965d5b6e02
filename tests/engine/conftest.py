"""Fixtures for the engine tests: a private ONNX cache and a tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_cases import tiny_model

from synsetlab.models.base import LoadedModel


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Exports go to a temporary cache, never the user's ``~/.cache``."""
    root = tmp_path_factory.mktemp("synsetlab-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNSETLAB_CACHE_DIR", str(root))
        yield root


@pytest.fixture
def tiny() -> LoadedModel:
    return tiny_model()

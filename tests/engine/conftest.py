"""Fixtures for the engine tests: a tiny model (the private ONNX cache is tests/conftest.py's)."""

from __future__ import annotations

import pytest
from engine_cases import tiny_model

from synsetlab.models.base import LoadedModel


@pytest.fixture
def tiny() -> LoadedModel:
    return tiny_model()

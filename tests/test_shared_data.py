"""The rule for real data: skip when ``../shared`` is missing, but fail under ``CI=true``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

Shared = Callable[..., Path]


def test_missing_shared_data_fails_under_ci(
    shared_data: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        shared_data("imagenet-sample", root=tmp_path / "absent")


def test_missing_shared_data_skips_elsewhere(
    shared_data: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="imagenet-sample"):
        shared_data("imagenet-sample", root=tmp_path / "absent")


def test_present_shared_data_is_returned(
    shared_data: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "imagenet-sample").mkdir()
    monkeypatch.setenv("CI", "true")
    assert shared_data("imagenet-sample", root=tmp_path) == tmp_path / "imagenet-sample"

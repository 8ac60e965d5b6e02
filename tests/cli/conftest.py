from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_cases import Cli, command_runner


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    yield from command_runner(monkeypatch, capsys)

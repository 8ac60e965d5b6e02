"""Running the console entry point in-process, for the CLI tests of every command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from synsetlab.cli.main import main


@dataclass
class Run:
    status: int
    out: str
    err: str


Cli = Callable[..., Run]


def command_runner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """``cli("classify", path, ...)`` -> exit status, stdout and stderr of the command."""
    logger = logging.getLogger("synsetlab")
    saved = (logger.handlers[:], logger.level, logger.propagate)

    def run(*args: object) -> Run:
        monkeypatch.setattr(sys, "argv", ["synsetlab", *(str(a) for a in args)])
        with pytest.raises(SystemExit) as ended:
            main()
        out, err = capsys.readouterr()
        code = ended.value.code
        return Run(code if isinstance(code, int) else 1, out, err)

    yield run
    # The command configured logging to the captured stderr; give the suite its own back.
    logger.handlers[:], logger.level, logger.propagate = saved

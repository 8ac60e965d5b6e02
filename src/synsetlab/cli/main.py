"""The ``synsetlab`` console script: a thin layer over the library.

Each command lives in its own module and registers itself on :data:`app` when imported.
"""

from __future__ import annotations

import sys

import typer

from synsetlab.cli import (  # noqa: F401  (registers the commands)
    classify,
    evaluate,
    export,
    finetune,
    logs,
    models,
)
from synsetlab.cli.app import EXIT_ERROR, app
from synsetlab.errors import SynsetlabError


def main() -> None:
    """Console entry point: library errors become one line on stderr and exit status 1."""
    try:
        status = app(standalone_mode=False)
    except SynsetlabError as exc:
        logs.stderr.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except typer.TyperException as exc:
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        logs.stderr.print("aborted", markup=False)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)

"""Logging set-up for the command line (the library itself never configures logging)."""

from __future__ import annotations

import logging

from rich.console import Console

#: The console for progress bars and one-line errors: stderr, so stdout carries only results.
stderr = Console(stderr=True)


def configure(verbosity: int) -> None:
    """-q: warnings only; default: decisions and provenance (INFO); -v: debug."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(stderr.file)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("synsetlab")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False

"""``synsetlab models`` and ``synsetlab version``."""

from __future__ import annotations

import typer

from synsetlab import __version__
from synsetlab.cli.app import app, emit
from synsetlab.cli.output import metrics_table, render_tables
from synsetlab.models import DEFAULT_MODEL, bundled_models, create_model


@app.command("models")
def list_models() -> None:
    """The bundled models (always available offline) and their preprocessing."""
    rows = []
    for name in bundled_models():
        label = name + (" (default)" if name == DEFAULT_MODEL else "")
        rows.append((label, str(create_model(name).preprocessing)))
    emit(render_tables([metrics_table(rows, columns=("bundled model", "preprocessing"))]), None)


@app.command()
def version() -> None:
    """Print synsetlab's version."""
    typer.echo(__version__)

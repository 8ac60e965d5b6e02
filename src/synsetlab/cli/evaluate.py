"""``synsetlab evaluate``."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from synsetlab.cli.app import (
    BatchOpt,
    DeviceOpt,
    DownloadOpt,
    ModelOpt,
    OutputOpt,
    PixelsOpt,
    app,
    emit,
    finish,
    progress,
)
from synsetlab.cli.output import metrics_table, render_tables
from synsetlab.engine.classifier import Classifier
from synsetlab.evaluate.runner import evaluate as run_evaluation
from synsetlab.models import DEFAULT_MODEL, create_model

HEADLINE = (
    "top1_accuracy",
    "top5_accuracy",
    "top1_error",
    "top5_error",
    "num_images",
    "num_failed",
)


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def evaluate(
    data: Annotated[Path, typer.Argument(help="Class folders, or a flat folder plus --labels.")],
    model: ModelOpt = DEFAULT_MODEL,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="LOC_val_solution.csv or one label per line.")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.table,
    output: OutputOpt = None,
    batch_size: BatchOpt = 32,
    device: DeviceOpt = "cpu",
    max_pixels: PixelsOpt = None,
    allow_download: DownloadOpt = False,
) -> None:
    """Top-1 and top-5 accuracy and error (ILSVRC definition) on labelled images."""
    loaded = create_model(model, allow_download=allow_download)
    classifier = Classifier(loaded, batch_size=batch_size, device=device, max_pixels=max_pixels)
    with progress(None) as advance:
        result = run_evaluation(classifier, data, labels, on_image=advance)
    summary = result.summary()
    if fmt is ReportFormat.json:
        emit(json.dumps(summary, indent=2) + "\n", output)
    else:
        emit(render_tables([_summary_table(summary)]), output)
    finish(summary["num_failed"], summary["num_images"] + summary["num_failed"])


def _summary_table(summary: dict[str, Any]) -> Any:
    title = f"{summary['model']} on {summary['data']}"
    return metrics_table(title, [(key, summary[key]) for key in HEADLINE])

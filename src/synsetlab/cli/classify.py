"""``synsetlab classify`` and ``synsetlab demo``."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Annotated

import typer

from synsetlab.cli.app import (
    BatchOpt,
    DeviceOpt,
    DownloadOpt,
    Engine,
    EngineOpt,
    ModelOpt,
    OutputOpt,
    PixelsOpt,
    app,
    emit,
    finish,
    progress,
)
from synsetlab.cli.output import render_results
from synsetlab.data.discovery import find_images
from synsetlab.data.examples import example_photos
from synsetlab.engine.classifier import Classifier
from synsetlab.models import DEFAULT_MODEL, create_model

logger = logging.getLogger(__name__)


class ResultFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


@app.command()
def classify(
    paths: Annotated[list[str], typer.Argument(help="Image files, folders (recursive) or globs.")],
    model: ModelOpt = DEFAULT_MODEL,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Guesses per image.")] = 5,
    fmt: Annotated[ResultFormat, typer.Option("--format", "-f")] = ResultFormat.table,
    output: OutputOpt = None,
    batch_size: BatchOpt = 32,
    device: DeviceOpt = "auto",
    engine: EngineOpt = Engine.auto,
    max_pixels: PixelsOpt = None,
    allow_download: DownloadOpt = False,
) -> None:
    """Top-k ImageNet classes (WordNet id and name) for each image."""
    loaded = create_model(model, allow_download=allow_download)
    classifier = Classifier(
        loaded, batch_size=batch_size, device=device, engine=engine.value, max_pixels=max_pixels
    )
    files = find_images(paths)
    logger.info("classifying %d files", len(files))
    with progress(len(files), show=len(files) > 1) as advance:
        results = list(classifier.classify_files(files, top_k, on_result=lambda _: advance()))
    emit(render_results(results, fmt.value), output)
    finish(sum(not r.ok for r in results), len(results))


@app.command()
def demo(model: ModelOpt = DEFAULT_MODEL, top_k: int = 5) -> None:
    """Classify the example photos that ship with matplotlib and scikit-image."""
    classifier = Classifier(create_model(model))
    results = list(classifier.classify_files(example_photos(), top_k))
    emit(render_results(results, "table"), None)
    finish(sum(not r.ok for r in results), len(results))

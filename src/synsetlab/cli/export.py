"""``synsetlab export``: a model (name or model file) as an ONNX graph plus a JSON sidecar."""

from __future__ import annotations

import json
import logging
import re
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from synsetlab.cli.app import DownloadOpt, app, emit
from synsetlab.errors import SynsetlabError
from synsetlab.fileio import atomic_write_text

logger = logging.getLogger(__name__)


class ExportFormat(str, Enum):
    onnx = "onnx"


@app.command()
def export(
    model: Annotated[str, typer.Argument(help="A model file (.synsetlab) or a model name.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.onnx,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The .onnx file [MODEL with .onnx].")
    ] = None,
    allow_download: DownloadOpt = False,
) -> None:
    """Write an ONNX graph, checked against PyTorch, with its classes and preprocessing."""
    # Imported here: torch and the exporter are not needed for --help or other commands.
    from synsetlab.engine.onnx_export import export_onnx
    from synsetlab.models import create_model
    from synsetlab.models.modelfile import ONNX_TOLERANCE, check_onnx, export_description

    loaded = create_model(model, allow_download=allow_download)
    target = output or default_output(model)
    export_onnx(loaded.module, target, loaded.preprocessing.crop_size)
    try:
        gap = check_onnx(loaded, target)
    except SynsetlabError:
        target.unlink(missing_ok=True)  # a graph that disagrees with PyTorch must not be used
        raise
    sidecar = target.with_suffix(".json")
    description = {**export_description(loaded), "onnx_max_logit_difference": gap}
    atomic_write_text(sidecar, json.dumps(description, indent=2) + "\n")
    emit(
        f"onnx      {target}\nsidecar   {sidecar}\n"
        f"checked   onnxruntime vs PyTorch: max logit difference {gap:.1e} "
        f"(tolerance {ONNX_TOLERANCE:.0e})\n",
        None,
    )


def default_output(model: str) -> Path:
    """``x.synsetlab`` -> ``x.onnx`` beside it; a model name -> ``<name>.onnx`` here."""
    from synsetlab.models.modelfile import is_model_file

    if is_model_file(model):
        return Path(model).with_suffix(".onnx")
    return Path(re.sub(r"[^A-Za-z0-9_.-]+", "_", model) + ".onnx")

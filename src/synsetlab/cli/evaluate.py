"""``synsetlab evaluate``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

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
from synsetlab.cli.output import metrics_table, render_tables
from synsetlab.engine.classifier import Classifier
from synsetlab.evaluate.runner import Evaluation
from synsetlab.evaluate.runner import evaluate as run_evaluation
from synsetlab.models import DEFAULT_MODEL, create_model

logger = logging.getLogger(__name__)

HEADLINE = (
    "top1_accuracy",
    "top5_accuracy",
    "top1_error",
    "top5_error",
    "num_images",
    "num_failed",
)
#: Rows the table adds when the diagnostics were computed (--report).
DIAGNOSTIC_ROWS = (
    "hierarchical_cost",
    "same_parent_share",
    "ece",
    "mean_class_accuracy",
    "num_classes_missing",
)

ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write the diagnostic report here: index.html, plots, CSV and metrics.json.",
    ),
]
CompareOpt = Annotated[
    tuple[str, str] | None,
    typer.Option(
        "--compare",
        metavar="MODEL_A MODEL_B",
        help="Evaluate two models on the same data, side by side (instead of --model).",
    ),
]


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
    devkit: Annotated[
        Path | None,
        typer.Option("--devkit", help="ILSVRC devkit meta.mat: --labels holds ILSVRC2012_IDs."),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.table,
    output: OutputOpt = None,
    batch_size: BatchOpt = 32,
    device: DeviceOpt = "auto",
    engine: EngineOpt = Engine.auto,
    max_pixels: PixelsOpt = None,
    allow_download: DownloadOpt = False,
    report: ReportOpt = None,
    compare: CompareOpt = None,
) -> None:
    """Top-1 and top-5 accuracy and error (ILSVRC definition) on labelled images;
    --report adds the diagnostics, --compare puts two models side by side."""

    def run(name: str) -> Evaluation:
        loaded = create_model(name, allow_download=allow_download)
        classifier = Classifier(
            loaded, batch_size=batch_size, device=device, engine=engine.value, max_pixels=max_pixels
        )
        with progress(None) as advance:
            return run_evaluation(classifier, data, labels, on_image=advance, devkit=devkit)

    if compare is not None:
        _compare(run, compare, model, fmt, output, report, max_pixels)
        return
    result = run(model)
    summary = result.summary()
    if report is not None:
        summary = _report(result, report, max_pixels)
    if fmt is ReportFormat.json:
        emit(json.dumps(summary, indent=2) + "\n", output)
    else:
        emit(render_tables(_summary_table(summary)), output)
    finish(summary["num_failed"], summary["num_images"] + summary["num_failed"])


def _report(result: Evaluation, directory: Path, max_pixels: int | None) -> dict[str, Any]:
    """Compute the diagnostics, write the report; the headline figures plus the page's path."""
    # Imported here: the report's plots need matplotlib (0.25 s), a plain evaluation does not.
    from synsetlab.evaluate.diagnostics import diagnose
    from synsetlab.evaluate.report import write_report

    diagnostics = diagnose(result)
    page = write_report(diagnostics, directory, max_pixels=max_pixels)
    return {**diagnostics.headline(), "report": str(page)}


def _compare(
    run: Callable[[str], Evaluation],
    models: tuple[str, str],
    model: str,
    fmt: ReportFormat,
    output: Path | None,
    report: Path | None,
    max_pixels: int | None,
) -> None:
    from synsetlab.evaluate.compare import compare as compare_models
    from synsetlab.evaluate.compare import write_compare_report
    from synsetlab.evaluate.diagnostics import diagnose

    if model != DEFAULT_MODEL:
        logger.warning("--model %s is not used: --compare names the two models", model)
    comparison = compare_models(diagnose(run(models[0])), diagnose(run(models[1])))
    result = comparison.to_dict()
    if report is not None:
        page = write_compare_report(comparison, report, max_pixels=max_pixels)
        result["report"] = str(page)
    if fmt is ReportFormat.json:
        emit(json.dumps(result, indent=2) + "\n", output)
    else:
        title = f"{result['models'][0]} vs {result['models'][1]} on {result['data']}"
        emit(render_tables([title, _compare_table(result)]), output)
    failed = max(result["a"]["num_failed"], result["b"]["num_failed"])
    finish(failed, result["paired_images"] + failed)


def _summary_table(summary: dict[str, Any]) -> list[str | Table]:
    title = f"{summary['model']} on {summary['data']}"
    keys = HEADLINE + (DIAGNOSTIC_ROWS if "report" in summary else ())
    rows = [(key, "n/a" if summary[key] is None else summary[key]) for key in keys]
    if "report" in summary:
        rows.append(("report", summary["report"]))
    return [title, metrics_table(rows)]


def _compare_table(result: dict[str, Any]) -> Table:
    a, b = result["models"]
    table = Table()
    for name, justify in (("metric", "left"), (a, "right"), (b, "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for key in (*HEADLINE, "hierarchical_cost", "same_parent_share", "ece"):
        table.add_row(key, _cell(result["a"][key]), _cell(result["b"][key]))
    table.add_row(
        "only this model right (top-1)", str(result["only_a_right"]), str(result["only_b_right"])
    )
    table.add_row("first guesses differ", str(result["num_disagreements"]), "")
    table.add_row("McNemar exact p", f"{result['mcnemar_p']:.3g}", "")
    if "report" in result:
        table.add_row("report", result["report"], "")
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)

"""The per-epoch metrics file (CSV) and a PNG of the learning curves."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from synsetlab.fileio import atomic_write_bytes, atomic_write_text
from synsetlab.train.loop import EpochRecord

logger = logging.getLogger(__name__)

COLUMNS = tuple(f.name for f in fields(EpochRecord))


def write_metrics(path: Path, history: Sequence[EpochRecord]) -> None:
    """One row per epoch, rewritten whole (and atomically) after every epoch; numbers are
    written in full precision, so the file says exactly what the run computed."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in history:
        writer.writerow(record.to_dict())
    atomic_write_text(path, buffer.getvalue())


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def plot_curves(
    path: Path, history: Sequence[EpochRecord], best_epoch: int, title: str = ""
) -> None:
    """Loss and accuracy per epoch, train and validation, with the epoch kept marked."""
    # The object-oriented API with an Agg canvas leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r.epoch for r in history]
    figure = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss, accuracy = figure.subplots(1, 2)
    loss.plot(epochs, [r.train_loss for r in history], "o-", label="train")
    loss.plot(epochs, [r.val_loss for r in history], "o-", label="validation")
    accuracy.plot(epochs, [100 * r.train_accuracy for r in history], "o-", label="train")
    accuracy.plot(epochs, [100 * r.val_accuracy for r in history], "o-", label="validation")
    accuracy.axvline(best_epoch, color="grey", linestyle=":", label=f"kept (epoch {best_epoch})")
    for axes, name in ((loss, "cross-entropy loss"), (accuracy, "accuracy (%)")):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    logger.info("learning curves drawn in %s", path)

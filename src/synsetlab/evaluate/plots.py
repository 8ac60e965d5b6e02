"""The report's pictures as PNG bytes: a confusion matrix (or, with too many classes to read
one, a chart of the most-confused pairs) and a reliability diagram.

Figures are drawn on matplotlib's Agg canvas directly, without pyplot, so nothing global (the
backend, open figures) changes in the caller's process and no display is needed.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from synsetlab.evaluate.diagnostics import Diagnostics, ReliabilityBin

logger = logging.getLogger(__name__)

#: Above this many classes a matrix is unreadable; the picture becomes a most-confused chart.
MATRIX_LIMIT = 50
#: Counts are written in the cells up to this many classes.
ANNOTATE_LIMIT = 25
#: Pairs shown in the most-confused chart.
CHART_PAIRS = 25
DPI = 100


def short_label(label: str, width: int = 22) -> str:
    """The first name of a label (``"tench, Tinca tinca"`` -> ``"tench"``), cut to ``width``."""
    first = label.split(",")[0].strip()
    return first if len(first) <= width else first[: width - 1] + "…"


def matrix_classes(diagnostics: Diagnostics) -> list[int] | None:
    """The class indices the confusion picture shows as a matrix, or None when too many.

    All classes of a small model (missing ones included, as empty rows); otherwise the classes
    that occur in the data or among the first guesses, when there are few enough.
    """
    if len(diagnostics.classes) <= MATRIX_LIMIT:
        return list(range(len(diagnostics.classes)))
    matrix = diagnostics.confusion
    involved = np.flatnonzero(matrix.sum(axis=0) + matrix.sum(axis=1)).tolist()
    return involved if len(involved) <= MATRIX_LIMIT else None


def confusion_png(diagnostics: Diagnostics) -> bytes:
    """The confusion matrix of first guesses, or the most-confused chart above the limit."""
    shown = matrix_classes(diagnostics)
    if shown is None:
        logger.info("more than %d classes involved: drawing the most-confused pairs", MATRIX_LIMIT)
        return _render(_confused_chart(diagnostics))
    return _render(_matrix_figure(diagnostics, shown))


def reliability_png(diagnostics: Diagnostics) -> bytes:
    """Reliability diagram: accuracy against confidence per bin, with the bins' image counts."""
    bins = diagnostics.calibration.bins
    figure = Figure(figsize=(6.0, 6.4), dpi=DPI)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    _reliability_bars(top, bins)
    ece = diagnostics.calibration.ece
    top.set_title(f"Reliability (ECE {ece:.3f})" if ece is not None else "Reliability (no data)")
    width = bins[0].upper - bins[0].lower
    bottom.bar([b.lower for b in bins], [b.count for b in bins], width=width, align="edge")
    bottom.set(xlabel="confidence (probability of the first guess)", ylabel="images")
    figure.tight_layout()
    return _render(figure)


def _reliability_bars(axes: Axes, bins: tuple[ReliabilityBin, ...]) -> None:
    lowers = [b.lower for b in bins]
    width = bins[0].upper - bins[0].lower
    accuracy = [b.accuracy or 0.0 for b in bins]
    axes.bar(lowers, accuracy, width=width, align="edge", color="#4c72b0", label="accuracy")
    # Drawing the gap between confidence and accuracy makes over-confidence visible at a glance.
    gap = [(b.confidence or 0.0) - (b.accuracy or 0.0) for b in bins]
    axes.bar(
        lowers,
        gap,
        width,
        accuracy,
        align="edge",
        color="#dd8452",
        alpha=0.5,
        hatch="//",
        edgecolor="#b42318",
        label="gap to confidence",
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="#333333", label="perfect calibration")
    axes.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy of first guess")
    axes.legend(loc="upper left", fontsize="small")


def _matrix_figure(diagnostics: Diagnostics, shown: list[int]) -> Figure:
    counts = diagnostics.confusion[np.ix_(shown, shown)]
    support = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, support, out=np.zeros(counts.shape), where=support > 0)
    side = min(22.0, max(5.0, 0.3 * len(shown) + 3.5))
    figure = Figure(figsize=(side + 1.2, side), dpi=DPI)
    axes = figure.subplots()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    names = [_tick(diagnostics, index) for index in shown]
    axes.set_xticks(range(len(shown)), names, rotation=90, fontsize="small")
    axes.set_yticks(range(len(shown)), names, fontsize="small")
    axes.set(xlabel="first guess", ylabel="true class")
    axes.set_title(f"Confusion matrix: {diagnostics.evaluation.model}")
    if len(shown) <= ANNOTATE_LIMIT:
        _annotate(axes, counts, share)
    figure.tight_layout()
    return figure


def _tick(diagnostics: Diagnostics, index: int) -> str:
    missing = " (missing)" if diagnostics.per_class[index].missing else ""
    return f"{index}: {short_label(diagnostics.label(index))}{missing}"


def _annotate(axes: Axes, counts: np.ndarray, share: np.ndarray) -> None:
    for (row, col), count in np.ndenumerate(counts):
        if count:
            colour = "white" if share[row, col] > 0.5 else "black"
            axes.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)


def _confused_chart(diagnostics: Diagnostics) -> Figure:
    pairs = diagnostics.most_confused[:CHART_PAIRS]
    figure = Figure(figsize=(9.0, max(3.0, 0.32 * len(pairs) + 1.6)), dpi=DPI)
    axes = figure.subplots()
    names = [
        f"{short_label(diagnostics.label(p.true_index))} → "
        f"{short_label(diagnostics.label(p.predicted_index))}"
        for p in pairs
    ]
    axes.barh(range(len(pairs)), [p.count for p in pairs], color="#4c72b0")
    axes.set_yticks(range(len(pairs)), names, fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel("images (true class → first guess)")
    matrix = diagnostics.confusion
    involved = int(np.count_nonzero(matrix.sum(axis=0) + matrix.sum(axis=1)))
    axes.set_title(f"Most-confused pairs ({involved} classes involved: too many for a matrix)")
    if not pairs:
        axes.text(0.5, 0.5, "no confusions", ha="center", va="center", transform=axes.transAxes)
    figure.tight_layout()
    return figure


def _render(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()

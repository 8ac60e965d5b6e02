"""``evaluate --compare MODEL_A MODEL_B``: two models on the same images, side by side.

Images are matched by path (an image either model could not use is left out of the pairing).
Two first guesses agree when they name the same class: the same WordNet id, or for classes
without one the same label, so models with different class orders compare correctly.
The exact McNemar test says whether the images only one model gets right (top-1) are split
unevenly enough that the difference in accuracy is unlikely to be chance.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synsetlab.evaluate.diagnostics import Diagnostics
from synsetlab.evaluate.report import (
    cards,
    esc,
    file_line,
    image_tag,
    labelled,
    num,
    page,
    pct,
    table,
    to_csv,
    write_report,
    write_thumbnails,
)
from synsetlab.fileio import atomic_write_text
from synsetlab.models.classes import ClassList

logger = logging.getLogger(__name__)

#: Headline figures shown side by side: (key, name, format).
SIDE_BY_SIDE = (
    ("top1_accuracy", "top-1 accuracy", "pct"),
    ("top5_accuracy", "top-5 accuracy", "pct"),
    ("top1_error", "top-1 error", "pct"),
    ("top5_error", "top-5 error", "pct"),
    ("hierarchical_cost", "mean hierarchical cost", "num"),
    ("same_parent_share", "mistakes within the same parent", "pct"),
    ("ece", "expected calibration error", "num4"),
    ("mean_loss", "mean loss", "num4"),
    ("mean_class_accuracy", "mean class accuracy", "pct"),
    ("num_images", "images", "int"),
    ("num_failed", "failed images", "int"),
)
#: Disagreements shown as thumbnails on the page (all are in the JSON and CSV files).
GALLERY = 48


@dataclass(frozen=True)
class Disagreement:
    """One image whose first guesses differ between the two models."""

    path: str
    truth: str
    a_guess: str
    b_guess: str
    a_probability: float
    b_probability: float
    a_correct: bool
    b_correct: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Comparison:
    a: Diagnostics
    b: Diagnostics
    paired: int
    both_right: int
    only_a_right: int
    only_b_right: int
    both_wrong: int
    disagreements: list[Disagreement]

    @property
    def mcnemar_p(self) -> float:
        """Two-sided exact McNemar p-value of the top-1 discordant pairs."""
        return mcnemar_exact(self.only_a_right, self.only_b_right)

    def side_by_side(self) -> list[tuple[str, Any, Any]]:
        head_a, head_b = self.a.headline(), self.b.headline()
        return [(name, head_a[key], head_b[key]) for key, name, _ in SIDE_BY_SIDE]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "synsetlab.evaluation-comparison",
            "format_version": 1,
            "models": [self.a.evaluation.model, self.b.evaluation.model],
            "data": self.a.evaluation.data,
            "a": self.a.headline(),
            "b": self.b.headline(),
            "paired_images": self.paired,
            "both_right": self.both_right,
            "only_a_right": self.only_a_right,
            "only_b_right": self.only_b_right,
            "both_wrong": self.both_wrong,
            "mcnemar_p": self.mcnemar_p,
            "num_disagreements": len(self.disagreements),
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


def compare(a: Diagnostics, b: Diagnostics) -> Comparison:
    """Pair the images both models scored and find where their first guesses differ."""
    rows_b = {path: i for i, path in enumerate(b.evaluation.paths)}
    pairs = [(i, rows_b[p]) for i, p in enumerate(a.evaluation.paths) if p in rows_b]
    if len(pairs) < max(a.evaluation.num_images, b.evaluation.num_images):
        logger.warning("only %d images were scored by both models; compared those", len(pairs))
    right_a = [_correct(a, i) for i, _ in pairs]
    right_b = [_correct(b, j) for _, j in pairs]
    found = [_disagreement(a, b, i, j) for i, j in pairs if _guess(a, i) != _guess(b, j)]
    # Images only one model gets right first: they decide which model is better.
    found.sort(key=lambda d: d.a_correct == d.b_correct)
    return Comparison(
        a=a,
        b=b,
        paired=len(pairs),
        both_right=sum(x and y for x, y in zip(right_a, right_b, strict=True)),
        only_a_right=sum(x and not y for x, y in zip(right_a, right_b, strict=True)),
        only_b_right=sum(y and not x for x, y in zip(right_a, right_b, strict=True)),
        both_wrong=sum(not (x or y) for x, y in zip(right_a, right_b, strict=True)),
        disagreements=found,
    )


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact binomial test of ``only_a`` vs ``only_b`` discordant pairs at p = 1/2."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


def class_key(classes: ClassList, index: int) -> str:
    """What makes two classes of different models the same: the WordNet id, else the label."""
    return classes.wnids[index] or classes.labels[index]


def _guess(diagnostics: Diagnostics, row: int) -> str:
    return class_key(diagnostics.classes, int(diagnostics.evaluation.ranked[row, 0]))


def _correct(diagnostics: Diagnostics, row: int) -> bool:
    evaluation = diagnostics.evaluation
    return bool(evaluation.ranked[row, 0] == evaluation.truth[row])


def _disagreement(a: Diagnostics, b: Diagnostics, i: int, j: int) -> Disagreement:
    truth = int(a.evaluation.truth[i])
    return Disagreement(
        path=a.evaluation.paths[i],
        truth=a.label(truth),
        a_guess=a.label(int(a.evaluation.ranked[i, 0])),
        b_guess=b.label(int(b.evaluation.ranked[j, 0])),
        a_probability=float(a.evaluation.scores[i, 0]),
        b_probability=float(b.evaluation.scores[j, 0]),
        a_correct=_correct(a, i),
        b_correct=_correct(b, j),
    )


# --- the report ---------------------------------------------------------------------------


def write_compare_report(
    comparison: Comparison, directory: Path, *, max_pixels: int | None = None
) -> Path:
    """The comparison page with its data, and each model's full report in a sub-folder."""
    folders = report_folders(comparison)
    for diagnostics, folder in zip((comparison.a, comparison.b), folders, strict=True):
        write_report(diagnostics, directory / folder, max_pixels=max_pixels)
    text = json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(directory / "metrics.json", text)
    rows = [d.to_dict() for d in comparison.disagreements]
    atomic_write_text(
        directory / "disagreements.csv", to_csv(list(Disagreement.__annotations__), rows)
    )
    shown = comparison.disagreements[:GALLERY]
    thumbs = write_thumbnails([d.path for d in shown], directory, "disagree", max_pixels)
    path = atomic_write_text(directory / "index.html", render_compare_page(comparison, thumbs))
    logger.info("comparison report written to %s", path)
    return path


def report_folders(comparison: Comparison) -> tuple[str, str]:
    """Sub-folder names of the two models' reports (distinct even for the same model)."""
    return (
        f"a-{_slug(comparison.a.evaluation.model)}",
        f"b-{_slug(comparison.b.evaluation.model)}",
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def render_compare_page(comparison: Comparison, thumbs: list[str | None]) -> str:
    a, b = comparison.a.evaluation.model, comparison.b.evaluation.model
    folder_a, folder_b = report_folders(comparison)
    links = (
        f'<p>Full reports: <a href="{esc(folder_a)}/index.html">{esc(a)}</a>, '
        f'<a href="{esc(folder_b)}/index.html">{esc(b)}</a>. Data: '
        '<a href="metrics.json">metrics.json</a>, '
        '<a href="disagreements.csv">disagreements.csv</a>.</p>'
    )
    body = [
        f"<h1>{esc(a)} vs {esc(b)} on {esc(comparison.a.evaluation.data)}</h1>",
        links,
        "<h2>Side by side</h2>",
        table(["metric", a, b], _side_rows(comparison), text_columns=1),
        "<h2>Agreement (top-1)</h2>",
        cards(_agreement_cards(comparison)),
        _disagreement_gallery(comparison, thumbs),
    ]
    return page(f"synsetlab comparison: {a} vs {b}", "\n".join(body))


def _side_rows(comparison: Comparison) -> list[list[str]]:
    formats = {name: fmt for _, name, fmt in SIDE_BY_SIDE}
    return [
        [esc(name), _shown(value_a, formats[name]), _shown(value_b, formats[name])]
        for name, value_a, value_b in comparison.side_by_side()
    ]


def _shown(value: Any, fmt: str) -> str:
    if fmt == "pct":
        return pct(value)
    if fmt == "int":
        return str(value)
    return num(value, 4 if fmt == "num4" else 2)


def _agreement_cards(comparison: Comparison) -> list[tuple[str, str]]:
    a, b = comparison.a.evaluation.model, comparison.b.evaluation.model
    return [
        ("images scored by both", str(comparison.paired)),
        ("both right", str(comparison.both_right)),
        (f"only {a} right", str(comparison.only_a_right)),
        (f"only {b} right", str(comparison.only_b_right)),
        ("both wrong", str(comparison.both_wrong)),
        ("first guesses differ", str(len(comparison.disagreements))),
        ("McNemar exact p", f"{comparison.mcnemar_p:.3g}"),
    ]


def _disagreement_gallery(comparison: Comparison, thumbs: list[str | None]) -> str:
    a, b = comparison.a.evaluation.model, comparison.b.evaluation.model
    tiles = [
        f'<div class="tile">{image_tag(thumb, d.path)}'
        f'<div class="true">true: {labelled(d.truth)}</div>'
        + _guess_line(a, d.a_guess, d.a_probability, d.a_correct)
        + _guess_line(b, d.b_guess, d.b_probability, d.b_correct)
        + f"{file_line(d.path)}</div>"
        for d, thumb in zip(comparison.disagreements, thumbs, strict=False)
    ]
    total = len(comparison.disagreements)
    shown = f", the first {GALLERY} shown" if total > GALLERY else ""
    intro = (
        f"<p>{total} images where the first guesses differ; those only one model gets right "
        f"come first{shown}.</p>"
    )
    gallery = '<div class="gallery">' + "".join(tiles) + "</div>"
    return "<h2>Where they disagree</h2>\n" + intro + gallery


def _guess_line(model: str, guess: str, probability: float, correct: bool) -> str:
    css = "true" if correct else "guess"
    return f'<div class="{css}">{esc(model)}: {labelled(guess)} ({pct(probability)})</div>'

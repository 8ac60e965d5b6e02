"""``evaluate --report DIR``: one offline HTML page plus the data behind it.

The folder holds::

    index.html            the page: headline metrics, plots, most-confused pairs, a gallery of
                          the worst mistakes, the hierarchical cost and the per-class table
    metrics.json          every figure of the page (Diagnostics.to_dict)
    per_class.csv         one row per class of the model, by index; missing classes say so
    confusion_matrix.csv  rows = true class, column "k" = first guess k, all classes
    most_confused.csv     the largest off-diagonal cells
    worst_mistakes.csv    the top-1 mistakes of highest loss
    confusion_matrix.png  the matrix (up to 50 classes) or a most-confused chart
    reliability.png       the reliability diagram
    thumbs/               thumbnails of the worst mistakes

The page uses no script, font or style sheet from elsewhere: its style is inline and its
images are files of the folder referenced by relative paths, so it opens offline and the
folder can be moved or zipped as a whole. Every file is written atomically.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from synsetlab.data.images import load_image
from synsetlab.errors import ImageLoadError
from synsetlab.evaluate.diagnostics import ClassStats, Diagnostics, Mistake
from synsetlab.evaluate.plots import confusion_png, matrix_classes, reliability_png, short_label
from synsetlab.fileio import atomic_write_bytes, atomic_write_text

logger = logging.getLogger(__name__)

PAGE = "index.html"
THUMBS = "thumbs"
THUMB_SIZE = 160
#: Classes listed in the "hardest classes" table above the full per-class table.
HARDEST = 10

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: 0.9em; }
.cards { display: flex; flex-wrap: wrap; gap: 0.6em; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.5em 0.8em; min-width: 8em; }
.card .value { font-size: 1.5em; font-weight: bold; }
.card .name { font-size: 0.8em; color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; } .text { text-align: left; }
tr.missing td { color: #999; font-style: italic; }
.plots img { max-width: 100%; border: 1px solid #eee; margin-right: 1em; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.8em; }
.tile { width: 170px; font-size: 0.8em; border: 1px solid #ddd; padding: 4px;
        overflow-wrap: anywhere; }
.tile img { display: block; margin: 0 auto 4px; max-width: 160px; max-height: 160px; }
.true { color: #1a7f37; } .guess { color: #b42318; } .na { color: #777; }
"""


def write_report(
    diagnostics: Diagnostics, directory: Path, *, max_pixels: int | None = None
) -> Path:
    """Write the page, plots, CSV and JSON files into ``directory``; returns the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    write_data_files(diagnostics, directory)
    # The pictures: plots, then the thumbnails the gallery shows.
    atomic_write_bytes(directory / "confusion_matrix.png", confusion_png(diagnostics))
    atomic_write_bytes(directory / "reliability.png", reliability_png(diagnostics))
    thumbs = write_thumbnails(
        [m.path for m in diagnostics.worst_mistakes], directory, "worst", max_pixels
    )
    page = atomic_write_text(directory / PAGE, render_page(diagnostics, thumbs))
    logger.info("report written to %s", page)
    return page


def write_data_files(diagnostics: Diagnostics, directory: Path) -> None:
    """metrics.json and the CSV files."""
    text = json.dumps(diagnostics.to_dict(), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(directory / "metrics.json", text)
    atomic_write_text(directory / "per_class.csv", per_class_csv(diagnostics))
    atomic_write_text(directory / "confusion_matrix.csv", confusion_csv(diagnostics))
    atomic_write_text(directory / "most_confused.csv", most_confused_csv(diagnostics))
    atomic_write_text(directory / "worst_mistakes.csv", worst_mistakes_csv(diagnostics))


def per_class_csv(diagnostics: Diagnostics) -> str:
    rows = [stats.to_dict() for stats in diagnostics.per_class]
    return to_csv(list(rows[0]) if rows else ["index"], rows)


def confusion_csv(diagnostics: Diagnostics) -> str:
    """The full matrix, every class of the model in index order (so indices never shift)."""
    n = len(diagnostics.classes)
    header = ["index", "wnid", "label", *(str(k) for k in range(n))]
    rows = [
        {**diagnostics.describe(i), **{str(k): int(c) for k, c in enumerate(row)}}
        for i, row in enumerate(diagnostics.confusion)
    ]
    return to_csv(header, rows)


def most_confused_csv(diagnostics: Diagnostics) -> str:
    header = ["true_index", "true_wnid", "true_label", "predicted_index", "predicted_wnid"]
    header += ["predicted_label", "count", "share_of_true_class"]
    rows = [_flatten(pair) for pair in diagnostics.to_dict()["most_confused"]]
    return to_csv(header, rows)


def worst_mistakes_csv(diagnostics: Diagnostics) -> str:
    header = ["path", "true_index", "true_wnid", "true_label", "predicted_index"]
    header += ["predicted_wnid", "predicted_label", "predicted_probability"]
    header += ["true_probability", "loss"]
    rows = [_flatten(mistake) for mistake in diagnostics.to_dict()["worst_mistakes"]]
    return to_csv(header, rows)


def to_csv(header: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _flatten(entry: dict[str, Any]) -> dict[str, Any]:
    """``{"true": {"index": 1, ...}}`` -> ``{"true_index": 1, ...}``."""
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    return flat


def write_thumbnails(
    paths: Sequence[str], directory: Path, prefix: str, max_pixels: int | None = None
) -> list[str | None]:
    """A JPEG thumbnail of each image under ``directory/thumbs``: the relative paths, or None
    for an image that can no longer be read (the gallery then says so)."""
    # Thumbnails of an earlier report in the same folder would otherwise linger.
    for stale in (directory / THUMBS).glob(f"{prefix}-*.jpg"):
        stale.unlink()
    names: list[str | None] = []
    for number, path in enumerate(paths, start=1):
        name = f"{THUMBS}/{prefix}-{number:03d}.jpg"
        try:
            atomic_write_bytes(directory / name, thumbnail_jpeg(Path(path), max_pixels))
        except ImageLoadError as exc:
            logger.warning("no thumbnail for the report: %s", exc)
            names.append(None)
            continue
        names.append(name)
    return names


def thumbnail_jpeg(path: Path, max_pixels: int | None = None, size: int = THUMB_SIZE) -> bytes:
    """``path`` decoded by the one image-loading code path, shrunk to fit ``size`` pixels."""
    image = load_image(path, max_pixels=max_pixels, draft_size=(size, size))
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


# --- the page -----------------------------------------------------------------------------


def render_page(diagnostics: Diagnostics, thumbs: Sequence[str | None]) -> str:
    """The report page as HTML text."""
    evaluation = diagnostics.evaluation
    sections = [
        f"<h1>{esc(evaluation.model)} on {esc(evaluation.data)}</h1>",
        f'<p class="meta">{esc(generated_line())}</p>',
        headline_section(diagnostics),
        plots_section(diagnostics),
        confused_section(diagnostics),
        mistakes_section(diagnostics, thumbs),
        hierarchy_section(diagnostics),
        calibration_section(diagnostics),
        class_section(diagnostics),
        failures_section(evaluation.failures, evaluation.unknown_labels),
    ]
    return page(f"synsetlab report: {evaluation.model}", "\n".join(sections))


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def generated_line() -> str:
    from synsetlab import __version__

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"Written by synsetlab {__version__} on {now}."


def headline_section(diagnostics: Diagnostics) -> str:
    items = headline_cards(diagnostics.headline(), diagnostics.hierarchy.applicable)
    return "<h2>Headline</h2>\n" + cards(items)


def headline_cards(head: dict[str, Any], hierarchical: bool = True) -> list[tuple[str, str]]:
    """(name, shown value) of the figures on top of the page; ``hierarchical`` False shows the
    hierarchical figures as not applicable."""
    cost, same_parent = num(head["hierarchical_cost"]), pct(head["same_parent_share"])
    if not hierarchical:
        cost = same_parent = "n/a"
    return [
        ("top-1 accuracy", pct(head["top1_accuracy"])),
        ("top-5 accuracy", pct(head["top5_accuracy"])),
        ("top-1 error", pct(head["top1_error"])),
        ("top-5 error", pct(head["top5_error"])),
        ("images", str(head["num_images"])),
        ("failed images", str(head["num_failed"])),
        ("mean hierarchical cost", cost),
        ("mistakes within the same parent", same_parent),
        ("expected calibration error", num(head["ece"], 4)),
        ("mean loss", num(head["mean_loss"], 3)),
        ("mean class accuracy", pct(head["mean_class_accuracy"])),
        ("classes missing from the data", f"{head['num_classes_missing']} / {head['num_classes']}"),
    ]


def cards(items: Sequence[tuple[str, str]]) -> str:
    tiles = (
        f'<div class="card"><div class="value">{esc(value)}</div>'
        f'<div class="name">{esc(name)}</div></div>'
        for name, value in items
    )
    return '<div class="cards">' + "".join(tiles) + "</div>"


def plots_section(diagnostics: Diagnostics) -> str:
    kind = "matrix" if matrix_classes(diagnostics) is not None else "most-confused pairs"
    return (
        '<h2>Plots</h2>\n<div class="plots">'
        f'<img src="confusion_matrix.png" alt="confusion {kind}">'
        '<img src="reliability.png" alt="reliability diagram"></div>\n'
        '<p class="meta">Data: <a href="confusion_matrix.csv">confusion_matrix.csv</a>, '
        '<a href="per_class.csv">per_class.csv</a>, <a href="metrics.json">metrics.json</a>.</p>'
    )


def confused_section(diagnostics: Diagnostics) -> str:
    rows = [
        [
            class_cell(diagnostics, pair.true_index),
            class_cell(diagnostics, pair.predicted_index),
            str(pair.count),
            pct(pair.count / diagnostics.per_class[pair.true_index].support),
        ]
        for pair in diagnostics.most_confused
    ]
    header = ["true class", "first guess", "images", "share of the true class"]
    body = table(header, rows, text_columns=2) if rows else "<p>No confusions.</p>"
    return "<h2>Most-confused pairs</h2>\n" + body


def mistakes_section(diagnostics: Diagnostics, thumbs: Sequence[str | None]) -> str:
    tiles = [
        mistake_tile(diagnostics, mistake, thumb)
        for mistake, thumb in zip(diagnostics.worst_mistakes, thumbs, strict=True)
    ]
    body = '<div class="gallery">' + "".join(tiles) + "</div>" if tiles else "<p>No mistakes.</p>"
    intro = (
        "<p>The top-1 mistakes with the highest loss (&minus;ln p(true class)), worst first.</p>"
    )
    return "<h2>Worst mistakes</h2>\n" + intro + body


def mistake_tile(diagnostics: Diagnostics, mistake: Mistake, thumb: str | None) -> str:
    picture = image_tag(thumb, mistake.path)
    true = labelled(diagnostics.label(mistake.true_index))
    guess = labelled(diagnostics.label(mistake.predicted_index))
    return (
        f'<div class="tile">{picture}'
        f'<div class="true">true: {true} ({pct(mistake.true_probability)})</div>'
        f'<div class="guess">guess: {guess} ({pct(mistake.predicted_probability)})</div>'
        f"<div>loss {mistake.loss:.2f}</div>{file_line(mistake.path)}</div>"
    )


def labelled(label: str) -> str:
    """A class's first name, the full label shown on hover."""
    return f'<span title="{esc(label)}">{esc(short_label(label, 40))}</span>'


def file_line(path: str) -> str:
    return f'<div class="na file" title="{esc(path)}">{esc(Path(path).name)}</div>'


def image_tag(thumb: str | None, path: str) -> str:
    if thumb is None:
        return '<div class="na">(image unreadable)</div>'
    return f'<img src="{esc(thumb)}" alt="{esc(Path(path).name)}">'


def hierarchy_section(diagnostics: Diagnostics) -> str:
    cost = diagnostics.hierarchy
    title = "<h2>Hierarchical cost (ILSVRC-2010)</h2>\n"
    if not cost.applicable:
        return title + f'<p class="na">Not applicable: {esc(cost.reason)}.</p>'
    items = [
        ("mean cost (top-5)", num(cost.mean_cost)),
        ("mean cost (top-1 only)", num(cost.mean_cost_top1)),
        ("mean cost of a top-1 mistake", num(cost.mean_mistake_cost)),
        ("top-1 mistakes", str(cost.num_mistakes)),
        ("of which within the same parent", pct(cost.same_parent_share)),
    ]
    counts = [[str(c), str(n), pct(n / len(cost.costs))] for c, n in cost.cost_counts]
    return (
        title + "<p>Per image, the lowest height of the lowest common WordNet ancestor of the true "
        "synset and any of the five guesses (0 when a guess is right; leaves have height 0).</p>"
        + cards(items)
        + table(["cost", "images", "share"], counts)
    )


def calibration_section(diagnostics: Diagnostics) -> str:
    rows = [
        [f"{b.lower:.3f} to {b.upper:.3f}", str(b.count), num(b.confidence, 3), num(b.accuracy, 3)]
        for b in diagnostics.calibration.bins
    ]
    ece = num(diagnostics.calibration.ece, 4)
    intro = f"<p>Expected calibration error of the first guess: <b>{ece}</b>.</p>"
    header = ["confidence bin", "images", "mean confidence", "accuracy"]
    return "<h2>Calibration</h2>\n" + intro + table(header, rows)


def class_section(diagnostics: Diagnostics) -> str:
    present = [s for s in diagnostics.per_class if not s.missing]
    hardest = sorted(present, key=lambda s: (s.top1_hits / s.support, s.top5_hits / s.support))
    hardest = hardest[:HARDEST]
    missing = len(diagnostics.per_class) - len(present)
    verb = "class of the model has" if missing == 1 else "classes of the model have"
    note = (
        f"<p>{missing} {verb} no image in the data: shown as missing, not as 0%.</p>"
        if missing
        else ""
    )
    return (
        f"<h2>Hardest classes</h2>\n{class_table(diagnostics, hardest)}\n"
        f"<h2>Per class</h2>\n{note}{class_table(diagnostics, diagnostics.per_class)}"
    )


def class_table(diagnostics: Diagnostics, rows: Sequence[ClassStats]) -> str:
    header = ["index", "wnid", "class", "support", "predicted", "top-1 acc.", "top-5 acc."]
    header += ["precision", "recall", "F1"]
    cells = [_class_row(stats) for stats in rows]
    classes = ["missing" if stats.missing else "" for stats in rows]
    return table(header, cells, text_columns=2, first_text=1, row_classes=classes)


def _class_row(stats: ClassStats) -> list[str]:
    absent = "missing" if stats.missing else None
    return [
        str(stats.index),
        esc(stats.wnid or "—"),
        esc(stats.label),
        str(stats.support),
        str(stats.predicted),
        absent or pct(stats.recall),
        absent or pct(stats.top5_accuracy),
        pct(stats.precision),
        absent or pct(stats.recall),
        absent or pct(stats.f1),
    ]


def failures_section(failures: Sequence[tuple[str, str]], unknown: dict[str, int]) -> str:
    if not failures and not unknown:
        return ""
    rows = [[esc(path), esc(reason)] for path, reason in failures]
    rows += [[esc(label), f"not a class of the model ({n} images)"] for label, n in unknown.items()]
    return "<h2>Left out</h2>\n" + table(["input", "reason"], rows, text_columns=2)


def class_cell(diagnostics: Diagnostics, index: int) -> str:
    return f"{index}: {esc(diagnostics.label(index))}"


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    text_columns: int = 0,
    first_text: int = 0,
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table of already escaped cells; columns ``first_text`` to ``first_text +
    text_columns - 1`` are left-aligned text."""
    texts = range(first_text, first_text + text_columns)
    head = "".join(
        f'<th class="text">{esc(name)}</th>' if i in texts else f"<th>{esc(name)}</th>"
        for i, name in enumerate(header)
    )
    lines = []
    for number, row in enumerate(rows):
        css = row_classes[number] if row_classes else ""
        cells = "".join(
            f'<td class="text">{cell}</td>' if i in texts else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        lines.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def pct(value: float | None, digits: int = 1) -> str:
    """``0.8125`` -> ``"81.2%"``; None (undefined) -> an em dash."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"

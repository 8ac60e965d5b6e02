"""The --report folder: files, their contents, and a page that needs nothing from elsewhere."""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from diagnostics_cases import (
    ABC,
    CAT_GUESSES,
    PROBS,
    TABBY,
    TRUTH,
    from_probs,
    from_ranked,
    write_jpeg,
)
from PIL import Image

from synsetlab.evaluate.diagnostics import Diagnostics, diagnose
from synsetlab.evaluate.plots import matrix_classes
from synsetlab.evaluate.report import write_report
from synsetlab.models.classes import ClassList, imagenet_classes

COLOURS = [(200, 30, 30), (30, 200, 30), (255, 0, 255), (30, 30, 200), (0, 255, 255)]
FILES = {
    "index.html",
    "metrics.json",
    "per_class.csv",
    "confusion_matrix.csv",
    "most_confused.csv",
    "worst_mistakes.csv",
    "confusion_matrix.png",
    "reliability.png",
    "thumbs",
}


@pytest.fixture
def toy(tmp_path: Path) -> Diagnostics:
    paths = [write_jpeg(tmp_path / "data" / f"p{i}.jpg", c) for i, c in enumerate(COLOURS)]
    return diagnose(from_probs(PROBS, TRUTH, ABC, paths=paths))


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_report_writes_every_file_and_no_temporaries(toy: Diagnostics, tmp_path: Path) -> None:
    page = write_report(toy, tmp_path / "out")
    assert page == tmp_path / "out" / "index.html"
    assert {p.name for p in (tmp_path / "out").iterdir()} == FILES
    assert sorted(p.name for p in (tmp_path / "out" / "thumbs").iterdir()) == [
        "worst-001.jpg",
        "worst-002.jpg",
    ]
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_metrics_json_holds_the_diagnostics(toy: Diagnostics, tmp_path: Path) -> None:
    write_report(toy, tmp_path)
    payload = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert payload == json.loads(json.dumps(toy.to_dict()))
    assert payload["top1_accuracy"] == pytest.approx(0.6)
    assert payload["hierarchical"]["applicable"] is False
    assert [m["path"] for m in payload["worst_mistakes"]] == [
        toy.evaluation.paths[i] for i in (2, 4)
    ]


def test_per_class_csv_marks_missing_classes_without_a_zero(
    toy: Diagnostics, tmp_path: Path
) -> None:
    write_report(toy, tmp_path)
    rows = read_csv(tmp_path / "per_class.csv")
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["precision"] == "1.0" and rows[0]["support"] == "3"
    assert rows[2]["status"] == "missing"
    assert rows[2]["top1_accuracy"] == "" and rows[2]["recall"] == ""
    assert rows[2]["precision"] == "0.0"


def test_confusion_csv_is_the_full_matrix_by_index(toy: Diagnostics, tmp_path: Path) -> None:
    write_report(toy, tmp_path)
    rows = read_csv(tmp_path / "confusion_matrix.csv")
    assert list(rows[0]) == ["index", "wnid", "label", "0", "1", "2"]
    matrix = [[int(row[str(k)]) for k in range(3)] for row in rows]
    assert matrix == [[2, 1, 0], [0, 1, 1], [0, 0, 0]]
    pairs = read_csv(tmp_path / "most_confused.csv")
    assert [(p["true_label"], p["predicted_label"], p["count"]) for p in pairs] == [
        ("apple", "banana", "1"),
        ("banana", "cherry", "1"),
    ]


def test_page_is_offline_and_shows_the_figures(toy: Diagnostics, tmp_path: Path) -> None:
    text = write_report(toy, tmp_path).read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "@import" not in text
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text)
    for target in re.findall(r"(?:src|href)=\"([^\"]+)\"", text):
        assert (tmp_path / target).is_file(), target
    assert "60.0%" in text  # top-1 accuracy
    assert "Not applicable" in text and "no WordNet id" in text
    assert '<tr class="missing"><td>2</td>' in text
    words = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert "guess: cherry (60.0%)" in words  # the second-worst mistake


def test_thumbnails_are_small_jpegs_of_the_images(toy: Diagnostics, tmp_path: Path) -> None:
    write_report(toy, tmp_path)
    with Image.open(tmp_path / "thumbs" / "worst-001.jpg") as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 160
        red, green, blue = np.asarray(thumb.convert("RGB")).reshape(-1, 3).mean(axis=0)
    assert red > 240 and green < 15 and blue > 240  # p2, the magenta image


def test_unreadable_image_leaves_a_note_not_a_broken_picture(
    toy: Diagnostics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Path(toy.evaluation.paths[2]).write_bytes(b"<html>not a picture</html>")
    with caplog.at_level(logging.WARNING):
        text = write_report(toy, tmp_path / "out").read_text(encoding="utf-8")
    assert "(image unreadable)" in text
    assert "worst-001.jpg" not in text and "worst-002.jpg" in text
    assert any("p2.jpg" in record.getMessage() for record in caplog.records)


def test_rewriting_a_report_drops_stale_thumbnails(toy: Diagnostics, tmp_path: Path) -> None:
    write_report(toy, tmp_path)
    fewer = diagnose(from_probs(PROBS[:3], TRUTH[:3], ABC, paths=toy.evaluation.paths[:3]))
    write_report(fewer, tmp_path)
    assert [p.name for p in (tmp_path / "thumbs").iterdir()] == ["worst-001.jpg"]


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_small_models_get_a_matrix_picture(toy: Diagnostics, tmp_path: Path) -> None:
    write_report(toy, tmp_path)
    assert matrix_classes(toy) == [0, 1, 2]
    assert _png_size(tmp_path / "confusion_matrix.png") == (620, 500)
    assert _png_size(tmp_path / "reliability.png") == (600, 640)


def test_large_models_show_the_classes_involved_or_a_most_confused_chart(
    tmp_path: Path,
) -> None:
    classes = ClassList.from_names([f"class{i}" for i in range(120)])
    # 30 images of classes 0-29, each guessed as the next class: 31 classes involved.
    few = np.full((30, 120), 0.001)
    few[np.arange(30), np.arange(1, 31)] = 0.9
    diagnostics = diagnose(from_probs(few, list(range(30)), classes))
    assert matrix_classes(diagnostics) == list(range(31))
    # 60 images each guessed as another class: 120 classes involved, past the limit.
    many = np.full((60, 120), 0.001)
    many[np.arange(60), np.arange(60, 120)] = 0.9
    diagnostics = diagnose(from_probs(many, list(range(60)), classes))
    assert matrix_classes(diagnostics) is None
    write_report(diagnostics, tmp_path)
    assert _png_size(tmp_path / "confusion_matrix.png")[0] == 900  # the chart's width


def test_hierarchical_cost_not_applicable_reads_n_a(toy: Diagnostics, tmp_path: Path) -> None:
    text = write_report(toy, tmp_path).read_text(encoding="utf-8")
    assert '<div class="value">n/a</div><div class="name">mean hierarchical cost</div>' in text


def test_hierarchical_section_for_imagenet_classes(tmp_path: Path) -> None:
    diagnostics = diagnose(from_ranked(CAT_GUESSES, [TABBY] * 4, imagenet_classes()))
    text = write_report(diagnostics, tmp_path).read_text(encoding="utf-8")
    words = html.unescape(re.sub(r"<[^>]+>", " ", text))
    assert re.search(r"1\.50\s+mean hierarchical cost", words)
    assert re.search(r"33\.3%\s+mistakes within the same parent", words)
    assert re.search(r"1\.50\s+mean cost \(top-5\)", words)
    assert re.search(r"2\.00\s+mean cost of a top-1 mistake", words)  # (1 + 2 + 3) / 3
    # Image files named by from_ranked do not exist: the gallery says so instead.
    assert words.count("(image unreadable)") == 3

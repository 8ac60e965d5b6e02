"""The metrics file and the learning-curve picture."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from synsetlab.train.curves import COLUMNS, plot_curves, read_metrics, write_metrics
from synsetlab.train.loop import EpochRecord


def history() -> list[EpochRecord]:
    return [
        EpochRecord(1, "frozen", 0.7, 0.55, 0.6, 0.6, 1e-3, 1.5, 160.0),
        EpochRecord(2, "frozen", 0.3, 0.9, 0.25, 0.95, 5e-4, 1.25, 190.0),
    ]


def test_metrics_file_has_one_row_per_epoch(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    write_metrics(path, history())
    rows = read_metrics(path)
    assert tuple(rows[0]) == COLUMNS
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["val_accuracy"]) == 0.95 and rows[1]["phase"] == "frozen"
    assert float(rows[0]["images_per_second"]) == 160.0


def test_curves_are_a_png(tmp_path: Path) -> None:
    path = tmp_path / "curves.png"
    plot_curves(path, history(), 2, "demo")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (900, 360)
        # Not a blank canvas: the lines and labels put many colours on it.
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 50

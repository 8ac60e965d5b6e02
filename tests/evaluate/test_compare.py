"""Two models on the same images: pairing, disagreements, the McNemar test and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from diagnostics_cases import from_probs, write_jpeg

from synsetlab.evaluate.compare import compare, mcnemar_exact, write_compare_report
from synsetlab.evaluate.diagnostics import Diagnostics, diagnose
from synsetlab.models.classes import ClassList

ABC = ClassList.from_names(["apple", "banana", "cherry"])
TRUTH = [0, 0, 1, 1, 2]
# First guesses of A: apple, apple, banana, cherry, cherry (4 right).
PROBS_A = [
    [0.8, 0.1, 0.1],
    [0.6, 0.3, 0.1],
    [0.2, 0.7, 0.1],
    [0.1, 0.3, 0.6],
    [0.1, 0.2, 0.7],
]
# First guesses of B: apple, banana, banana, banana, apple (2 right).
PROBS_B = [
    [0.9, 0.05, 0.05],
    [0.3, 0.6, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.7, 0.1],
    [0.5, 0.1, 0.4],
]


def _pair(paths: list[str]) -> tuple[Diagnostics, Diagnostics]:
    a = diagnose(from_probs(PROBS_A, TRUTH, ABC, paths=paths, model="model-a"))
    b = diagnose(from_probs(PROBS_B, TRUTH, ABC, paths=paths, model="model-b"))
    return a, b


def test_disagreements_and_agreement_counts() -> None:
    comparison = compare(*_pair(list("vwxyz")))
    assert comparison.paired == 5
    assert (comparison.both_right, comparison.only_a_right, comparison.only_b_right) == (2, 2, 1)
    assert comparison.both_wrong == 0
    # w: only A right; y: only B right; z: only A right -> all three disagree, in image order.
    found = [
        (d.path, d.a_guess, d.b_guess, d.a_correct, d.b_correct) for d in comparison.disagreements
    ]
    assert found == [
        ("w", "apple", "banana", True, False),
        ("y", "cherry", "banana", False, True),
        ("z", "cherry", "apple", True, False),
    ]
    assert comparison.mcnemar_p == pytest.approx(mcnemar_exact(2, 1)) == pytest.approx(1.0)


def test_mcnemar_exact_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 3) == pytest.approx(2 * (1 + 4) / 16)
    assert mcnemar_exact(0, 1000) == pytest.approx(0.0, abs=1e-290)


def test_models_with_different_class_orders_agree_on_the_same_class() -> None:
    a = diagnose(from_probs(PROBS_A, TRUTH, ABC, paths=list("vwxyz")))
    reordered = ClassList.from_names(["cherry", "apple", "banana"])
    probs = [[row[2], row[0], row[1]] for row in PROBS_A]
    b = diagnose(from_probs(probs, [1, 1, 2, 2, 0], reordered, paths=list("vwxyz")))
    comparison = compare(a, b)
    assert comparison.disagreements == []
    assert (comparison.both_right, comparison.both_wrong) == (4, 1)


def test_only_images_both_models_scored_are_paired() -> None:
    a, _ = _pair(list("vwxyz"))
    b = diagnose(from_probs(PROBS_B[:3], TRUTH[:3], ABC, paths=list("vwx")))
    comparison = compare(a, b)
    assert comparison.paired == 3
    assert [d.path for d in comparison.disagreements] == ["w"]


def test_side_by_side_and_json(tmp_path: Path) -> None:
    comparison = compare(*_pair(list("vwxyz")))
    rows = {name: (x, y) for name, x, y in comparison.side_by_side()}
    assert rows["top-1 accuracy"] == (pytest.approx(0.8), pytest.approx(0.6))
    payload = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    assert payload["models"] == ["model-a", "model-b"]
    assert payload["num_disagreements"] == 3
    assert payload["a"]["top1_accuracy"] == pytest.approx(0.8)


def test_compare_report_links_both_full_reports(tmp_path: Path) -> None:
    colours = [(255, 0, 255), (0, 0, 0), (255, 255, 255), (0, 128, 0), (0, 0, 128)]
    pairs = zip("vwxyz", colours, strict=True)
    paths = [write_jpeg(tmp_path / "data" / f"{n}.jpg", c) for n, c in pairs]
    page = write_compare_report(compare(*_pair(paths)), tmp_path / "out")
    text = page.read_text(encoding="utf-8")
    out = tmp_path / "out"
    assert (out / "a-model-a" / "index.html").is_file()
    assert (out / "b-model-b" / "metrics.json").is_file()
    assert 'href="a-model-a/index.html"' in text and "<script" not in text
    assert len(list((out / "thumbs").glob("disagree-*.jpg"))) == 3
    assert "80.0%" in text and "60.0%" in text
    lines = (out / "disagreements.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("path,truth,a_guess,b_guess") and len(lines) == 4


def test_same_model_twice_gets_two_report_folders(tmp_path: Path) -> None:
    a = diagnose(from_probs(PROBS_A, TRUTH, ABC, paths=list("vwxyz"), model="m"))
    page = write_compare_report(compare(a, a), tmp_path)
    assert (tmp_path / "a-m" / "index.html").is_file() and (tmp_path / "b-m").is_dir()
    assert "0 images where the first guesses differ" in page.read_text(encoding="utf-8")

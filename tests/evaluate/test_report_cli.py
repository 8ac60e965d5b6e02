"""``synsetlab evaluate --report`` and ``--compare`` on real ImageNet photos (a few of them)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synsetlab.cli.main  # noqa: F401  (registers the commands)
from synsetlab.cli.app import app

#: Six classes of the real sample: tench, goldfish, two sharks, tabby, tiger cat.
WNIDS = ("n01440764", "n01443537", "n01484850", "n01491361", "n02123045", "n02123159")


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory, shared_data: Callable[[str], Path]) -> Path:
    sample = shared_data("imagenet-sample")
    data = tmp_path_factory.mktemp("six")
    for wnid in WNIDS:
        (data / wnid).symlink_to(sample / wnid, target_is_directory=True)
    return data


@pytest.mark.slow
def test_report_on_real_photos(six: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["evaluate", str(six), "--report", str(out), "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["num_images"] == 6 and summary["report"] == str(out / "index.html")
    assert summary["hierarchical_cost"] is not None and 0 <= summary["hierarchical_cost"] <= 18
    assert summary["ece"] is not None and summary["num_classes_missing"] == 994
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["hierarchical"]["applicable"] is True
    with (out / "per_class.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1000
    present = {row["wnid"]: row for row in rows if row["status"] == "present"}
    assert sorted(present) == sorted(WNIDS)
    assert present["n01440764"]["index"] == "0" and present["n02123045"]["index"] == "281"
    assert rows[3]["status"] == "present" and rows[4]["status"] == "missing"
    assert rows[4]["top1_accuracy"] == "" and rows[4]["support"] == "0"
    assert (out / "confusion_matrix.png").stat().st_size > 10_000


@pytest.mark.slow
def test_compare_two_bundled_models(six: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare"
    args = ["evaluate", str(six), "--compare", "efficientnet_lite0", "efficientnet_lite1"]
    result = CliRunner().invoke(app, [*args, "--report", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["models"] == ["efficientnet_lite0", "efficientnet_lite1"]
    assert payload["paired_images"] == 6
    right = payload["both_right"] + payload["only_a_right"]
    assert right == round(payload["a"]["top1_accuracy"] * 6)
    assert (out / "a-efficientnet_lite0" / "index.html").is_file()
    assert (out / "b-efficientnet_lite1" / "reliability.png").is_file()
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "McNemar exact p" in table.stdout

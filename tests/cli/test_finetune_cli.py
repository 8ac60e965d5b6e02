"""``synsetlab finetune`` and ``synsetlab export`` through the console entry point, and the
resulting model file through ``classify`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from cli_cases import Cli
from PIL import Image

from synsetlab.models import create_model

# A small, fast run: the smallest base model, tiny batches, one cached view, eager PyTorch.
QUICK = ("--model", "efficientnet_lite0", "--batch-size", "4", "--views", "1", "--engine", "torch")


def stripes(vertical: bool, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:80, 0:96]
    mask = (((x if vertical else y) // 8) % 2)[..., None]
    colour = np.array([40, 60, 220] if vertical else [220, 40, 40], dtype=np.float32)
    pixels = colour * (0.55 + 0.45 * mask) + rng.normal(0, 18, (80, 96, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/ and val/ with the classes 1 and 10 (string order: 1 before 10 before 2)."""
    root = tmp_path_factory.mktemp("photos")
    for split, count in (("train", 5), ("val", 2)):
        for name, vertical in (("1", False), ("10", True)):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                seed = 100 * count + 10 * int(name) + i
                stripes(vertical, seed).save(root / split / name / f"{name}_{i}.jpg")
    return root


@pytest.fixture(scope="module")
def model_file(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synsetlab.train.finetune import FinetuneConfig, finetune

    output = tmp_path_factory.mktemp("model") / "stripes.synsetlab"
    finetune(
        FinetuneConfig(
            data=photos,
            output=output,
            model="efficientnet_lite0",
            epochs=3,
            batch_size=4,
            engine="torch",
        )
    )
    return output


def test_finetune_command_prints_where_everything_is(cli: Cli, photos: Path, tmp_path: Path):
    output = tmp_path / "m.synsetlab"
    run = cli("finetune", photos, "--output", output, "--epochs", "2", *QUICK)
    assert run.status == 0, run.err
    assert f"model file   {output}" in run.out and "classes      1, 10" in run.out
    assert "best epoch" in run.out and str(tmp_path / "m.run" / "metrics.csv") in run.out
    assert "epoch 1/2 (frozen): train loss" in run.err and "img/s" in run.err
    assert "s left" in run.err
    assert output.is_file() and (tmp_path / "m.run" / "curves.png").is_file()


def test_classify_and_evaluate_take_the_model_file(cli: Cli, photos: Path, model_file: Path):
    run = cli("classify", photos / "val", "--model", model_file, "-k", "2", "-f", "json")
    assert run.status == 0, run.err
    entries = json.loads(run.out)
    assert len(entries) == 4
    for entry in entries:
        labels = [p["label"] for p in entry["predictions"]]
        assert sorted(labels) == ["1", "10"] and labels[0] == Path(entry["path"]).parent.name
        assert entry["predictions"][0]["wnid"] is None

    run = cli("evaluate", photos / "val", "--model", model_file, "-f", "json")
    assert run.status == 0, run.err
    summary = json.loads(run.out)
    assert summary["top1_accuracy"] == 1.0 and summary["num_images"] == 4


def test_export_writes_onnx_and_sidecar(cli: Cli, photos: Path, model_file: Path, tmp_path):
    target = tmp_path / "out" / "stripes.onnx"
    run = cli("export", model_file, "--format", "onnx", "--output", target)
    assert run.status == 0, run.err
    assert "max logit difference" in run.out and "tolerance 1e-04" in run.out
    sidecar = json.loads((tmp_path / "out" / "stripes.json").read_text())
    assert sidecar["classes"]["labels"] == ["1", "10"]
    assert sidecar["preprocessing"]["crop_size"] == 224
    assert sidecar["onnx_max_logit_difference"] <= 1e-4 * 10

    # The graph plus the sidecar's preprocessing classify on their own, as PyTorch does.
    model = create_model(str(model_file))
    picture = Image.open(photos / "val" / "10" / "10_0.jpg").convert("RGB")
    batch = model.preprocessing.to_array(picture)[None]
    (logits,) = ort.InferenceSession(str(target)).run(None, {"input": batch})
    assert sidecar["classes"]["labels"][int(logits.argmax())] == "10"


def test_export_default_output_is_beside_the_model_file(cli: Cli, model_file: Path):
    run = cli("export", model_file)
    assert run.status == 0, run.err
    assert model_file.with_suffix(".onnx").is_file() and model_file.with_suffix(".json").is_file()


def test_a_single_class_is_one_clear_line_and_status_1(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "data" / "only").mkdir(parents=True)
    for i in range(3):
        stripes(True, i).save(tmp_path / "data" / "only" / f"{i}.jpg")
    run = cli("finetune", tmp_path / "data", "-o", tmp_path / "m.synsetlab")
    assert run.status == 1
    assert run.err.count("error:") == 1 and "at least two classes" in run.err
    assert not (tmp_path / "m.synsetlab").exists()


def test_unreadable_images_give_status_3_and_are_named(cli: Cli, photos: Path, tmp_path: Path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(photos, data)
    (data / "train" / "1" / "page.jpg").write_text("<!doctype html><html></html>")
    run = cli("finetune", data, "-o", tmp_path / "m.synsetlab", "--epochs", "1", *QUICK)
    assert run.status == 3
    assert "page.jpg" in run.err and "HTML" in run.err
    assert "1 of 15 inputs could not be used" in run.err
    assert (tmp_path / "m.synsetlab").is_file()


def test_help_explains_the_freeze_policies(cli: Cli) -> None:
    run = cli("finetune", "--help")
    assert run.status == 0
    text = " ".join(run.out.split())
    for word in ("all-but-head", "all-but-last-stage", "none", "--resume", "--val-split"):
        assert word in text

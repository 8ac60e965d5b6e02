"""The command line, run through ``synsetlab.cli.main:main`` (the console script's entry).

Most tests call ``main()`` in this process with ``sys.argv`` set, so the exit status is the
one the console script gives (``main`` maps library errors to 1, failed inputs to 3 and usage
errors to 2) without starting a new interpreter each time; one test runs the installed
console script for real.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torchvision
from cli_cases import Cli
from rich.console import Console

import synsetlab
from synsetlab import __version__
from synsetlab.cli import app as cli_app
from synsetlab.cli import logs

ESPRESSO, MISSILE = "n07920052", "n03773504"
PREDICTION_KEYS = {"rank", "index", "wnid", "label", "probability"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, example_photo_paths) -> Path:
    """One real photo (coffee: espresso) and one file that is not an image."""
    root = tmp_path_factory.mktemp("photos")
    shutil.copy(example_photo_paths["coffee"], root / "coffee.png")
    (root / "broken.jpg").write_text("<html>not a photo</html>")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, example_photo_paths) -> Path:
    """Two class folders whose single photos lite0 gets right."""
    root = tmp_path_factory.mktemp("dataset")
    for wnid, stem in ((ESPRESSO, "coffee"), (MISSILE, "rocket")):
        (root / wnid).mkdir()
        shutil.copy(example_photo_paths[stem], root / wnid)
    return root


def check_result(entry: dict, path: Path, ok: bool, top_k: int = 5) -> None:
    assert set(entry) == {"path", "predictions", "error"}
    assert entry["path"] == str(path)
    if not ok:
        assert entry["predictions"] == [] and "not an image" in entry["error"]
        return
    assert entry["error"] is None
    assert [p["rank"] for p in entry["predictions"]] == list(range(1, top_k + 1))
    assert all(set(p) == PREDICTION_KEYS for p in entry["predictions"])
    first = entry["predictions"][0]
    assert first["wnid"] == ESPRESSO and first["label"] == "espresso" and first["index"] == 967
    assert 0.5 < first["probability"] <= 1.0


def test_classify_json_with_a_bad_file_exits_3(cli: Cli, photos: Path) -> None:
    run = cli("classify", photos, "--format", "json")
    assert run.status == 3
    entries = json.loads(run.out)
    check_result(entries[0], photos / "broken.jpg", ok=False)
    check_result(entries[1], photos / "coffee.png", ok=True)
    assert "broken.jpg" in run.err and "1 of 2 inputs could not be used" in run.err


def test_classify_jsonl(cli: Cli, photos: Path) -> None:
    run = cli("classify", photos / "coffee.png", photos / "broken.jpg", "-f", "jsonl", "-k", "3")
    assert run.status == 3
    lines = run.out.splitlines()
    assert len(lines) == 2
    check_result(json.loads(lines[0]), photos / "coffee.png", ok=True, top_k=3)
    check_result(json.loads(lines[1]), photos / "broken.jpg", ok=False)


def test_classify_csv(cli: Cli, photos: Path) -> None:
    run = cli("classify", photos, "--format", "csv")
    assert run.status == 3
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert list(rows[0]) == ["path", "rank", "index", "wnid", "label", "probability", "error"]
    assert rows[0]["path"] == str(photos / "broken.jpg") and "not an image" in rows[0]["error"]
    assert rows[0]["rank"] == "" and rows[0]["wnid"] == ""
    good = rows[1:]
    assert [r["rank"] for r in good] == ["1", "2", "3", "4", "5"]
    assert good[0]["wnid"] == ESPRESSO and good[0]["label"] == "espresso"
    assert good[0]["index"] == "967" and float(good[0]["probability"]) > 0.5
    assert all(r["error"] == "" and r["path"] == str(photos / "coffee.png") for r in good)


def test_classify_table(cli: Cli, photos: Path) -> None:
    run = cli("classify", photos)
    assert run.status == 3
    for text in ("rank", "probability", "wnid", "label", ESPRESSO, "espresso", "not an image"):
        assert text in run.out
    assert str(photos / "coffee.png") in run.out


def test_classify_output_file(cli: Cli, photos: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.json"
    target.parent.mkdir()
    run = cli("classify", photos / "coffee.png", "-f", "json", "--output", target)
    assert run.status == 0
    assert run.out == ""
    [entry] = json.loads(target.read_text())
    check_result(entry, photos / "coffee.png", ok=True)
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]  # no temp files left


def test_python_api_agrees_with_the_cli(cli: Cli, photos: Path, example_photo_paths) -> None:
    files = [photos / "coffee.png", example_photo_paths["rocket"]]  # a PNG and a JPEG
    run = cli("classify", *files, "-f", "json")
    classifier = synsetlab.load_classifier()  # the defaults, as the command uses them
    batched = classifier.predict_batch(files)
    for path, entry, in_batch in zip(files, json.loads(run.out), batched, strict=True):
        for api in (classifier.predict(path), in_batch):
            assert [p.index for p in api] == [p["index"] for p in entry["predictions"]]
            np.testing.assert_allclose(
                [p.probability for p in api],
                [p["probability"] for p in entry["predictions"]],
                atol=1e-5,
            )


def test_classify_a_glob(cli: Cli, photos: Path) -> None:
    run = cli("classify", f"{photos}/*.png", "-f", "jsonl")
    assert run.status == 0
    [line] = run.out.splitlines()
    check_result(json.loads(line), photos / "coffee.png", ok=True)


def test_classify_a_missing_file_reports_it(cli: Cli, tmp_path: Path) -> None:
    run = cli("classify", tmp_path / "gone.jpg", "-f", "jsonl")
    assert run.status == 3
    entry = json.loads(run.out)
    assert entry["path"] == str(tmp_path / "gone.jpg") and "No such file" in entry["error"]


def test_progress_bar_only_when_stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    def drive(terminal: bool) -> str:
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=terminal, width=80)
        monkeypatch.setattr(logs, "stderr", console)
        with cli_app.progress(3) as advance:
            for _ in range(3):
                advance()
        return buffer.getvalue()

    assert "3/3" in drive(terminal=True)
    assert drive(terminal=False) == ""


def test_evaluate_json(cli: Cli, dataset: Path) -> None:
    run = cli("evaluate", dataset, "--format", "json")
    assert run.status == 0
    summary = json.loads(run.out)
    assert summary["top1_accuracy"] == 1.0 and summary["top5_accuracy"] == 1.0
    assert summary["top1_error"] == 0.0 and summary["top5_error"] == 0.0
    assert summary["num_images"] == 2 and summary["num_failed"] == 0


def test_evaluate_with_a_bad_image_exits_3(cli: Cli, dataset: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    (data / ESPRESSO / "empty.jpg").write_bytes(b"")
    run = cli("evaluate", data, "-f", "json")
    assert run.status == 3
    summary = json.loads(run.out)
    assert summary["num_images"] == 2 and summary["num_failed"] == 1
    assert "empty.jpg" in run.err


def test_evaluate_table(cli: Cli, dataset: Path) -> None:
    run = cli("evaluate", dataset)
    assert run.status == 0
    for key in ("top1_accuracy", "top5_accuracy", "top1_error", "top5_error", "num_images"):
        assert key in run.out
    assert "1.0000" in run.out


def test_demo_prints_the_top_5_with_names(cli: Cli) -> None:
    run = cli("demo")
    assert run.status == 0
    for text in ("grace_hopper.jpg", "chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png"):
        assert text in run.out
    for text in ("rank", "probability", "wnid", "espresso", "tabby"):
        assert text in run.out


def test_version(cli: Cli) -> None:
    run = cli("version")
    assert run.status == 0 and run.out.strip() == __version__


@pytest.mark.parametrize(
    "args",
    [
        ["classify"],  # PATH is required
        ["classify", "--top-k", "0", "x.jpg"],
        ["classify", "--format", "xml", "x.jpg"],
        ["classify", "--no-such-option", "x.jpg"],
        ["no-such-command"],
        ["evaluate"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    run = cli(*args)
    assert run.status == 2
    assert "Traceback" not in run.err


def test_unknown_model_exits_1_with_one_line(cli: Cli, photos: Path) -> None:
    run = cli("classify", "--model", "no_such_model", photos)
    assert run.status == 1
    assert run.out == ""
    [line] = run.err.strip().splitlines()
    assert line.startswith("error: unknown model 'no_such_model'")


def test_evaluate_on_a_folder_without_layout_exits_1(cli: Cli, photos: Path) -> None:
    run = cli("evaluate", photos)
    assert run.status == 1
    assert run.err.strip().splitlines()[-1].startswith("error: ")
    assert "--labels" in run.err


def test_missing_weights_through_the_console_script(tmp_path: Path, photos: Path) -> None:
    """The installed ``synsetlab`` script: offline, resnet50 not cached -> exit 1, one line."""
    script = Path(sys.executable).parent / "synsetlab"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "synsetlab"]
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"), HF_HOME=str(tmp_path / "hf"))
    env.update(HF_HUB_CACHE=str(tmp_path / "hf" / "hub"), HF_HUB_OFFLINE="1")
    ran = subprocess.run(
        [*command, "classify", "--model", "resnet50", str(photos / "coffee.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == ""
    [line] = ran.stderr.strip().splitlines()
    assert "Traceback" not in ran.stderr
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.url
    expected = tmp_path / "torch" / "hub" / "checkpoints" / os.path.basename(url)
    assert line.startswith("error: the weights for torchvision resnet50")
    assert str(expected) in line


def test_public_evaluate_function_survives_importing_the_evaluate_package() -> None:
    # Importing a submodule of synsetlab.evaluate rebinds the package attribute; the public
    # function therefore has its own name and must stay callable afterwards.
    import synsetlab
    import synsetlab.evaluate.diagnostics

    assert callable(synsetlab.evaluate_folder)
    assert synsetlab.evaluate_folder.__module__ == "synsetlab.evaluate.runner"


def test_an_onnx_export_is_not_a_model_and_the_message_says_so(cli: Cli, tmp_path: Path) -> None:
    graph = tmp_path / "model.onnx"
    graph.write_bytes(b"not used")
    run = cli("classify", "--model", graph, tmp_path)
    assert run.status == 1
    assert "model.onnx" in run.err and ".synsetlab model file" in run.err


def test_evaluate_a_missing_folder_says_it_does_not_exist(cli: Cli, tmp_path: Path) -> None:
    run = cli("evaluate", tmp_path / "nowhere")
    assert run.status == 1
    assert "nowhere: no such folder" in run.err

"""Fine-tuning end to end on small folders built here, and on a subset of the real ants/bees.

Slow parts are kept small: efficientnet_lite0, a few synthetic pictures per class, and the
feature cache doing most of the work, as it does for users.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_cases import MakeData

from synsetlab.engine.classifier import Classifier
from synsetlab.errors import ConfigError, DatasetError
from synsetlab.models import create_model
from synsetlab.train.finetune import Callbacks, FinetuneConfig, finetune
from synsetlab.train.settings import DEFAULT_POLICY, FreezePolicy

# The trunk of a dozen pictures runs faster in PyTorch than it takes to export it to ONNX;
# the tests that check the default engine say engine="auto".
FAST = {"model": "efficientnet_lite0", "batch_size": 8, "views": 2, "engine": "torch"}


def config(data: Path, output: Path, **overrides) -> FinetuneConfig:
    return FinetuneConfig(data=data, output=output, **{**FAST, "epochs": 3, **overrides})


def test_finetune_writes_a_model_file_that_predicts_by_class_name(
    tiny_data: Path, tmp_path: Path
) -> None:
    progress: list[tuple[str, int, int]] = []
    ends: list[int] = []
    hooks = Callbacks(lambda *a: progress.append(a), lambda r: ends.append(r.epoch))
    result = finetune(config(tiny_data, tmp_path / "m.synsetlab", engine="auto"), hooks)

    assert result.classes == ["1", "10", "2"]
    assert [r.epoch for r in result.history] == [1, 2, 3] == ends
    assert result.best.val_accuracy >= 8 / 9 and result.failures == []
    assert result.trunk_engine == "onnxruntime"
    assert ("features", 27, 27) in progress and any(p[0] == "epoch 3" for p in progress)
    run = tmp_path / "m.run"
    assert {p.name for p in run.iterdir()} == {
        "checkpoint.pt",
        "features.safetensors",
        "metrics.csv",
        "curves.png",
    }
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [float(r["val_accuracy"]) for r in rows] == [r.val_accuracy for r in result.history]

    # The file alone predicts: numeric folder names keep their meaning (1, 10, 2).
    model = create_model(str(tmp_path / "m.synsetlab"))
    assert model.classes.labels == ("1", "10", "2")
    assert model.metadata["metrics"]["best_epoch"] == result.best.epoch
    assert model.metadata["training"]["freeze"] == DEFAULT_POLICY.value
    classifier = Classifier(model)
    for folder in sorted((tiny_data / "val").iterdir()):
        for path in sorted(folder.iterdir()):
            assert classifier.predict(path, top_k=1)[0].label == folder.name, path


def test_bad_images_are_skipped_counted_and_named(make_data: MakeData, tmp_path: Path) -> None:
    root = make_data(train=3, val=1)
    (root / "train" / "1" / "truncated.jpg").write_bytes(
        (root / "train" / "1" / "1_0.jpg").read_bytes()[:300]
    )
    (root / "val" / "2" / "empty.jpg").write_bytes(b"")
    result = finetune(config(root, tmp_path / "m.synsetlab", epochs=1))
    names = sorted(Path(p).name for p, _ in result.failures)
    assert names == ["empty.jpg", "truncated.jpg"]
    reasons = dict((Path(p).name, r) for p, r in result.failures)
    assert "empty" in reasons["empty.jpg"] and "truncated" in reasons["truncated.jpg"]
    meta = create_model(str(tmp_path / "m.synsetlab")).metadata["metrics"]
    assert meta["num_failed"] == 2 and meta["num_train"] == 9 and meta["num_val"] == 3


def test_whole_network_and_unfreezing_with_discriminative_rates(
    make_data: MakeData, tmp_path: Path
) -> None:
    root = make_data(train=2, val=1)
    full = finetune(config(root, tmp_path / "a.synsetlab", epochs=1, freeze=FreezePolicy.NONE))
    assert [r.phase for r in full.history] == ["full"]
    assert full.trunk_engine.startswith("none")

    staged = finetune(config(root, tmp_path / "b.synsetlab", epochs=2, unfreeze_epochs=1))
    assert [r.phase for r in staged.history] == ["frozen", "frozen", "unfrozen"]
    # The unfrozen epoch starts at lr (late layers) and reports that group's rate.
    assert staged.history[2].lr == pytest.approx(1e-3)
    base = create_model("efficientnet_lite0").module.state_dict()
    tuned = load_file(str(tmp_path / "b.synsetlab"))
    stem_moved = not torch.equal(tuned["conv_stem.weight"], base["conv_stem.weight"])
    best_is_unfrozen = staged.best.phase == "unfrozen"
    assert stem_moved == best_is_unfrozen  # early layers change only if that epoch won


def test_lr_finder_and_early_stopping(make_data: MakeData, tmp_path: Path) -> None:
    root = make_data(train=3, val=1)
    head = FreezePolicy.ALL_BUT_HEAD
    found = finetune(config(root, tmp_path / "a.synsetlab", epochs=1, find_lr=True, freeze=head))
    chosen = create_model(str(tmp_path / "a.synsetlab")).metadata["training"]["lr"]
    assert 1e-7 < chosen < 0.1 and chosen != 1e-3
    assert found.history[0].lr == pytest.approx(chosen)

    # With a rate this small nothing improves after epoch 1: stop after 2 more.
    stopped = finetune(
        config(root, tmp_path / "b.synsetlab", epochs=8, lr=1e-12, patience=2, freeze=head)
    )
    assert len(stopped.history) == 3 and stopped.best.epoch == 1


def test_bad_settings_are_refused_before_any_work(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--find-lr works on cached features"):
        finetune(config(tiny_data, tmp_path / "m", freeze=FreezePolicy.NONE, find_lr=True))
    with pytest.raises(ConfigError, match="--batch-size must be at least 2"):
        finetune(config(tiny_data, tmp_path / "m", batch_size=1))
    with pytest.raises(DatasetError, match="no such folder"):
        finetune(config(tmp_path / "absent", tmp_path / "m"))
    with pytest.raises(ConfigError, match="no checkpoint"):
        finetune(config(tiny_data, tmp_path / "m", resume=True))


def test_resume_with_more_epochs_goes_on(make_data: MakeData, tmp_path: Path) -> None:
    root = make_data(train=2, val=1)
    first = finetune(config(root, tmp_path / "m.synsetlab", epochs=2))
    again = finetune(config(root, tmp_path / "m.synsetlab", epochs=2, resume=True))
    assert [r.epoch for r in again.history] == [1, 2]  # nothing left to do
    more = finetune(config(root, tmp_path / "m.synsetlab", epochs=3, resume=True))
    assert [r.epoch for r in more.history] == [1, 2, 3]
    assert more.history[:2] == first.history
    with pytest.raises(ConfigError, match="other settings"):
        finetune(config(root, tmp_path / "m.synsetlab", epochs=3, resume=True, seed=9))


KILLABLE = """
import sys, time
from pathlib import Path
from synsetlab.train.finetune import Callbacks, FinetuneConfig, finetune
from synsetlab.train.settings import FreezePolicy

def pause(record):
    if record.epoch == 2:  # its checkpoint is on disk: wait here to be killed
        print("checkpointed", record.epoch, flush=True)
        time.sleep(600)

finetune(
    FinetuneConfig(data=Path(sys.argv[1]), output=Path(sys.argv[2]), model="efficientnet_lite0",
                   epochs=4, views=2, batch_size=8, seed=5,
                   freeze=FreezePolicy.ALL_BUT_LAST_STAGE),
    Callbacks(on_epoch_end=pause),
)
"""


def cli_args(data: Path, output: Path) -> list[str]:
    # The last stage holds BatchNorm: its running statistics must resume exactly too.
    options = "-m efficientnet_lite0 --freeze all-but-last-stage --epochs 4 --views 2 "
    options += "--batch-size 8 --seed 5"
    command = [sys.executable, "-m", "synsetlab", "finetune", str(data), "-o", str(output)]
    return [*command, *options.split()]


def metric_rows(run_dir: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    for row in rows:  # timings differ from run to run; everything else must not
        del row["seconds"], row["images_per_second"]
    return rows


def test_a_killed_run_resumes_to_the_same_result(tiny_data: Path, tmp_path: Path) -> None:
    killed_out = tmp_path / "killed.synsetlab"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, str(tiny_data), str(killed_out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "checkpointed 2"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not killed_out.exists()
    assert len(metric_rows(tmp_path / "killed.run")) == 2

    resumed = subprocess.run(
        [*cli_args(tiny_data, killed_out), "--resume"], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "after epoch 2" in resumed.stderr
    assert "reusing the feature cache" in resumed.stderr
    assert resumed.stderr.count("epoch 3/4") == 1 and "epoch 1/4" not in resumed.stderr

    straight_out = tmp_path / "straight.synsetlab"
    straight = subprocess.run(
        cli_args(tiny_data, straight_out), capture_output=True, text=True, timeout=300
    )
    assert straight.returncode == 0, straight.stderr

    assert metric_rows(tmp_path / "killed.run") == metric_rows(tmp_path / "straight.run")
    a, b = load_file(str(killed_out)), load_file(str(straight_out))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_two_processes_under_torchrun(tiny_data: Path, tmp_path: Path) -> None:
    output = tmp_path / "ddp.synsetlab"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = "-m torch.distributed.run --standalone --nproc_per_node 2 -m synsetlab finetune"
    options = "-m efficientnet_lite0 --freeze all-but-last-stage --epochs 4 --batch-size 8"
    command = [sys.executable, *launch.split(), str(tiny_data), "-o", str(output), *options.split()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0 of 2, backend gloo" in done.stderr
    # Only rank 0 logs epochs and writes files.
    assert done.stderr.count("epoch 1/4 (frozen)") == 1
    assert done.stdout.count("model file") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp.run", "ddp.synsetlab"]
    assert len(metric_rows(tmp_path / "ddp.run")) == 4
    model = create_model(str(output))
    assert model.metadata["training"]["world_size"] == 2
    val = sorted((tiny_data / "val").glob("*/*.jpg"))
    predictions = Classifier(model).predict_batch(val, top_k=1)
    right = sum(p[0].label == path.parent.name for p, path in zip(predictions, val, strict=True))
    assert right >= 7  # of 9; chance is 3
    assert right / 9 == pytest.approx(model.metadata["metrics"]["val_accuracy"])


def test_real_photos_subset_then_classify_through_the_cli(shared_data, tmp_path: Path) -> None:
    hymenoptera = shared_data("hymenoptera")
    rows = ["path,label,split"]
    for split_name in ("train", "val"):
        for label in ("ants", "bees"):
            files = sorted((hymenoptera / split_name / label).glob("*.jpg"))[:20]
            rows += [f"{f.resolve()},{label},{split_name}" for f in files]
    manifest = tmp_path / "subset.csv"
    manifest.write_text("\n".join(rows) + "\n")
    output = tmp_path / "ants_bees.synsetlab"
    result = finetune(FinetuneConfig(data=manifest, output=output, epochs=5, seed=0))
    assert result.best.val_accuracy >= 0.85  # chance is 0.5

    classified = subprocess.run(
        [
            sys.executable,
            "-m",
            "synsetlab",
            "classify",
            "--model",
            str(output),
            "-k",
            "1",
            "-f",
            "json",
            *[r.split(",")[0] for r in rows[1:] if r.endswith(",val")],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert classified.returncode == 0, classified.stderr
    entries = json.loads(classified.stdout)
    right = sum(e["predictions"][0]["label"] == Path(e["path"]).parent.name for e in entries)
    assert len(entries) == 40
    # The CLI sees exactly the accuracy training measured (same loader, same weights).
    assert right / 40 == pytest.approx(result.best.val_accuracy)

"""The frozen-feature cache: right numbers, bad images named, reused only when valid."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from train_cases import MakeData

from synsetlab.engine.classifier import Classifier
from synsetlab.models import LoadedModel
from synsetlab.train import features
from synsetlab.train.augment import Augmentation
from synsetlab.train.data import load_training_data
from synsetlab.train.distributed import DistContext
from synsetlab.train.features import (
    PlainMaker,
    TorchTrunk,
    ViewMaker,
    compute_cache,
    fingerprint,
    load_cache,
    make_runner,
    save_cache,
    trunk_model,
)
from synsetlab.train.freeze import split
from synsetlab.train.settings import FreezePolicy

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def trunk(lite0_model: LoadedModel) -> LoadedModel:
    # The session model must stay untouched: cut a copy.
    module = copy.deepcopy(lite0_model.module)
    cut = split(module, FreezePolicy.ALL_BUT_LAST_STAGE).trunk
    assert cut is not None
    return trunk_model(lite0_model, cut, "all-but-last-stage")


def test_onnxruntime_trunk_matches_pytorch(trunk: LoadedModel) -> None:
    batch = np.random.default_rng(1).standard_normal((3, 3, 224, 224)).astype(np.float32)
    runner = make_runner(trunk, CPU)
    assert runner.name == "onnxruntime" and runner.lanes >= 1
    ort_out = runner.run(batch)
    torch_out = TorchTrunk(trunk.module, CPU).run(batch)
    assert ort_out.shape == torch_out.shape == (3, 192, 7, 7)
    assert np.abs(ort_out - torch_out).max() < features.ORT_TOLERANCE
    assert make_runner(trunk, CPU, engine="torch").name == "torch"


def test_auto_falls_back_to_pytorch_when_onnxruntime_disagrees(
    trunk: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setenv("SYNSETLAB_CACHE_DIR", str(tmp_path))  # a fresh export, checked
    monkeypatch.setattr(features, "ORT_TOLERANCE", -1.0)
    with caplog.at_level(logging.WARNING):
        assert make_runner(trunk, CPU).name == "torch"
    assert "differs from PyTorch" in caplog.text
    assert not list((tmp_path / "onnx").glob("*.onnx"))  # the refused graph is not kept


def test_cache_holds_views_and_names_bad_images(
    make_data: MakeData, trunk: LoadedModel, lite0_model: LoadedModel
) -> None:
    root = make_data(train=2, val=1)
    (root / "train" / "2" / "broken.jpg").write_text("<html>not a picture</html>")
    data = load_training_data(root)
    pre = lite0_model.preprocessing
    runner = TorchTrunk(trunk.module, CPU)
    loader = Classifier(lite0_model, backend=runner)
    makers = (ViewMaker(pre, 0, 3, Augmentation()), PlainMaker(loader.load_array))
    cache = compute_cache(runner, data, makers, DistContext(0, 1, CPU))
    assert cache.train.shape == (3, 6, 192, 7, 7) and cache.val.shape == (3, 192, 7, 7)
    assert cache.failures == [(str(root / "train" / "2" / "broken.jpg"), cache.failures[0][1])]
    assert "not an image" in cache.failures[0][1]
    assert cache.train_labels.tolist() == [0, 0, 1, 1, 2, 2]
    # View 0 is the plain picture: the trunk of the prediction input.
    first = data.train[0].path
    expected = runner.run(loader.load_array(first)[None])[0]
    assert np.allclose(cache.train[0, 0].numpy(), expected, atol=1e-4)
    # The augmented views differ from it and from each other.
    assert not torch.allclose(cache.train[1, 0], cache.train[0, 0])
    assert not torch.allclose(cache.train[2, 0], cache.train[1, 0])


def test_cache_file_is_reused_only_with_the_same_fingerprint(
    make_data: MakeData, tmp_path: Path
) -> None:
    data = load_training_data(make_data(train=2, val=1))
    samples = [*data.train, *data.val]
    key = fingerprint({"views": 2}, samples)
    assert key == fingerprint({"views": 2}, samples)
    assert key != fingerprint({"views": 3}, samples)
    cache = features.FeatureCache(
        torch.randn(2, 6, 4), torch.arange(6), torch.randn(3, 4), torch.arange(3), [("a", "b")]
    )
    path = tmp_path / "features.safetensors"
    save_cache(path, cache, key)
    back = load_cache(path, key)
    assert back is not None and torch.equal(back.train, cache.train)
    assert back.failures == [("a", "b")]
    assert load_cache(path, "other") is None
    samples[0].path.write_bytes(samples[0].path.read_bytes() + b"\0")  # the file changed
    assert fingerprint({"views": 2}, samples) != key
    path.write_bytes(b"damaged")
    assert load_cache(path, key) is None

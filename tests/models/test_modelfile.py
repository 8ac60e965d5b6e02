"""The .synsetlab model file: self-contained, pickle-free, and usable wherever a name is."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision
from safetensors.numpy import save_file as save_numpy

from synsetlab.engine.onnx_export import export_onnx
from synsetlab.errors import ModelNotFoundError, WeightsMismatchError
from synsetlab.models import ClassList, LoadedModel, create_model
from synsetlab.models.modelfile import (
    FORMAT_VERSION,
    ONNX_TOLERANCE,
    check_onnx,
    export_description,
    is_model_file,
    load_model_file,
    read_metadata,
    save_model_file,
)
from synsetlab.train.freeze import replace_head

CLASSES = ClassList.from_names(["1", "10", "2"])


@pytest.fixture
def finetuned(lite0_model: LoadedModel) -> LoadedModel:
    """lite0 with a fresh 3-class head (a copy: the session model stays as it is)."""
    model = copy.deepcopy(lite0_model)
    torch.manual_seed(0)
    replace_head(model.module, 3)
    model.module.eval()
    return model


def write(model: LoadedModel, path: Path) -> Path:
    return save_model_file(
        path,
        model.module,
        base=model,
        classes=CLASSES,
        training={"epochs": 2, "lr": 0.001},
        metrics={"val_accuracy": 0.9},
    )


def test_round_trip_gives_the_same_network_classes_and_preprocessing(
    finetuned: LoadedModel, tmp_path: Path
) -> None:
    path = write(finetuned, tmp_path / "m.synsetlab")
    loaded = load_model_file(path)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(loaded.module(x), finetuned.module(x))
    assert loaded.classes == CLASSES and loaded.classes.labels == ("1", "10", "2")
    assert loaded.preprocessing == finetuned.preprocessing
    assert loaded.architecture == "efficientnet_lite0" and not loaded.module.training
    assert loaded.metadata["metrics"] == {"val_accuracy": 0.9}
    assert loaded.metadata["training"]["lr"] == 0.001
    assert loaded.metadata["base"]["source_weights"] == finetuned.source


def test_metadata_is_plain_json_in_the_safetensors_header(
    finetuned: LoadedModel, tmp_path: Path
) -> None:
    path = write(finetuned, tmp_path / "m.synsetlab")
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])  # no pickle, no torch: just JSON
    meta = json.loads(header["__metadata__"]["synsetlab"])
    assert meta["format"] == "synsetlab.model" and meta["format_version"] == FORMAT_VERSION
    assert meta["classes"]["labels"] == ["1", "10", "2"]
    assert meta["preprocessing"]["crop_size"] == 224
    assert meta["base"]["builder"] == {"library": "timm", "name": "efficientnet_lite0"}
    assert {"synsetlab_version", "created", "training", "metrics"} <= set(meta)
    assert header["classifier.weight"]["shape"] == [3, 1280]
    assert read_metadata(path) == meta


def test_create_model_takes_a_model_file(finetuned: LoadedModel, tmp_path: Path) -> None:
    path = write(finetuned, tmp_path / "ants.synsetlab")
    loaded = create_model(str(path))
    assert loaded.name == str(path) and len(loaded.classes) == 3
    # Any name works, as long as the file is ours.
    other = tmp_path / "renamed.bin"
    other.write_bytes(path.read_bytes())
    assert is_model_file(str(other)) and len(create_model(str(other)).classes) == 3
    assert not is_model_file("efficientnet_lite0")


def test_torchvision_architectures_rebuild_too(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = torchvision.models.resnet18(weights=None).eval()
    replace_head(module, 3)
    base = LoadedModel(
        "resnet18",
        "torchvision.resnet18",
        module,
        create_model("efficientnet_lite0").preprocessing,
        CLASSES,
        "random",
    )
    path = write(base, tmp_path / "r.synsetlab")
    loaded = load_model_file(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded.module(x), module(x))
    assert type(loaded.module).__name__ == "ResNet"


def test_missing_foreign_and_damaged_files_are_named(
    finetuned: LoadedModel, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        create_model(str(tmp_path / "nothing.synsetlab"))
    save_numpy({"x": np.zeros(2, np.float32)}, str(tmp_path / "plain.synsetlab"))
    with pytest.raises(ModelNotFoundError, match="not a synsetlab model file"):
        create_model(str(tmp_path / "plain.synsetlab"))
    (tmp_path / "junk.synsetlab").write_bytes(b"\x00" * 40)
    with pytest.raises(ModelNotFoundError, match="not a synsetlab model file"):
        load_model_file(tmp_path / "junk.synsetlab")
    # Tensors that do not fit the recorded architecture.
    module = copy.deepcopy(finetuned.module)
    replace_head(module, 4)
    path = save_model_file(
        tmp_path / "bad.synsetlab", module, base=finetuned, classes=CLASSES, training={}, metrics={}
    )
    with pytest.raises(WeightsMismatchError, match=r"wrong shape \['classifier.weight'"):
        load_model_file(path)


def test_newer_formats_are_refused(finetuned: LoadedModel, tmp_path: Path, monkeypatch) -> None:
    import synsetlab.models.modelfile as modelfile

    monkeypatch.setattr(modelfile, "FORMAT_VERSION", FORMAT_VERSION + 1)
    path = write(finetuned, tmp_path / "future.synsetlab")
    monkeypatch.setattr(modelfile, "FORMAT_VERSION", FORMAT_VERSION)
    with pytest.raises(ModelNotFoundError, match="newer synsetlab"):
        load_model_file(path)


def test_onnx_export_matches_pytorch_within_tolerance(
    finetuned: LoadedModel, tmp_path: Path
) -> None:
    loaded = load_model_file(write(finetuned, tmp_path / "m.synsetlab"))
    onnx_path = export_onnx(loaded.module, tmp_path / "m.onnx", 224)
    gap = check_onnx(loaded, onnx_path)
    # Our own comparison on other inputs: logits within 1e-4 of the largest logit.
    x = np.random.default_rng(5).standard_normal((3, 3, 224, 224)).astype(np.float32)
    (got,) = ort.InferenceSession(str(onnx_path)).run(None, {"input": x})
    with torch.inference_mode():
        expected = loaded.module(torch.from_numpy(x)).numpy()
    assert got.shape == (3, 3)
    assert np.abs(got - expected).max() <= ONNX_TOLERANCE * max(1.0, np.abs(expected).max())
    assert 0 <= gap <= ONNX_TOLERANCE * 10
    description = export_description(loaded)
    assert description["classes"]["labels"] == ["1", "10", "2"]
    assert description["input"]["shape"] == ["batch", 3, 224, 224]
    assert list(description["preprocessing"]["mean"]) == [0.5, 0.5, 0.5]


def test_a_faulty_export_is_refused(finetuned: LoadedModel, tmp_path: Path) -> None:
    loaded = load_model_file(write(finetuned, tmp_path / "m.synsetlab"))
    onnx_path = export_onnx(loaded.module, tmp_path / "m.onnx", 224)
    with torch.no_grad():
        loaded.module.classifier.bias += 1.0  # PyTorch now disagrees with the graph
    with pytest.raises(WeightsMismatchError, match="do not use it"):
        check_onnx(loaded, onnx_path)

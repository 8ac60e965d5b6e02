"""create_model with torchvision and timm names: local caches only, clear errors, no network.

Every test points torch's and Hugging Face's caches at an empty temporary folder and makes
any network connection fail loudly, so the results do not depend on this machine.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from synsetlab.errors import ModelNotFoundError, SynsetlabError, WeightsUnavailableError
from synsetlab.models import Preprocessing, create_model

SECONDS = 5.0  # "a clear error within seconds"


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty caches under tmp_path; a network connection raises NetworkUsed."""
    caches = tmp_path / "caches"
    monkeypatch.setenv("TORCH_HOME", str(caches / "torch"))
    monkeypatch.setenv("HF_HOME", str(caches / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(caches / "hf" / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads its environment once, at import: patch what it read.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(caches / "hf" / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # torch.hub.set_dir would win over TORCH_HOME

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed(f"a test tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return caches


def fails_fast(name: str, error: type[SynsetlabError]) -> str:
    start = time.perf_counter()
    with pytest.raises(error) as caught:
        create_model(name)
    assert time.perf_counter() - start < SECONDS
    return str(caught.value)


def test_unknown_name(offline: Path) -> None:
    message = fails_fast("no_such_model_anywhere", ModelNotFoundError)
    assert "'no_such_model_anywhere'" in message and "efficientnet_lite0" in message


def test_torchvision_weights_not_cached(offline: Path) -> None:
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.url
    message = fails_fast("resnet50", WeightsUnavailableError)
    expected = offline / "torch" / "hub" / "checkpoints" / os.path.basename(url)
    assert str(expected) in message
    assert "IMAGENET1K_V2" in message and url in message
    assert "--allow-download" in message
    assert not expected.exists()


def test_timm_weights_not_cached_on_the_hugging_face_hub(offline: Path) -> None:
    message = fails_fast("test_efficientnet.r160_in1k", WeightsUnavailableError)
    expected = offline / "hf" / "hub" / "models--timm--test_efficientnet.r160_in1k"
    assert str(expected) in message
    assert "model.safetensors" in message


def test_timm_weights_not_cached_with_a_url(offline: Path) -> None:
    url = timm.models.get_pretrained_cfg("resnet18.a1_in1k").url
    message = fails_fast("resnet18.a1_in1k", WeightsUnavailableError)
    assert str(offline / "torch" / "hub" / "checkpoints" / os.path.basename(url)) in message


def test_family_prefixes_choose_the_library(offline: Path) -> None:
    assert "torchvision resnet18" in fails_fast("torchvision:resnet18", WeightsUnavailableError)
    assert "timm resnet18" in fails_fast("timm:resnet18", WeightsUnavailableError)
    # A bundled name with a prefix asks for the library's own weights, not the bundled ones.
    assert "timm efficientnet_lite0" in fails_fast(
        "timm:efficientnet_lite0", WeightsUnavailableError
    )


def test_an_unknown_timm_tag(offline: Path) -> None:
    message = fails_fast("resnet18.no_such_tag", ModelNotFoundError)
    assert "no_such_tag" in message and "pretrained=True" in message


def test_a_timm_architecture_without_weights_is_refused(offline: Path) -> None:
    untrained = next(
        name
        for name in timm.list_models()
        if not (cfg := timm.models.get_pretrained_cfg(name)) or not (cfg.hf_hub_id or cfg.url)
    )
    message = fails_fast(untrained, ModelNotFoundError)
    assert "no pretrained weights" in message and "random weights" in message


def test_torchvision_weights_from_the_cache(offline: Path) -> None:
    weights = torchvision.models.MobileNet_V3_Small_Weights.DEFAULT
    state = torchvision.models.mobilenet_v3_small(weights=None).state_dict()
    cached = offline / "torch" / "hub" / "checkpoints" / os.path.basename(weights.url)
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    model = create_model("mobilenet_v3_small")
    assert model.source == str(cached)
    assert not model.module.training
    loaded = model.module.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items())
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert model.preprocessing == Preprocessing(256, 224, "bilinear", *imagenet)
    assert len(model.classes) == 1000 and model.classes.wnids[281] == "n02123045"


def test_a_damaged_cached_file_is_named(offline: Path) -> None:
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    cached = offline / "torch" / "hub" / "checkpoints" / os.path.basename(url)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 interrupted download")
    message = fails_fast("resnet18", WeightsUnavailableError)
    assert str(cached) in message and "delete it" in message


def test_timm_weights_from_the_hugging_face_cache(offline: Path) -> None:
    name = "test_efficientnet.r160_in1k"
    module = timm.create_model(name, pretrained=False)
    repo = offline / "hf" / "hub" / "models--timm--test_efficientnet.r160_in1k"
    revision = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    state = {k: v.contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(snapshot / "model.safetensors"))
    model = create_model(name)
    assert model.source == str(snapshot / "model.safetensors")
    loaded = model.module.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items())
    cfg = timm.models.get_pretrained_cfg(name)
    crop = cfg.input_size[-1]
    assert model.preprocessing.crop_size == crop
    assert model.preprocessing.resize_size == int(crop / cfg.crop_pct)
    assert len(model.classes) == 1000

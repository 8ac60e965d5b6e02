"""The bundled EfficientNet-Lite weights: every tensor lands where it belongs."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import pytest
import timm
import torch

from synsetlab.errors import WeightsMismatchError
from synsetlab.models import LoadedModel, Preprocessing, bundled_models, create_model
from synsetlab.models.efficientnet_lite import preprocessing, remap_by_order, weights_file

VARIANTS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]


@pytest.fixture(scope="module", params=VARIANTS)
def bundled(request: pytest.FixtureRequest) -> LoadedModel:
    return create_model(request.param)


def test_the_bundled_models_are_the_three_variants() -> None:
    assert bundled_models() == VARIANTS


def test_every_tensor_is_loaded_in_order_with_its_shape(bundled: LoadedModel) -> None:
    shipped = torch.load(weights_file(bundled.name), map_location="cpu", weights_only=True)
    loaded = bundled.module.state_dict()
    architecture = timm.create_model(bundled.name, pretrained=False).state_dict()
    assert len(shipped) == len(loaded) == len(architecture)
    assert list(loaded) == list(architecture)  # timm's names, timm's order
    for (src, tensor), (dst, value) in zip(shipped.items(), loaded.items(), strict=True):
        assert tuple(value.shape) == tuple(architecture[dst].shape), dst
        assert tensor.shape == value.shape, (src, dst)
        assert torch.equal(tensor, value), f"{src} was not loaded into {dst}"


def test_bundled_model_is_ready(bundled: LoadedModel) -> None:
    assert not bundled.module.training
    assert bundled.architecture == bundled.name
    assert Path(bundled.source) == weights_file(bundled.name)
    assert Path(bundled.source).suffix == ".pth"
    assert len(bundled.classes) == 1000
    assert bundled.module.get_classifier().out_features == 1000


SIZES = {"efficientnet_lite0": (256, 224), "efficientnet_lite1": (272, 240)}
SIZES["efficientnet_lite2"] = (292, 260)


def test_preprocessing_per_model(bundled: LoadedModel) -> None:
    resize, crop = SIZES[bundled.name]
    expected = Preprocessing(resize, crop, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert preprocessing(bundled.name) == expected
    assert bundled.preprocessing == expected


def test_logs_name_the_weights_file_and_the_preprocessing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="synsetlab"):
        model = create_model("efficientnet_lite0")
    assert model.source in caplog.text
    assert "resize 256 bicubic, centre crop 224" in caplog.text
    assert "mean (0.500, 0.500, 0.500)" in caplog.text


def small_state(*shapes: tuple[int, ...]) -> OrderedDict[str, torch.Tensor]:
    return OrderedDict((f"t{i}", torch.zeros(shape)) for i, shape in enumerate(shapes))


def test_remap_by_order_renames_by_position() -> None:
    state = OrderedDict([("a", torch.ones(2)), ("b", torch.full((3, 1), 2.0))])
    target = OrderedDict([("x", torch.zeros(2)), ("y", torch.zeros(3, 1))])
    renamed = remap_by_order(state, target, source="w.pth")
    assert list(renamed) == ["x", "y"]
    assert torch.equal(renamed["y"], state["b"])


def test_remap_by_order_refuses_a_shape_mismatch_naming_the_tensor() -> None:
    state = OrderedDict([("conv.weight", torch.zeros(8, 3)), ("bn.bias", torch.zeros(7))])
    target = OrderedDict([("stem.weight", torch.zeros(8, 3)), ("stem.bn.bias", torch.zeros(8))])
    with pytest.raises(WeightsMismatchError) as caught:
        remap_by_order(state, target, source="weights.pth")
    message = str(caught.value)
    for part in ("weights.pth", "'bn.bias'", "'stem.bn.bias'", "(7,)", "(8,)"):
        assert part in message


def test_remap_by_order_refuses_a_count_mismatch() -> None:
    with pytest.raises(WeightsMismatchError, match=r"weights\.pth: holds 2 tensors.*expects 3"):
        remap_by_order(small_state((1,), (2,)), small_state((1,), (2,), (3,)), "weights.pth")


def test_weights_of_one_variant_do_not_fit_another() -> None:
    lite0 = torch.load(weights_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    lite2 = timm.create_model("efficientnet_lite2", pretrained=False).state_dict()
    with pytest.raises(WeightsMismatchError, match="lite0"):
        remap_by_order(lite0, lite2, source=weights_file("efficientnet_lite0"))

"""Freeze policies: trunk + tail compute the network, and only the tail learns."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from torch import nn

from synsetlab.errors import ConfigError
from synsetlab.train.freeze import (
    parameter_groups,
    replace_head,
    split,
    trainable_state,
)
from synsetlab.train.settings import DEFAULT_POLICY, FreezePolicy


def lite0() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("efficientnet_lite0", pretrained=False).eval()


def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def timm_resnet() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("resnet18", pretrained=False).eval()


BUILDERS = {"timm efficientnet": lite0, "torchvision resnet": resnet18, "timm resnet": timm_resnet}


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
@pytest.mark.parametrize("policy", list(FreezePolicy))
def test_trunk_then_tail_is_the_network(build, policy: FreezePolicy) -> None:
    module = build()
    replace_head(module, 3)
    cut = split(module, policy)
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        expected = module(x)
        middle = cut.trunk(x) if cut.trunk is not None else x
        got = cut.tail.eval()(middle)
    assert expected.shape == (2, 3)
    assert torch.allclose(got, expected, atol=1e-5)
    assert (cut.trunk is None) == (policy is FreezePolicy.NONE)


def test_policies_train_what_they_say() -> None:
    module = lite0()
    replace_head(module, 2)
    trained = {}
    for policy in FreezePolicy:
        split(module, policy)
        trained[policy] = {n for n, p in module.named_parameters() if p.requires_grad}
    all_names = {n for n, _ in module.named_parameters()}
    assert trained[FreezePolicy.ALL_BUT_HEAD] == {"classifier.weight", "classifier.bias"}
    last = trained[FreezePolicy.ALL_BUT_LAST_STAGE]
    assert {n.split(".")[0] for n in last} == {"blocks", "conv_head", "bn2", "classifier"}
    assert all(n.startswith("blocks.6.") for n in last if n.startswith("blocks"))
    assert trained[FreezePolicy.NONE] == all_names
    assert DEFAULT_POLICY in FreezePolicy


def test_resnet_last_stage_is_layer4() -> None:
    module = resnet18()
    replace_head(module, 5)
    cut = split(module, FreezePolicy.ALL_BUT_LAST_STAGE)
    assert cut.trainable_prefixes[:1] == ("layer4.",) and "fc." in cut.trainable_prefixes
    assert module.fc.out_features == 5
    assert not any(p.requires_grad for p in module.layer3.parameters())


def test_trainable_state_holds_the_trained_layers_with_buffers() -> None:
    module = lite0()
    cut = split(module, FreezePolicy.ALL_BUT_LAST_STAGE)
    state = trainable_state(module, cut.trainable_prefixes)
    assert "bn2.running_mean" in state and "classifier.weight" in state
    assert not any(k.startswith(("blocks.5.", "conv_stem")) for k in state)
    state["classifier.weight"].zero_()  # a copy: the model is untouched
    assert module.classifier.weight.abs().sum() > 0


def test_discriminative_groups_split_early_and_late() -> None:
    module = lite0()
    cut = split(module, FreezePolicy.ALL_BUT_LAST_STAGE)
    early, late = parameter_groups(module, cut, lr=1e-3, early_lr_factor=0.1)
    assert early["lr"] == pytest.approx(1e-4) and late["lr"] == 1e-3
    late_ids = {id(p) for p in late["params"]}
    assert id(module.classifier.weight) in late_ids
    assert id(module.conv_stem.weight) in {id(p) for p in early["params"]}
    total = len(early["params"]) + len(late["params"])
    assert total == len(list(module.parameters()))
    assert all(p.requires_grad for p in module.parameters())


def test_unknown_family_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not know the layers of Sequential"):
        split(nn.Sequential(nn.Linear(2, 2)), FreezePolicy.ALL_BUT_HEAD)

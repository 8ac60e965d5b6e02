"""Freeze policies: which layers of a pretrained network keep learning, and with which rate.

A network is seen as ``stem -> stages -> neck -> pool -> head`` (the anatomy), described per
family in :data:`_FAMILIES`. A policy cuts it in two:

- the **trunk**, frozen: it maps an image batch to activations and is only ever run in
  inference mode, so its output can be computed once and cached;
- the **tail**, trained: it maps those activations to logits.

Policies (``--freeze``), named by what they freeze:

- ``all-but-head``: everything but the new classification layer is frozen (a linear probe).
- ``all-but-last-stage``: the last stage, the neck and the head train (the classic recipe).
- ``none``: nothing is frozen; the whole network trains (nothing can be cached).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from synsetlab.errors import ConfigError
from synsetlab.train.settings import FreezePolicy

logger = logging.getLogger(__name__)


@dataclass
class Anatomy:
    """A classifier's parts in forward order; ``pool`` ends with a flat feature vector."""

    stem: list[nn.Module]
    stages: list[nn.Module]
    neck: list[nn.Module]
    pool: list[nn.Module]
    head: nn.Module
    head_name: str


@dataclass
class Split:
    """A network cut by a policy. ``trunk`` is ``None`` when nothing is frozen."""

    policy: FreezePolicy
    trunk: nn.Sequential | None
    tail: nn.Sequential
    trainable_prefixes: tuple[str, ...]

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        return (p for p in self.tail.parameters() if p.requires_grad)


def _efficientnet(m: Any) -> Anatomy:
    # timm EfficientNet (lite and full): blocks are the stages; conv_head/bn2 the neck.
    return Anatomy(
        stem=[m.conv_stem, m.bn1],
        stages=list(m.blocks),
        neck=[m.conv_head, m.bn2],
        pool=[m.global_pool],
        head=m.classifier,
        head_name="classifier",
    )


def _torchvision_resnet(m: Any) -> Anatomy:
    return Anatomy(
        stem=[m.conv1, m.bn1, m.relu, m.maxpool],
        stages=[m.layer1, m.layer2, m.layer3, m.layer4],
        neck=[],
        pool=[m.avgpool, nn.Flatten(1)],
        head=m.fc,
        head_name="fc",
    )


def _timm_resnet(m: Any) -> Anatomy:
    return Anatomy(
        stem=[m.conv1, m.bn1, m.act1, m.maxpool],
        stages=[m.layer1, m.layer2, m.layer3, m.layer4],
        neck=[],
        pool=[m.global_pool],
        head=m.fc,
        head_name="fc",
    )


def _family_of(module: nn.Module) -> Callable[[nn.Module], Anatomy] | None:
    kind = f"{type(module).__module__}.{type(module).__name__}"
    return _FAMILIES.get(kind)


#: Families whose stages synsetlab knows, by the class of their top module.
_FAMILIES: dict[str, Callable[[nn.Module], Anatomy]] = {
    "timm.models.efficientnet.EfficientNet": _efficientnet,
    "torchvision.models.resnet.ResNet": _torchvision_resnet,
    "timm.models.resnet.ResNet": _timm_resnet,
}


def anatomy(module: nn.Module) -> Anatomy:
    """The parts of ``module``; raises :class:`ConfigError` for an unknown family."""
    family = _family_of(module)
    if family is None:
        known = ", ".join(sorted(_FAMILIES))
        raise ConfigError(
            f"synsetlab does not know the layers of {type(module).__name__}; fine-tuning "
            f"supports {known}. Choose one of those as --model (e.g. efficientnet_lite0)"
        )
    return family(module)


def replace_head(module: nn.Module, num_classes: int) -> nn.Linear:
    """Swap the ImageNet classification layer for a new one with ``num_classes`` outputs."""
    parts = anatomy(module)
    old = parts.head
    if not isinstance(old, nn.Linear):
        raise ConfigError(f"expected a linear classification layer, found {type(old).__name__}")
    new = nn.Linear(old.in_features, num_classes)
    setattr(module, parts.head_name, new)
    if hasattr(module, "num_classes"):
        setattr(module, "num_classes", num_classes)  # noqa: B010  (timm reads it back)
    return new


def split(module: nn.Module, policy: FreezePolicy) -> Split:
    """Cut ``module`` into a frozen trunk and a trainable tail, and set ``requires_grad``."""
    parts = anatomy(module)
    if policy is FreezePolicy.ALL_BUT_HEAD:
        frozen = [*parts.stem, *parts.stages, *parts.neck, *parts.pool]
        trained = [parts.head]
    elif policy is FreezePolicy.ALL_BUT_LAST_STAGE:
        frozen = [*parts.stem, *parts.stages[:-1]]
        trained = [parts.stages[-1], *parts.neck, *parts.pool, parts.head]
    else:
        frozen = []
        trained = [*parts.stem, *parts.stages, *parts.neck, *parts.pool, parts.head]
    set_trainable(module, False)
    for layer in trained:
        layer.requires_grad_(True)
    trunk = nn.Sequential(*frozen).eval() if frozen else None
    prefixes = _prefixes(module, trained)
    logger.info("freeze policy %s: training %s", policy.value, ", ".join(prefixes))
    return Split(policy, trunk, nn.Sequential(*trained), prefixes)


def set_trainable(module: nn.Module, trainable: bool) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(trainable)


def parameter_groups(
    module: nn.Module, split_: Split, lr: float, early_lr_factor: float
) -> list[dict[str, object]]:
    """Discriminative rates for training everything after a frozen phase.

    The layers the policy trained keep ``lr``; the layers it had frozen (general features
    learnt on ImageNet) move ``early_lr_factor`` times slower so they are adjusted, not lost.
    """
    set_trainable(module, True)
    late = [p for n, p in module.named_parameters() if n.startswith(split_.trainable_prefixes)]
    late_ids = {id(p) for p in late}
    early = [p for p in module.parameters() if id(p) not in late_ids]
    logger.info(
        "unfrozen: %d early tensors at lr %.2g, %d late tensors at lr %.2g",
        len(early), lr * early_lr_factor, len(late), lr,
    )  # fmt: skip
    return [
        {"params": early, "lr": lr * early_lr_factor, "name": "early"},
        {"params": late, "lr": lr, "name": "late"},
    ]


def _prefixes(module: nn.Module, layers: list[nn.Module]) -> tuple[str, ...]:
    # Layers that hold parameters, named as in ``module.state_dict()`` (with a trailing dot).
    wanted = {id(layer) for layer in layers}
    names = [name for name, sub in module.named_modules() if id(sub) in wanted and name]
    return tuple(f"{name}." for name in names)


def trainable_state(module: nn.Module, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The tensors (parameters and buffers) of the trained layers, detached copies."""
    state = module.state_dict()
    return {k: v.detach().clone() for k, v in state.items() if k.startswith(prefixes)}

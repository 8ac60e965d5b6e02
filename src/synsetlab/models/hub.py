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

from synsetlab.errors import ModelNotFoundError, WeightsUnavailableError
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
        state = read_state_dict(cached)
    elif allow_download:
        state = weights.get_state_dict(progress=True)
    else:
        raise _not_cached(f"torchvision {name} ({weights})", cached, f"published at {weights.url}")
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
    cfg = _timm_pretrained_cfg(name)
    found = _timm_cached_file(cfg)
    if found is not None:
        module = timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay={"file": str(found)}
        )
    elif allow_download:
        module = timm.create_model(name, pretrained=True)
    else:
        raise _not_cached(f"timm {name}", _timm_expected_location(cfg), _timm_source(cfg))
    logger.info("loaded timm %s weights from %s", name, found or "a download")
    return LoadedModel(
        name=name,
        architecture=f"timm.{name}",
        module=module,
        preprocessing=_timm_preprocessing(module),
        classes=_timm_classes(module),
        source=str(found or name),
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors in a ``.pth`` weights file; a damaged file (an interrupted download, say)
    raises :class:`WeightsUnavailableError` naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails on damaged files with many exception types
        raise WeightsUnavailableError(
            f"{path}: cannot read this weights file ({exc}); it may be incomplete, so delete it "
            "and place a complete copy there"
        ) from exc
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path}: expected a state dict, found {type(state)}")
    return state


def _timm_pretrained_cfg(name: str) -> Any:
    """timm's record of where ``name``'s weights live; refuses names without weights."""
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError as exc:  # timm's answer to an unknown tag ("resnet50.nope")
        raise ModelNotFoundError(
            f"unknown model {name!r}: {exc}; see timm.list_models({name.split('.')[0]!r}, "
            "pretrained=True) for the tags that have weights"
        ) from exc
    # Without a published file timm would build the network with random weights.
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise ModelNotFoundError(
            f"timm has no pretrained weights for {name!r}: classifying with random weights "
            "would be meaningless; pick a name from timm.list_models(pretrained=True)"
        )
    return cfg


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


def _timm_source(cfg: Any) -> str:
    url = getattr(cfg, "url", None)
    if url:
        return f"published at {url}"
    # The hub cache is a folder tree, not one file: say what belongs inside it.
    return (
        f"the Hugging Face repository {cfg.hf_hub_id}, kept by huggingface_hub as "
        "snapshots/<revision>/model.safetensors in that folder"
    )


def _not_cached(what: str, where: Path, source: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"the weights for {what} are not in the local cache: expected {where} ({source}). "
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

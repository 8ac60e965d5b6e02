"""One entry point, :func:`create_model`, from a name the user typed to a ready model."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from synsetlab.errors import ModelNotFoundError
from synsetlab.models import efficientnet_lite
from synsetlab.models.base import LoadedModel

logger = logging.getLogger(__name__)

#: The model used when none is named; chosen by measured accuracy and speed (README).
DEFAULT_MODEL = "efficientnet_lite0"


def bundled_models() -> list[str]:
    """Models whose weights ship with synsetlab's dependencies: always available offline."""
    return sorted(efficientnet_lite.VARIANTS)


def create_model(name: str = DEFAULT_MODEL, *, allow_download: bool = False) -> LoadedModel:
    """Load a model by name, in eval mode, with its preprocessing and class list.

    ``name`` is a bundled model (:func:`bundled_models`), a torchvision classifier name
    (``resnet50``), or a timm name with optional tag (``convnext_tiny.fb_in1k``); prefix with
    ``torchvision:`` or ``timm:`` to choose between the two where both know the name.
    A path to a ``.synsetlab`` model file (``synsetlab finetune``) loads that file.
    """
    start = time.perf_counter()
    model = _dispatch(name, allow_download)
    elapsed = time.perf_counter() - start
    logger.info("model %s (%s), weights %s", model.name, model.architecture, model.source)
    logger.info("preprocessing: %s; model ready in %.1f s", model.preprocessing, elapsed)
    return model


def _dispatch(name: str, allow_download: bool) -> LoadedModel:
    # modelfile, hub and their torch/timm imports cost 2-3 s: only import them when the name
    # can be theirs, so that a bundled model served from the ONNX cache never needs torch.
    if _may_be_model_file(name):
        from synsetlab.models import modelfile

        if modelfile.is_model_file(name):
            return modelfile.load_model_file(Path(name))
    family, _, bare = name.rpartition(":")
    if not family and bare in efficientnet_lite.VARIANTS:
        return efficientnet_lite.create(bare)
    from synsetlab.models import hub

    if family in ("", "torchvision") and hub.is_torchvision_model(bare):
        return hub.create_torchvision(bare, allow_download)
    if family in ("", "timm") and hub.is_timm_model(bare):
        return hub.create_timm(bare, allow_download)
    if Path(name).suffix.lower() == ".onnx":
        raise ModelNotFoundError(
            f"{name}: an exported ONNX graph is for other runtimes; pass the .synsetlab model "
            "file (or a model name) as --model"
        )
    raise ModelNotFoundError(
        f"unknown model {name!r}: expected one of the bundled models {bundled_models()}, "
        "a torchvision classifier name (e.g. resnet50) or a timm model name "
        "(see timm.list_models()); a model file must exist on disk"
    )


def _may_be_model_file(name: str) -> bool:
    """False only where :func:`modelfile.is_model_file` is certain to be: no suffix, no file."""
    path = Path(name)
    return bool(path.suffix) or path.is_file()

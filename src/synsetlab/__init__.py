"""synsetlab: use, adapt and measure ImageNet classifiers, offline, on an ordinary CPU.

>>> import synsetlab
>>> classifier = synsetlab.load_classifier("efficientnet_lite0")
>>> classifier.predict("photo.jpg")[0].label  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from synsetlab.data.discovery import find_images
from synsetlab.data.images import load_image
from synsetlab.engine.classifier import Classifier
from synsetlab.engine.results import ImageResult, Prediction
from synsetlab.errors import (
    ConfigError,
    DatasetError,
    ImageLoadError,
    ModelNotFoundError,
    SynsetlabError,
    WeightsMismatchError,
    WeightsUnavailableError,
)
from synsetlab.evaluate.runner import Evaluation, evaluate
from synsetlab.models import DEFAULT_MODEL, LoadedModel, bundled_models, create_model


def load_classifier(name: str = DEFAULT_MODEL, **kwargs: Any) -> Classifier:
    """A ready :class:`Classifier` for a model name; keyword arguments go to the classifier."""
    allow_download = bool(kwargs.pop("allow_download", False))
    return Classifier(create_model(name, allow_download=allow_download), **kwargs)


__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "ConfigError",
    "DatasetError",
    "Evaluation",
    "ImageLoadError",
    "ImageResult",
    "LoadedModel",
    "ModelNotFoundError",
    "Prediction",
    "SynsetlabError",
    "WeightsMismatchError",
    "WeightsUnavailableError",
    "__version__",
    "bundled_models",
    "create_model",
    "evaluate",
    "find_images",
    "load_classifier",
    "load_image",
]

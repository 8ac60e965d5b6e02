"""synsetlab: use, adapt and measure ImageNet classifiers, offline, on an ordinary CPU.

>>> import synsetlab
>>> classifier = synsetlab.load_classifier("efficientnet_lite0")
>>> classifier.predict("photo.jpg")[0].label  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synsetlab._lazy import lazy_getattr
from synsetlab.errors import (
    ConfigError,
    DatasetError,
    ImageLoadError,
    ModelNotFoundError,
    SynsetlabError,
    WeightsMismatchError,
    WeightsUnavailableError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from synsetlab.data.discovery import find_images
    from synsetlab.data.images import load_image
    from synsetlab.engine.classifier import Classifier
    from synsetlab.engine.results import ImageResult, Prediction
    from synsetlab.evaluate.runner import Evaluation
    from synsetlab.evaluate.runner import evaluate as evaluate_folder
    from synsetlab.models import DEFAULT_MODEL, LoadedModel, bundled_models, create_model

# Imported on first use (PEP 562): ``import synsetlab.cli`` must not load the engine's and the
# models' dependencies before a command knows it needs them. The evaluation function is
# published as ``evaluate_folder``: the name ``evaluate`` belongs to the subpackage, and Python
# rebinds it to the subpackage whenever that is first imported.
_HOMES = {
    "find_images": "synsetlab.data.discovery",
    "load_image": "synsetlab.data.images",
    "Classifier": "synsetlab.engine.classifier",
    "ImageResult": "synsetlab.engine.results",
    "Prediction": "synsetlab.engine.results",
    "Evaluation": "synsetlab.evaluate.runner",
    "evaluate_folder": "synsetlab.evaluate.runner",
    "DEFAULT_MODEL": "synsetlab.models",
    "LoadedModel": "synsetlab.models",
    "bundled_models": "synsetlab.models",
    "create_model": "synsetlab.models",
}


__getattr__ = lazy_getattr(__name__, _HOMES, {"evaluate_folder": "evaluate"})


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_classifier(name: str | None = None, **kwargs: Any) -> Classifier:
    """A ready :class:`Classifier` for a model name (default: :data:`DEFAULT_MODEL`);
    keyword arguments go to the classifier."""
    from synsetlab.engine.classifier import Classifier
    from synsetlab.models import DEFAULT_MODEL, create_model

    allow_download = bool(kwargs.pop("allow_download", False))
    return Classifier(create_model(name or DEFAULT_MODEL, allow_download=allow_download), **kwargs)


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
    "evaluate_folder",
    "find_images",
    "load_classifier",
    "load_image",
]

"""Pretrained classifiers, each with its preprocessing and class list."""

from synsetlab.models.base import LoadedModel
from synsetlab.models.classes import ClassList, imagenet_classes
from synsetlab.models.preprocessing import Preprocessing
from synsetlab.models.registry import DEFAULT_MODEL, bundled_models, create_model

__all__ = [
    "DEFAULT_MODEL",
    "ClassList",
    "LoadedModel",
    "Preprocessing",
    "bundled_models",
    "create_model",
    "imagenet_classes",
]

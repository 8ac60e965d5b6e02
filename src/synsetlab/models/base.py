"""What every model loader returns: the network with everything needed to use it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synsetlab.models.classes import ClassList
from synsetlab.models.preprocessing import Preprocessing

if TYPE_CHECKING:
    import torch


#: One lock for every model (not one each, so that models stay copyable): builds are rare.
_BUILD_LOCK = threading.Lock()


class LoadedModel:
    """A network in eval mode, with its preprocessing, class list and provenance.

    ``name`` is what the user asked for, ``architecture`` the timm or torchvision builder,
    ``source`` where the weights came from (a file path) and ``metadata`` anything a model file
    stored besides (training settings, metrics).

    Give either the ``module`` itself or ``None`` and a ``build`` callable that makes it: then
    the network (and torch with it) is only built when :attr:`module` is first read, so that
    a run served from a cached ONNX graph never pays for it. ``weights_file``, when given, is
    the one file the built network's weights come from, unchanged: it identifies the weights
    without building the network (see :func:`synsetlab.engine.onnx_cache.graph_key`).
    """

    def __init__(
        self,
        name: str,
        architecture: str,
        module: torch.nn.Module | None,
        preprocessing: Preprocessing,
        classes: ClassList,
        source: str,
        metadata: dict[str, Any] | None = None,
        *,
        build: Callable[[], torch.nn.Module] | None = None,
        weights_file: Path | None = None,
    ) -> None:
        if (module is None) == (build is None):
            raise TypeError("LoadedModel takes exactly one of module= and build=")
        self.name = name
        self.architecture = architecture
        self.preprocessing = preprocessing
        self.classes = classes
        self.source = source
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.weights_file = weights_file
        self._build = build
        self._module = module.eval() if module is not None else None

    @property
    def module(self) -> torch.nn.Module:
        """The network in eval mode, built on first use when a ``build`` callable was given."""
        if self._module is None:
            with _BUILD_LOCK:  # inference threads may ask at once
                if self._module is None:
                    assert self._build is not None
                    self._module = self._build().eval()
        return self._module

    @module.setter
    def module(self, module: torch.nn.Module) -> None:
        self._module = module

    @property
    def module_built(self) -> bool:
        """Whether the network exists yet (reading :attr:`module` builds it)."""
        return self._module is not None

    def __repr__(self) -> str:
        return (
            f"LoadedModel(name={self.name!r}, architecture={self.architecture!r}, "
            f"source={self.source!r}, classes={len(self.classes)})"
        )

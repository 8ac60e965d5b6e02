"""Fixtures shared by the whole suite.

- ``shared_data``: the real data beside the repository (``../shared/data``). Tests that use it
  are skipped when it is missing, except under ``CI=true``, where they fail: CI has the data,
  and a silently skipped accuracy check would hide a broken model.
- ``lite0_model`` / ``lite0_classifier``: efficientnet_lite0 loaded once per session. The
  classifier runs eager PyTorch, the reference engine, so that these tests check the
  classifier's own logic whatever engine ``auto`` picks. Tests must not change the model
  (``.train()``, new weights): load a fresh one for that.
- Every test runs with ``SYNSETLAB_CACHE_DIR`` in a temporary folder, so that the suite never
  writes to the user's ``~/.cache`` (exported ONNX graphs, for one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synsetlab.engine.backends import TorchBackend
from synsetlab.engine.classifier import Classifier
from synsetlab.models import LoadedModel, create_model

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_shared(relative: str, root: Path | None = None) -> Path:
    """``../shared/data/<relative>`` (or ``root/<relative>``); skips the test when it is
    missing, but fails it under ``CI=true``."""
    path = (root or SHARED_DATA) / relative
    if not path.exists():
        message = f"real data {path} is missing (expected beside the repository)"
        if in_ci():
            pytest.fail(f"{message}; CI must provide it", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True, scope="session")
def private_synsetlab_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("synsetlab-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNSETLAB_CACHE_DIR", str(root))
        yield root


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """``shared_data("imagenet-sample")`` -> the folder, or skip/fail as :func:`require_shared`."""
    return require_shared


@pytest.fixture(scope="session")
def lite0_model() -> LoadedModel:
    return create_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def lite0_classifier(lite0_model: LoadedModel) -> Classifier:
    return Classifier(lite0_model, batch_size=8, backend=TorchBackend(lite0_model.module))


@pytest.fixture(scope="session")
def example_photo_paths() -> dict[str, Path]:
    """The real example photos shipped by matplotlib and scikit-image, by file stem."""
    from synsetlab.data.examples import example_photos

    return {path.stem: path for path in example_photos()}

"""Choosing the engine: ONNX Runtime when it works, eager PyTorch otherwise, and logs saying why."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from synsetlab.engine import onnx_cache, selection
from synsetlab.engine.backends import TorchBackend
from synsetlab.engine.classifier import Classifier
from synsetlab.engine.selection import ThreadPlan, create_backend, thread_plan
from synsetlab.errors import ConfigError
from synsetlab.models import LoadedModel

LOGGER = "synsetlab.engine.selection"


@pytest.fixture
def no_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if onnxruntime were not installed: ``import onnxruntime`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)


@pytest.fixture
def export_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYNSETLAB_CACHE_DIR", str(tmp_path))  # nothing cached yet

    def boom(*args: object) -> None:
        raise RuntimeError("Exporting the operator 'fancy_op' to ONNX is not supported")

    monkeypatch.setattr(onnx_cache, "export_onnx", boom)


def test_auto_on_the_cpu_picks_onnxruntime_and_says_why(
    tiny: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("onnxruntime")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        backend = create_backend(tiny, "auto", "cpu")
    assert backend.name == "onnxruntime"
    [message] = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert "engine: onnxruntime" in message and "auto" in message and "lanes" in message


def test_forced_torch(tiny: LoadedModel, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        backend = create_backend(tiny, "torch", "cpu")
    assert isinstance(backend, TorchBackend)
    assert "PyTorch eager on cpu (asked for with engine=torch)" in caplog.text


@pytest.mark.usefixtures("no_onnxruntime")
def test_without_onnxruntime_auto_falls_back_with_a_warning(
    tiny: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        backend = create_backend(tiny, "auto", "cpu")
    assert isinstance(backend, TorchBackend)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "falling back to eager PyTorch" in warning.getMessage()
    assert "onnxruntime cannot be imported" in warning.getMessage()


@pytest.mark.usefixtures("no_onnxruntime")
def test_without_onnxruntime_forcing_it_is_an_error(tiny: LoadedModel) -> None:
    with pytest.raises(ConfigError, match=r"onnxruntime cannot be imported.*--engine torch"):
        create_backend(tiny, "onnxruntime", "cpu")


@pytest.mark.usefixtures("no_onnxruntime")
def test_the_classifier_still_works_without_onnxruntime(tiny: LoadedModel) -> None:
    classifier = Classifier(tiny)
    assert classifier.backend.name == "torch" and classifier.lanes == 1
    picture = Image.new("RGB", (50, 40), (200, 30, 30))
    assert len(classifier.predict_batch([picture])[0]) == 5


@pytest.mark.usefixtures("export_fails")
def test_a_model_that_does_not_export_falls_back(
    tiny: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("onnxruntime")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert isinstance(create_backend(tiny, "auto", "cpu"), TorchBackend)
    assert "fancy_op" in caplog.text and "falling back" in caplog.text
    with pytest.raises(ConfigError, match=r"cannot run tiny.*fancy_op"):
        create_backend(tiny, "onnxruntime", "cpu")


def test_an_unwritable_cache_costs_a_warning_not_the_engine(
    tiny: LoadedModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("onnxruntime")
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created below a file")
    monkeypatch.setenv("SYNSETLAB_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        backend = create_backend(tiny, "auto", "cpu")
    assert backend.name == "onnxruntime"
    assert "ONNX cache unusable" in caplog.text


def test_auto_on_a_gpu_uses_pytorch(
    tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[str] = []

    class Recorder:
        name = "torch"

        def __init__(self, module: object, device: str) -> None:
            made.append(device)

    monkeypatch.setattr(selection, "TorchBackend", Recorder)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # no GPU here: pretend
    with caplog.at_level(logging.INFO, logger=LOGGER):
        create_backend(tiny, "auto", "cuda")
    assert made == ["cuda"]
    assert "PyTorch eager on cuda (auto: the device is cuda)" in caplog.text


def test_devices_are_checked(tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        create_backend(tiny, "torch", "cuda")
    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        create_backend(tiny, "torch", "gpu")


def test_onnxruntime_is_for_the_cpu_only(
    tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ConfigError, match="--device cpu"):
        create_backend(tiny, "onnxruntime", "cuda")


def test_an_unknown_engine_is_a_config_error(tiny: LoadedModel) -> None:
    with pytest.raises(ConfigError, match=r"'tensorrt'.*auto, onnxruntime, torch"):
        create_backend(tiny, "tensorrt", "cpu")


@pytest.mark.parametrize(
    ("cores", "plan"),
    [
        (1, ThreadPlan(cores=1, lanes=1, intra_threads=1, decode_workers=1)),
        (2, ThreadPlan(cores=2, lanes=2, intra_threads=1, decode_workers=2)),
        (3, ThreadPlan(cores=3, lanes=2, intra_threads=1, decode_workers=3)),
        (16, ThreadPlan(cores=16, lanes=2, intra_threads=8, decode_workers=16)),
    ],
)
def test_thread_plan(cores: int, plan: ThreadPlan) -> None:
    assert thread_plan(cores) == plan


def test_thread_plan_follows_the_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert thread_plan().cores == 3

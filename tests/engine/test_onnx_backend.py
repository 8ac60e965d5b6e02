"""The ONNX Runtime backend: same answers as eager PyTorch, and a graph it can trust."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from engine_cases import TINY_CLASSES
from PIL import Image

from synsetlab.data.discovery import walk_folder
from synsetlab.engine import onnx_backend as module
from synsetlab.engine.backends import TorchBackend, softmax
from synsetlab.engine.classifier import Classifier
from synsetlab.engine.onnx_backend import (
    OnnxBackend,
    check_against_torch,
    onnx_backend,
)
from synsetlab.engine.onnx_cache import load_or_export, record_path
from synsetlab.errors import ConfigError
from synsetlab.models import LoadedModel

pytest.importorskip("onnxruntime")

#: Engine vs eager PyTorch on identical inputs: the largest probability difference allowed.
#: Float32 kernels differ only in summation order; measured about 2e-6 on lite0.
PROB_TOLERANCE = 1e-4


def batch_of(count: int, crop: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, 3, crop, crop), dtype=np.float32)


def test_matches_eager_pytorch_on_the_tiny_model(tiny: LoadedModel, tmp_path: Path) -> None:
    backend = onnx_backend(tiny, directory=tmp_path)
    inputs = batch_of(6)
    ours, reference = backend.run(inputs), TorchBackend(tiny.module).run(inputs)
    assert ours.shape == (6, TINY_CLASSES) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


def test_micro_batches_do_not_change_results(tiny: LoadedModel, tmp_path: Path) -> None:
    graph = load_or_export(tiny, tmp_path).data
    inputs = batch_of(11)
    whole = OnnxBackend(graph, micro_batch=64).run(inputs)
    for step in (1, 4):
        np.testing.assert_array_equal(OnnxBackend(graph, micro_batch=step).run(inputs), whole)
    alone = np.concatenate([OnnxBackend(graph).run(inputs[i : i + 1]) for i in range(11)])
    np.testing.assert_array_equal(alone, whole)


def test_other_picture_sizes_go_to_eager_pytorch(tiny: LoadedModel, tmp_path: Path) -> None:
    backend = onnx_backend(tiny, directory=tmp_path)
    odd = batch_of(2, crop=40)  # a model-ready tensor of another size, passed by a caller
    np.testing.assert_array_equal(backend.run(odd), TorchBackend(tiny.module).run(odd))
    bare = OnnxBackend(load_or_export(tiny, tmp_path).data)
    with pytest.raises(ConfigError, match=r"shape \(3, 32, 32\), got \(3, 40, 40\)"):
        bare.run(odd)


def test_the_backend_reports_its_threads(tiny: LoadedModel, tmp_path: Path) -> None:
    backend = onnx_backend(tiny, intra_threads=1, lanes=2, directory=tmp_path)
    assert backend.name == "onnxruntime" and backend.lanes == 2 and backend.intra_threads == 1


class OffsetBackend:
    """Eager PyTorch with class 0's logit moved: a stand-in for a wrong export."""

    name = "offset"

    def __init__(self, model: LoadedModel, offset: float) -> None:
        self.reference, self.offset = TorchBackend(model.module), offset

    def run(self, batch: np.ndarray) -> np.ndarray:
        logits = self.reference.run(batch)
        logits[:, 0] += self.offset
        return logits


def test_the_probe_refuses_a_graph_that_disagrees(tiny: LoadedModel) -> None:
    with pytest.raises(ValueError, match="disagrees with PyTorch"):
        check_against_torch(tiny, OffsetBackend(tiny, offset=0.5))
    assert check_against_torch(tiny, OffsetBackend(tiny, offset=0.0)) == 0.0


def test_a_graph_that_fails_the_probe_is_not_kept(
    tiny: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> float:
        raise ValueError("the ONNX export of tiny disagrees with PyTorch")

    monkeypatch.setattr(module, "check_against_torch", refuse)
    with pytest.raises(ValueError, match="disagrees"):
        onnx_backend(tiny, directory=tmp_path)
    assert not list(tmp_path.iterdir()), "a refused graph must not stay in the cache"


def test_a_cached_graph_the_runtime_rejects_is_rebuilt(
    tiny: LoadedModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = load_or_export(tiny, tmp_path).path
    # Bytes that match their record (so the checksum passes) but are no ONNX model.
    junk = b"this is not an ONNX graph"
    path.write_bytes(junk)
    record = json.loads(record_path(path).read_text())
    record["sha256"] = hashlib.sha256(junk).hexdigest()
    record_path(path).write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="synsetlab.engine.onnx_backend"):
        backend = onnx_backend(tiny, directory=tmp_path)
    assert "cannot be loaded" in caplog.text and str(path) in caplog.text
    np.testing.assert_allclose(
        backend.run(batch_of(2)), TorchBackend(tiny.module).run(batch_of(2)), atol=1e-5
    )
    assert path.read_bytes() != junk


# -- the real model on real photos ------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_files(shared_data: Callable[[str], Path]) -> list[Path]:
    """20 photos spread over the sample's classes."""
    return walk_folder(shared_data("imagenet-sample"))[::50]


def test_lite0_in_onnxruntime_agrees_with_pytorch_on_real_photos(
    lite0_model: LoadedModel, sample_files: list[Path]
) -> None:
    # As classify runs it; none of these photos is big enough for draft decoding, so every
    # difference is the engine's.
    fast = Classifier(lite0_model, engine="onnxruntime", batch_size=8)
    reference = Classifier(lite0_model, backend=TorchBackend(lite0_model.module), draft=False)
    assert fast.backend.name == "onnxruntime"
    ours = dict(fast.score_files(sample_files))
    for path, expected in reference.score_files(sample_files):
        got = ours[path]
        assert isinstance(got, np.ndarray) and isinstance(expected, np.ndarray)
        top5 = np.argsort(-expected)[:5]
        assert np.argmax(got) == top5[0], path
        np.testing.assert_allclose(got[top5], expected[top5], atol=PROB_TOLERANCE)


#: Draft decoding's allowance: on the 1000-photo sample, draft-decoded images kept their top-1
#: and moved a top-5 probability by at most 0.011 (lite0), 0.040 (lite1), 0.009 (lite2).
DRAFT_TOLERANCE = 0.05


def test_draft_decoding_of_a_big_photo_keeps_the_answer(
    lite0_model: LoadedModel, sample_files: list[Path], tmp_path: Path
) -> None:
    # A real photo enlarged to phone-camera size: drafting decodes it at 1/2 scale.
    big = tmp_path / "big.jpg"
    with Image.open(sample_files[0]) as photo:
        photo.convert("RGB").resize((2400, 1800), Image.Resampling.BICUBIC).save(big, quality=92)
    backend = TorchBackend(lite0_model.module)
    drafted = Classifier(lite0_model, backend=backend).load_array(big)
    full = Classifier(lite0_model, backend=backend, draft=False).load_array(big)
    assert not np.array_equal(drafted, full), "the draft path was not taken"
    probs = softmax(backend.run(np.stack([drafted, full])))
    top5 = np.argsort(-probs[1])[:5]
    assert np.argmax(probs[0]) == top5[0]
    np.testing.assert_allclose(probs[0][top5], probs[1][top5], atol=DRAFT_TOLERANCE)

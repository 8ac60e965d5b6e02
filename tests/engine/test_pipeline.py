"""Decoding overlapped with inference: lanes, order, failures, and JPEG draft decoding."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from engine_cases import tiny_model
from PIL import Image

from synsetlab.data.images import load_image
from synsetlab.engine import classifier as classifier_module
from synsetlab.engine.backends import TorchBackend
from synsetlab.engine.classifier import DRAFT_MARGIN, Classifier, draft_size
from synsetlab.errors import ImageLoadError


class TwoLaneBackend:
    """Eager PyTorch that insists on being called from two threads at once."""

    name = "two-lane"
    lanes = 2

    def __init__(self, inner: TorchBackend) -> None:
        self.inner = inner
        self.meeting = threading.Barrier(2, timeout=10)
        self.lock = threading.Lock()
        self.calls = 0

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls += 1
            first_two = self.calls <= 2
        if first_two:
            self.meeting.wait()  # raises BrokenBarrierError unless a second lane arrives
        with self.lock:  # eager PyTorch itself is not meant for concurrent calls
            return self.inner.run(batch)


def write_pictures(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i:02d}.png"
        pixels = rng.integers(0, 255, (30 + i, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def test_lanes_run_at_once_and_results_keep_their_order(tmp_path: Path) -> None:
    model = tiny_model()
    paths = write_pictures(tmp_path, 11)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"<html>not a picture</html>")
    paths.insert(5, broken)
    backend = TwoLaneBackend(TorchBackend(model.module))
    fast = Classifier(model, batch_size=2, workers=3, backend=backend)
    assert fast.lanes == 2
    got = list(fast.score_files(paths))
    plain = Classifier(model, batch_size=12, workers=1, backend=TorchBackend(model.module))
    expected = list(plain.score_files(paths))
    assert [p for p, _ in got] == paths and backend.calls == 6
    assert isinstance(got[5][1], ImageLoadError) and got[5][1].path == broken
    for (_, ours), (_, reference) in zip(got, expected, strict=True):
        if isinstance(reference, np.ndarray):
            np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)


def test_a_backend_without_lanes_gets_one(tmp_path: Path) -> None:
    model = tiny_model()

    class Plain:
        name = "plain"

        def run(self, batch: np.ndarray) -> np.ndarray:
            return np.zeros((len(batch), 7), dtype=np.float32)

    classifier = Classifier(model, backend=Plain())
    assert classifier.lanes == 1
    [(_, probs)] = classifier.score_files(write_pictures(tmp_path, 1))
    np.testing.assert_allclose(probs, np.full(7, 1 / 7), rtol=1e-6)


def test_draft_size_keeps_twice_the_resize_size() -> None:
    assert DRAFT_MARGIN == 2
    assert draft_size(256) == (512, 512)
    assert draft_size(256, margin=1) == (256, 256)


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((2400, 1800), (1200, 900)),  # 1/2: the short side stays >= 512
        ((4800, 3000), (1200, 750)),  # 1/4
        ((1000, 800), (1000, 800)),  # halving would go below 512: decoded in full
        ((600, 4000), (600, 4000)),
    ],
)
def test_draft_decoding_never_goes_below_the_margin(
    size: tuple[int, int], decoded: tuple[int, int], tmp_path: Path
) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", size, (90, 140, 200)).save(path, quality=90)
    assert load_image(path, draft_size=draft_size(256)).size == decoded


def test_the_classifier_asks_for_draft_decoding_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_model()  # resizes to 40 pixels
    asked: list[object] = []

    def fake_load(path: Path, **options: object) -> Image.Image:
        asked.append(options["draft_size"])
        return Image.new("RGB", (60, 50))

    monkeypatch.setattr(classifier_module, "load_image", fake_load)
    backend = TorchBackend(model.module)
    Classifier(model, backend=backend).load_array(tmp_path / "a.jpg")
    Classifier(model, backend=backend, draft=False).load_array(tmp_path / "a.jpg")
    assert asked == [(80, 80), None]

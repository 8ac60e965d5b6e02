"""The classifier: eval mode, determinism, batch independence, inputs of every kind."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from synsetlab.engine.backends import TorchBackend
from synsetlab.engine.classifier import Classifier
from synsetlab.engine.results import Prediction
from synsetlab.errors import ConfigError, ImageLoadError
from synsetlab.models import LoadedModel, create_model

CATS = {"n02123045", "n02123159", "n02124075"}  # tabby, tiger cat, Egyptian cat
ESPRESSO = "n07920052"


@pytest.fixture(scope="module")
def photos(example_photo_paths: dict[str, Path]) -> list[Path]:
    """Four real photos whose top-5 probabilities are well apart (no near ties)."""
    return [example_photo_paths[k] for k in ("grace_hopper", "chelsea", "coffee", "rocket")]


@pytest.fixture(scope="module")
def batch(lite0_classifier: Classifier, photos: list[Path]) -> np.ndarray:
    return np.stack([lite0_classifier.preprocess(p) for p in photos])


def indices(predictions: list[Prediction]) -> list[int]:
    return [p.index for p in predictions]


def probabilities(predictions: list[Prediction]) -> np.ndarray:
    return np.array([p.probability for p in predictions])


def test_real_photos_get_sensible_answers(lite0_classifier: Classifier, photos: list[Path]):
    chelsea, coffee = lite0_classifier.predict(photos[1]), lite0_classifier.predict(photos[2])
    assert chelsea[0].wnid in CATS
    assert coffee[0].wnid == ESPRESSO and coffee[0].label == "espresso"
    assert coffee[0].probability > 0.5


def test_predictions_are_ranked(lite0_classifier: Classifier, batch: np.ndarray) -> None:
    logits = lite0_classifier.logits(batch[:1])
    [top] = lite0_classifier.top_k(logits, 10)
    assert [p.rank for p in top] == list(range(1, 11))
    probs = probabilities(top)
    assert np.all(np.diff(probs) <= 0) and 0 < probs.sum() <= 1 + 1e-6
    assert indices(top) == list(np.argsort(-logits[0])[:10])
    classes = lite0_classifier.model.classes
    assert all(p.wnid == classes.wnids[p.index] for p in top)
    assert all(p.label == classes.labels[p.index] for p in top)
    assert len(lite0_classifier.top_k(logits, 1)[0]) == 1
    assert len(lite0_classifier.top_k(logits, 5000)[0]) == 1000


def test_eval_mode_even_after_train_was_called(photos: list[Path]) -> None:
    model = create_model("efficientnet_lite0")  # a private copy: the shared one stays intact
    classifier = Classifier(model, batch_size=4, backend=TorchBackend(model.module))
    inputs = np.stack([classifier.preprocess(p) for p in photos[:2]])
    reference = classifier.logits(inputs)
    model.module.train()
    again = classifier.logits(inputs)
    assert not model.module.training
    np.testing.assert_array_equal(again, reference)
    # Batch-norm statistics were not updated by the call made while in training mode.
    np.testing.assert_array_equal(classifier.logits(inputs), reference)


def test_eval_mode_with_the_default_engine_too(
    lite0_classifier: Classifier, batch: np.ndarray
) -> None:
    """Whatever engine ``auto`` picks, a model handed over in training mode predicts as in
    eval mode (an engine that exports the network must export it in eval mode)."""
    model = create_model("efficientnet_lite0")
    model.module.train()
    classifier = Classifier(model, batch_size=4)
    logits = classifier.logits(batch[:2])
    np.testing.assert_allclose(logits, lite0_classifier.logits(batch[:2]), atol=1e-3)
    np.testing.assert_array_equal(classifier.logits(batch[:2]), logits)


def test_the_same_batch_twice_gives_identical_logits(
    lite0_classifier: Classifier, batch: np.ndarray
) -> None:
    np.testing.assert_array_equal(lite0_classifier.logits(batch), lite0_classifier.logits(batch))


def test_one_image_alone_gives_the_same_as_inside_a_batch(
    lite0_classifier: Classifier, photos: list[Path]
) -> None:
    together = lite0_classifier.predict_batch(photos)
    for photo, in_batch in zip(photos, together, strict=True):
        alone = lite0_classifier.predict(photo)
        assert indices(alone) == indices(in_batch)
        np.testing.assert_allclose(probabilities(alone), probabilities(in_batch), atol=1e-4)


def test_paths_pil_images_and_tensors_agree(lite0_classifier: Classifier, photos: list[Path]):
    path = photos[1]  # an RGB PNG: every route decodes the same pixels
    pil = Image.open(path)
    uint8 = torch.from_numpy(np.asarray(pil.convert("RGB")).copy()).permute(2, 0, 1)
    ready = torch.from_numpy(lite0_classifier.preprocess(path))
    routes = {
        "str": lite0_classifier.predict(str(path)),
        "path": lite0_classifier.predict(path),
        "pil": lite0_classifier.predict(pil),
        "uint8 CHW": lite0_classifier.predict(uint8),
        "float CHW": lite0_classifier.predict(ready),
        "4-D batch": lite0_classifier.predict_batch(ready[None])[0],
    }
    reference = routes["path"]
    for route, result in routes.items():
        assert indices(result) == indices(reference), route
        np.testing.assert_allclose(probabilities(result), probabilities(reference), atol=1e-5)


def test_pil_images_in_any_mode(lite0_classifier: Classifier) -> None:
    rgba = Image.new("RGBA", (64, 48), (0, 0, 0, 0))  # fully transparent: white
    white = Image.new("RGB", (64, 48), (255, 255, 255))
    assert indices(lite0_classifier.predict(rgba)) == indices(lite0_classifier.predict(white))


def test_tensor_of_the_wrong_shape(lite0_classifier: Classifier) -> None:
    with pytest.raises(ConfigError, match="CHW"):
        lite0_classifier.predict(torch.zeros(1, 224, 224))


def test_a_1_by_1000_image_classifies(lite0_classifier: Classifier, tmp_path: Path) -> None:
    Image.new("RGB", (1, 1000), (120, 80, 40)).save(tmp_path / "strip.png")
    top = lite0_classifier.predict(tmp_path / "strip.png")
    assert len(top) == 5 and np.isfinite(probabilities(top)).all()


def test_bad_path_raises_image_load_error(lite0_classifier: Classifier, tmp_path: Path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        lite0_classifier.predict(tmp_path / "empty.jpg")


def test_classify_files_records_errors_and_continues_in_order(
    lite0_model: LoadedModel, photos: list[Path], tmp_path: Path
) -> None:
    for photo in photos[:3]:
        shutil.copy(photo, tmp_path / photo.name)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "page.jpg").write_text("<html><body>Not Found</body></html>")
    good = [tmp_path / p.name for p in photos[:3]]
    order = [good[0], tmp_path / "empty.jpg", good[1], tmp_path / "gone.png"]
    order += [tmp_path / "page.jpg", good[2]]
    # A batch of 2 puts failures at the start, the middle and the end of batches.
    classifier = Classifier(lite0_model, batch_size=2, backend=TorchBackend(lite0_model.module))
    seen: list[str] = []
    results = list(classifier.classify_files(order, 3, on_result=lambda r: seen.append(r.path)))
    assert [r.path for r in results] == [str(p) for p in order] == seen
    assert [r.ok for r in results] == [True, False, True, False, False, True]
    reasons = [r.error for r in results if not r.ok]
    assert "empty" in reasons[0] and "No such file" in reasons[1] and "HTML" in reasons[2]
    for result in results:
        assert len(result.predictions) == (3 if result.ok else 0)
    for path, result in zip(good, (results[0], results[2], results[5]), strict=True):
        expected = classifier.predict(path, top_k=3)
        assert indices(list(result.predictions)) == indices(expected)
        np.testing.assert_allclose(
            probabilities(list(result.predictions)), probabilities(expected), atol=1e-4
        )


def test_classify_files_when_every_file_fails(lite0_classifier: Classifier, tmp_path: Path):
    results = list(lite0_classifier.classify_files([tmp_path / "a.jpg", tmp_path / "b.jpg"]))
    assert [r.ok for r in results] == [False, False]


def test_score_files_gives_probabilities(lite0_classifier: Classifier, photos: list[Path]):
    scored = list(lite0_classifier.score_files(photos[:2]))
    assert [path for path, _ in scored] == photos[:2]
    for _, probs in scored:
        assert isinstance(probs, np.ndarray) and probs.shape == (1000,)
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_result_as_a_dict(lite0_classifier: Classifier, photos: list[Path]) -> None:
    [result] = lite0_classifier.classify_files([photos[2]], top_k=2)
    data = result.to_dict()
    assert set(data) == {"path", "predictions", "error"}
    assert data["error"] is None
    assert set(data["predictions"][0]) == {"rank", "index", "wnid", "label", "probability"}
    assert data["predictions"][0]["wnid"] == ESPRESSO


def test_batch_size_must_be_positive(lite0_model: LoadedModel) -> None:
    with pytest.raises(ConfigError, match="batch size"):
        Classifier(lite0_model, batch_size=0, backend=TorchBackend(lite0_model.module))


def test_preprocessed_arrays_are_accepted_as_model_ready(lite0_classifier, example_photo_paths):
    path = example_photo_paths["coffee"]
    ready = lite0_classifier.preprocess(path)
    assert ready.dtype == np.float32 and ready.shape == (3, 224, 224)
    from_array = lite0_classifier.predict(ready)
    from_path = lite0_classifier.predict(path)
    assert [p.index for p in from_array] == [p.index for p in from_path]

"""Training views: seeded, within the picture, normalised like prediction."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synsetlab.models.efficientnet_lite import preprocessing
from synsetlab.train.augment import (
    Augmentation,
    colour_jitter,
    normalise,
    random_box,
    train_view,
    view_rng,
)

PRE = preprocessing("efficientnet_lite0")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8), "RGB")


def test_views_are_seeded_by_seed_image_and_view(photo: Image.Image) -> None:
    a = train_view(photo, PRE, view_rng(1, 5, 2))
    b = train_view(photo, PRE, view_rng(1, 5, 2))
    assert a.shape == (3, 224, 224) and a.dtype == np.float32
    assert np.array_equal(a, b)
    for other in (view_rng(2, 5, 2), view_rng(1, 6, 2), view_rng(1, 5, 3)):
        assert not np.array_equal(a, train_view(photo, PRE, other))


def test_random_boxes_stay_inside_and_cover_the_asked_area() -> None:
    rng = np.random.default_rng(0)
    aug = Augmentation(scale=(0.25, 1.0))
    for _ in range(200):
        left, top, right, bottom = random_box((400, 300), rng, aug)
        assert 0 <= left < right <= 400 and 0 <= top < bottom <= 300
        area = (right - left) * (bottom - top) / (400 * 300)
        assert 0.25 - 1e-9 <= area <= 1.0 + 1e-9
        assert 3 / 4 - 1e-6 <= (right - left) / (bottom - top) <= 4 / 3 + 1e-6 or area > 0.74


def test_impossible_boxes_fall_back_to_the_centre_square() -> None:
    # A 1 x 1000 strip cannot hold a 3:4..4:3 box of a quarter of its area.
    box = random_box((1, 1000), np.random.default_rng(0), Augmentation())
    assert box == (0.0, 499.5, 1.0, 500.5)


def test_without_randomness_a_view_is_the_prediction_input(photo: Image.Image) -> None:
    # Normalising a plain centre crop gives exactly what Preprocessing feeds the model.
    pixels = np.asarray(PRE.crop_resize(photo), dtype=np.float32)
    assert np.allclose(normalise(pixels, PRE), PRE.to_array(photo), atol=1e-6)


def test_flip_mirrors_the_picture() -> None:
    left_half_white = np.zeros((50, 50, 3), dtype=np.uint8)
    left_half_white[:, :25] = 255
    image = Image.fromarray(left_half_white, "RGB")
    aug = Augmentation(scale=(1.0, 1.0), ratio=(1.0, 1.0), jitter=0.0)
    flips = set()
    for view in range(20):
        out = train_view(image, PRE, view_rng(0, 0, view), aug)
        flips.add(bool(out[0, 112, 10] < out[0, 112, 214]))  # bright side on the right?
    assert flips == {True, False}


def test_colour_jitter_stays_in_range_and_is_modest() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (32, 32, 3)).astype(np.float32)
    out = colour_jitter(pixels, rng, 0.2)
    assert out.min() >= 0 and out.max() <= 255
    assert 0 < np.abs(out - pixels).mean() < 0.3 * pixels.mean()
    assert np.array_equal(colour_jitter(pixels, np.random.default_rng(3), 0.0), pixels)

"""Preprocessing: resize the short side, crop the centre, normalise -- torchvision's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from synsetlab.errors import ConfigError
from synsetlab.models import Preprocessing

LITE0 = Preprocessing(256, 224, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def torchvision_reference(prep: Preprocessing, image: Image.Image) -> np.ndarray:
    mode = transforms.InterpolationMode(prep.interpolation)
    pipeline = transforms.Compose(
        [
            transforms.Resize(prep.resize_size, interpolation=mode),
            transforms.CenterCrop(prep.crop_size),
            transforms.ToTensor(),
            transforms.Normalize(prep.mean, prep.std),
        ]
    )
    return pipeline(image).numpy()


def smooth_picture(width: int, height: int) -> Image.Image:
    """A photo-like picture: smooth gradients plus a little noise."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(7)
    red = 255 * x / width
    green = 255 * y / height
    blue = 127 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    pixels = np.stack([red, green, blue], axis=-1) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_crop_box_by_hand() -> None:
    # 500 x 375 -> short side 256: 341 x 256; centre crop 224: left round(58.5) = 58, top 16.
    box = LITE0.crop_box((500, 375))
    sx, sy = 500 / 341, 375 / 256
    assert box == pytest.approx((58 * sx, 16 * sy, 282 * sx, 240 * sy))
    # Portrait: 375 x 500 -> 256 x 341; the crop moves down instead.
    assert LITE0.crop_box((375, 500)) == pytest.approx((16 * sy, 58 * sx, 240 * sy, 282 * sx))


@pytest.mark.parametrize("size", [(500, 375), (301, 173), (224, 224), (173, 640)])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_matches_torchvision_resize_and_centre_crop(
    size: tuple[int, int], interpolation: str
) -> None:
    prep = Preprocessing(256, 224, interpolation, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    picture = smooth_picture(*size)
    ours = prep.to_array(picture)
    reference = torchvision_reference(prep, picture)
    assert ours.shape == reference.shape == (3, 224, 224)
    assert ours.dtype == np.float32
    # Pillow rounds to 8 bits between its horizontal and vertical passes, and cropping the
    # box first changes which pass rounds what: a grey level or two, on a minority of values.
    one_level = 1 / 255 / min(prep.std) + 1e-5
    assert np.abs(ours - reference).max() <= 2 * one_level
    assert np.abs(ours - reference).mean() < 0.25 * one_level


def test_normalisation_values() -> None:
    grey = Image.new("RGB", (300, 300), (0, 128, 255))
    array = LITE0.to_array(grey)
    assert np.allclose(array[:, 100, 100], [-1.0, 128 / 127.5 - 1.0, 1.0], atol=1e-6)
    imagenet = Preprocessing(256, 224, "bilinear", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    expected = (np.array([0, 128, 255]) / 255 - imagenet.mean) / np.array(imagenet.std)
    assert np.allclose(imagenet.to_array(grey)[:, 5, 5], expected, atol=1e-5)


def test_call_gives_a_tensor() -> None:
    tensor = LITE0(Image.new("RGB", (256, 256)))
    assert tuple(tensor.shape) == (3, 224, 224)


def test_draft_size_keeps_the_resize_resolution() -> None:
    assert LITE0.draft_size((4000, 3000)) == (342, 256)
    assert min(LITE0.draft_size((3000, 4000))) == 256


def test_round_trip_through_a_dict() -> None:
    assert Preprocessing.from_dict(LITE0.to_dict()) == LITE0
    with pytest.raises(ConfigError, match="malformed"):
        Preprocessing.from_dict({"resize_size": 256})


def test_bad_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="interpolation"):
        Preprocessing(256, 224, "cubic", (0.5,) * 3, (0.5,) * 3)
    with pytest.raises(ConfigError, match="crop_size"):
        Preprocessing(224, 256, "bicubic", (0.5,) * 3, (0.5,) * 3)


def test_str_names_every_number() -> None:
    assert str(LITE0) == (
        "resize 256 bicubic, centre crop 224, mean (0.500, 0.500, 0.500), std (0.500, 0.500, 0.500)"
    )


def test_in_place_normalisation_equals_the_plain_formula() -> None:
    prep = Preprocessing(40, 32, "bilinear", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    pixels = np.random.default_rng(3).integers(0, 256, (50, 45, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    cropped = np.asarray(prep.crop_resize(image), dtype=np.float32)
    mean = np.asarray(prep.mean, dtype=np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(prep.std, dtype=np.float32) * 255.0)
    expected = ((cropped - mean) * inv_std).transpose(2, 0, 1)
    got = prep.to_array(image)
    assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == (3, 32, 32)
    np.testing.assert_array_equal(got, expected)

"""ClassList: index -> WordNet id -> names and gloss."""

from __future__ import annotations

import pytest

from synsetlab.errors import ConfigError
from synsetlab.models import ClassList, imagenet_classes
from synsetlab.models.classes import is_wnid


def test_imagenet_classes_in_the_standard_order() -> None:
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert classes.wnids[0] == "n01440764"
    assert classes.labels[0] == "tench, Tinca tinca"
    assert classes.wnids[281] == "n02123045"
    assert classes.labels[281] == "tabby, tabby cat"
    assert "cat" in classes.glosses[281]
    assert classes.wnids[999] == "n15075141"
    assert list(classes.wnids) == sorted(classes.wnids)  # index order = sorted WordNet ids
    assert len(set(classes.wnids)) == 1000
    assert all(is_wnid(w) for w in classes.wnids if w is not None)
    assert all(classes.glosses) and ": " not in classes.glosses[281]


def test_index_of_by_wnid_and_by_label() -> None:
    classes = imagenet_classes()
    assert classes.index_of("n02123045") == 281
    assert classes.index_of("tabby, tabby cat") == 281
    with pytest.raises(KeyError):
        classes.index_of("n99999999")


def test_from_names_keeps_wordnet_ids() -> None:
    classes = ClassList.from_names(["ants", "n02206856"])
    assert classes.wnids == (None, "n02206856")
    assert classes.index_of("ants") == 0
    assert classes.index_of("n02206856") == 1


def test_round_trip_through_a_dict() -> None:
    classes = ClassList(labels=("a", "b"), wnids=("n00000001", None), glosses=("x", "y"))
    assert ClassList.from_dict(classes.to_dict()) == classes
    with pytest.raises(ConfigError, match="malformed"):
        ClassList.from_dict({"labels": ["a"]})


def test_lengths_must_agree() -> None:
    with pytest.raises(ConfigError, match="2 class labels but 1 WordNet ids"):
        ClassList(labels=("a", "b"), wnids=(None,))
    with pytest.raises(ConfigError, match="glosses"):
        ClassList(labels=("a",), wnids=(None,), glosses=("x", "y"))


@pytest.mark.parametrize(
    ("text", "expected"), [("n02123045", True), ("n0212304", False), ("02123045", False)]
)
def test_is_wnid(text: str, expected: bool) -> None:
    assert is_wnid(text) is expected


def test_imagenet_classes_match_timm_without_importing_it() -> None:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    classes = imagenet_classes()
    assert classes.wnids == tuple(info.label_names())
    assert classes.labels == tuple(info.index_to_description(i) for i in range(1000))
    detailed = (info.index_to_description(i, detailed=True) for i in range(1000))
    assert classes.glosses == tuple(d.split(": ", 1)[1] for d in detailed)
